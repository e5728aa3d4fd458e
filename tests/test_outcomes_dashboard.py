"""Outcome snapshots and the clinic dashboard (issue 3): SQL aggregation, constant queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.measures import actions
from kapclinic.measures.models import OutcomeSnapshot
from kapclinic.patients.actions import add_condition
from tests.conftest import login, new_patient
from tests.factories import WEEK as WEEK  # test_outcome_rules and test_measures_api read these two here
from tests.factories import responses as record_series  # weekly totals, ending about now


@pytest.fixture
def treated(clinic_a, prescriber):
    patient = new_patient(clinic_a, prescriber, mrn="A-T1", family_name="Treated")
    add_condition(patient=patient, code="F33.2", by=prescriber)
    return patient


def test_each_response_refreshes_the_patients_outcome_snapshot(prescriber, treated):
    record_series(treated, "phq9", [20, 18, 9, 6, 4], prescriber)
    snapshot = OutcomeSnapshot.objects.get(patient=treated, instrument="phq9")
    # PHQ-9 response is a >=50% reduction, remission < 5 (clinical.md 2, via the definition).
    assert (snapshot.baseline_total, snapshot.latest_total) == (20, 4)
    assert snapshot.ever_responded and snapshot.remission_now
    assert snapshot.time_to_response_days == pytest.approx(14)
    assert snapshot.condition_group == "Major depressive disorder, recurrent"
    assert snapshot.summary["rules"]["response"] == "phq9@2:response"


def test_a_madrs_relapse_by_sustain1_feeds_the_relapse_curve(prescriber, nurse, treated):
    # Response at week 2 (30 -> 12), then >=22 on two assessments a week apart: relapse.
    record_series(treated, "madrs", [30, 28, 12, 10, 24, 25], prescriber)
    snapshot = OutcomeSnapshot.objects.get(instrument="madrs")
    assert snapshot.relapsed and snapshot.durability_days == pytest.approx(14)
    page = login(nurse).get("/dashboard/", {"instrument": "madrs"})
    curve = page.context["curve"]
    assert list(curve.times) == [14.0] and list(curve.survival) == [0.0]
    assert b"km-line" in page.content


def test_relief_fading_lists_the_booster_candidate(prescriber, nurse, treated):
    record_series(treated, "phq9", [20, 8, 6, 15, 17], prescriber)
    page = login(nurse).get("/dashboard/")
    assert [s.patient_id for s in page.context["fading"]] == [treated.pk]


def test_rates_by_condition_count_responders_with_an_interval(clinic_a, prescriber, nurse):
    for n, totals in enumerate(([20, 8], [20, 18], [18, 4])):
        patient = new_patient(clinic_a, prescriber, mrn=f"A-R{n}")
        add_condition(patient=patient, code="F32.2", by=prescriber)  # the longest group name
        record_series(patient, "phq9", totals, prescriber)
    (row,) = login(nurse).get("/dashboard/").context["rates"]
    assert row["condition_group"] == "Major depressive disorder, single episode"
    assert (row["n"], row["responders"], row["remitters"]) == (3, 2, 1)
    assert row["response"].ci_lower < 2 / 3 < row["response"].ci_upper


def dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/dashboard/").status_code == 200
    return len(queries)


def test_the_dashboard_runs_the_same_number_of_queries_for_6_or_30_patients(
        clinic_a, prescriber, nurse, monkeypatch):
    # Lists on the page stop at LIST_LIMIT rows; both clinics here are past that limit.
    monkeypatch.setattr("kapclinic.measures.dashboard.LIST_LIMIT", 5)
    client = login(nurse)

    def add_patients(count, start):
        for n in range(start, start + count):
            patient = new_patient(clinic_a, prescriber, mrn=f"A-Q{n}")
            add_condition(patient=patient, code="F33.1" if n % 2 else "F41.1", by=prescriber)
            record_series(patient, "phq9", [20, 9, 8, 16], prescriber)
            actions.start_default_schedule(patient=patient, by=prescriber,
                                           first_due=timezone.now() - timedelta(days=3))

    add_patients(6, 0)
    small = dashboard_queries(client)
    add_patients(24, 6)
    assert dashboard_queries(client) == small


def test_the_chart_page_runs_the_same_number_of_queries_for_few_or_many_responses(
        prescriber, nurse, treated):
    client = login(nurse)
    record_series(treated, "phq9", [20, 10], prescriber)
    with CaptureQueriesContext(connection) as few:
        client.get(f"/patients/{treated.pk}/")
    record_series(treated, "phq9", [15] * 20, prescriber)
    with CaptureQueriesContext(connection) as many:
        client.get(f"/patients/{treated.pk}/")
    assert len(many) == len(few)


def test_a_patient_with_only_a_baseline_is_measured_but_not_counted_in_the_rates(
        prescriber, nurse, clinic_a, treated):
    record_series(treated, "phq9", [20, 8], prescriber)  # a responder
    newcomer = new_patient(clinic_a, prescriber, mrn="A-T2", family_name="Newcomer")
    add_condition(patient=newcomer, code="F33.2", by=prescriber)
    record_series(newcomer, "phq9", [22], prescriber)  # nothing to compare yet
    page = login(nurse).get("/dashboard/")
    row = page.context["rates"][0]
    assert (row["n"], row["assessed"], row["responders"]) == (2, 1, 1)
    assert row["response"].rate == 1.0
    # in percent, as a clinician reads a rate (it read "1.00 (1/1 assessed; 95% CI 0.21–1.00)")
    ci = row["response"]
    assert (f"100% <span class=\"muted small\">(1 of 1 assessed; 95% CI {round(ci.ci_lower * 100)}% "
            f"to 100%)") in page.content.decode()


def test_relapse_after_remission_puts_remitters_on_the_curve(clinic_admin, prescriber, nurse,
                                                             treated):
    # MADRS 14 -> 10: remission (<= 10) without a response (29% lower), then SUSTAIN-1 relapse
    record_series(treated, "madrs", [14, 10, 24, 25], prescriber)
    login(clinic_admin).post("/clinic/outcomes/", {
        "relapse_after": "remission", "relapse_date": "first_of_run", "fading_fraction": "0.5",
        "madrs_remission_max": "10"})
    snapshot = OutcomeSnapshot.objects.get(instrument="madrs")
    assert snapshot.relapsed and snapshot.summary["durability_from"] == "remission"
    assert not snapshot.ever_responded
    curve = login(nurse).get("/dashboard/", {"instrument": "madrs"}).context["curve"]
    assert curve is not None and list(curve.survival) == [0.0]


@pytest.mark.parametrize(("fraction", "words"), [
    (0.5, "50%"), (0.125, "13%"), (0.375, "38%"), (0.0, "0%"), (1.0, "100%"),
    (1 / 250, "<1%"), (199 / 200, ">99%"), (None, ""),
])
def test_a_rate_reads_as_a_percentage_that_never_rounds_to_none_or_all(fraction, words):
    from kapclinic.measures.templatetags.questionnaire import percent

    assert percent(fraction) == words
