"""The patient chart gathers every app's section and timeline in a fixed number of queries,
however long the record: a long course of treatment must not make the chart slow."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from kapclinic.measures import actions as measures
from kapclinic.patients import actions
from tests.conftest import login

ITEM9 = {str(n): (2 if n == 9 else 1) for n in range(1, 10)}  # a suicidality answer: an alert


def chart_queries(client, patient) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"/patients/{patient.pk}/").status_code == 200
    return len(captured)


def test_the_charts_query_count_does_not_grow_with_the_record(prescriber, patient):
    client = login(prescriber)
    measures.record_response(patient=patient, instrument="phq9", source="clinic", by=prescriber,
                             answers={str(n): 1 for n in range(1, 10)})
    client.get(f"/patients/{patient.pk}/")  # the first view fills caches (settings, session)
    short = chart_queries(client, patient)

    for _ in range(12):
        measures.record_response(patient=patient, instrument="phq9", source="clinic",
                                 by=prescriber, answers=ITEM9)
        measures.record_response(patient=patient, instrument="gad7", source="clinic",
                                 by=prescriber, answers={str(n): 2 for n in range(1, 8)})
    for code in ("F33.2", "F43.10", "F41.1"):
        actions.add_condition(patient=patient, code=code, by=prescriber)
    actions.change_status(patient=patient, status="discharged", by=prescriber)
    long = chart_queries(client, patient)

    assert long == short, f"{short} queries for a short record, {long} for a long one"
