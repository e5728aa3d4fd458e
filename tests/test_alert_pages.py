"""The alerts pages belong to the alerts app: an alert from any source shows there, with what
its source registered beneath it, and the page costs the same queries for 2 alerts or 20."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from kapclinic.alerts import actions as alerts
from kapclinic.alerts import sources
from kapclinic.alerts.models import Alert
from kapclinic.measures import actions as measures
from tests.conftest import login, new_patient

ITEM9 = {str(n): (1 if n == 9 else 0) for n in range(1, 10)}  # thoughts of self-harm: urgent


def sedation_alert(patient, record_id=1):
    """An alert from a source nobody registered a detail for (a bedside monitor feed)."""
    return alerts.raise_alert(
        clinic_id=patient.clinic_id, patient=patient, source="bedside_monitor",
        kind="deep_sedation", label="Sedation score 4 (unresponsive to voice)",
        record_type="bedside_monitor.reading", record_id=record_id,
        recommended_action="Stay with the patient and check the airway.", by=None)


def test_an_alert_from_a_source_with_no_registered_detail_shows_its_label_action_and_patient(
        nurse, patient):
    assert sources.registered("bedside_monitor") is None
    alert = sedation_alert(patient)

    page = login(nurse).get("/alerts/")

    html = page.content.decode()
    assert "Sedation score 4 (unresponsive to voice)" in html
    assert "Stay with the patient and check the airway." in html
    assert f'href="/patients/{patient.pk}/"' in html  # the patient's chart
    assert "Lovelace, Ada" in html and "No phone number on file" in html
    assert "raised the alert" not in html  # no questionnaire detail borrowed from measures
    assert f"/alerts/{alert.pk}/acknowledge/" in html


def test_a_clinician_acknowledges_an_alert_from_a_source_with_no_registered_detail(
        nurse, patient):
    alert = sedation_alert(patient)
    client = login(nurse)

    done = client.post(f"/alerts/{alert.pk}/acknowledge/",
                       {"note": "Airway clear; responds to voice again."}, follow=True)

    assert "Alert acknowledged." in done.content.decode()
    assert "No open alerts." in done.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse
    assert alert.acknowledgement_note == "Airway clear; responds to voice again."


def test_an_alert_a_questionnaire_raised_shows_the_answers_behind_it_and_links_to_the_measures(
        nurse, prescriber, patient):
    measures.record_response(patient=patient, instrument="phq9", source="clinic",
                             by=prescriber, answers=ITEM9)

    html = login(nurse).get("/alerts/").content.decode()

    assert "PHQ-9 taken" in html and "raised the alert" in html
    assert f'href="/patients/{patient.pk}/measures/"' in html


def alert_page_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/alerts/").status_code == 200
    return len(captured)


def raise_mixed(clinic, prescriber, count: int, start: int) -> None:
    """``count`` open alerts, half from questionnaires and half from a monitor, each about
    its own patient."""
    for n in range(start, start + count):
        patient = new_patient(clinic, prescriber, mrn=f"A-{n:04d}", prescriber=prescriber)
        if n % 2:
            measures.record_response(patient=patient, instrument="phq9", source="clinic",
                                     by=prescriber, answers=ITEM9)
        else:
            sedation_alert(patient, record_id=n)


def test_the_alerts_page_costs_the_same_queries_for_2_or_20_alerts_from_mixed_sources(
        clinic_a, nurse, prescriber):
    client = login(nurse)
    raise_mixed(clinic_a, prescriber, 2, start=1)
    client.get("/alerts/")  # the first view fills caches (settings, session)
    few = alert_page_queries(client)

    raise_mixed(clinic_a, prescriber, 18, start=3)
    assert Alert.objects.open().count() == 20
    many = alert_page_queries(client)

    assert many == few, f"{few} queries for 2 alerts, {many} for 20"
