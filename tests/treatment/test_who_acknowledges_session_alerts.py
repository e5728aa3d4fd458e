"""A dosing session's alerts hold its discharge: only who records vitals and runs the session
(prescriber, nurse) acknowledges them, from the session page or the alerts page; a therapist
is refused (audited) and offered no note box. A questionnaire's alerts keep their rule."""

from __future__ import annotations

import pytest

from kapclinic.alerts.models import Alert
from kapclinic.audit.models import AuditEntry
from kapclinic.measures import actions as measures
from kapclinic.treatment import actions
from tests.conftest import login
from tests.treatment.helpers import cleared, eligible_and_consented, minutes_ago, step

pytestmark = pytest.mark.django_db

ITEM9 = {str(n): (1 if n == 9 else 0) for n in range(1, 10)}  # thoughts of self-harm: urgent


def urgent_session_alert(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=30)
    step(s, "dosing", minutes_ago(20), nurse, late_reason="entered after",
         administration={"dose_mg_per_kg": 0.5})
    actions.record_vitals(s, observed_at=minutes_ago(1), values={"spo2_pct": 86}, by=nurse)
    return s, Alert.objects.get(source="treatment", priority=Alert.Priority.URGENT)


def refusals() -> int:
    return AuditEntry.objects.filter(action="denied", object_type="permission",
                                     object_id="session.run").count()


def test_a_therapist_cannot_acknowledge_a_sessions_alert_from_the_session_page(
        patient, prescriber, nurse, therapist):
    s, alert = urgent_session_alert(patient, prescriber, nurse)
    client = login(therapist)
    assert f"/sessions/{s.pk}/alerts/{alert.pk}/acknowledge/" not in client.get(
        f"/sessions/{s.pk}/").content.decode()

    page = client.post(f"/sessions/{s.pk}/alerts/{alert.pk}/acknowledge/", {"note": "seen"})

    assert page.status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    assert refusals() == 1


def test_a_therapist_cannot_acknowledge_a_sessions_alert_from_the_alerts_page(
        patient, prescriber, nurse, therapist):
    _, alert = urgent_session_alert(patient, prescriber, nurse)
    client = login(therapist)
    listed = client.get("/alerts/").content.decode()
    assert alert.label in listed and f"/alerts/{alert.pk}/acknowledge/" not in listed
    assert "Your role does not acknowledge dosing session alerts." in listed

    page = client.post(f"/alerts/{alert.pk}/acknowledge/", {"note": "seen"})

    assert page.status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    assert refusals() == 1


def test_a_nurse_still_acknowledges_a_sessions_alert_from_the_alerts_page(
        patient, prescriber, nurse):
    _, alert = urgent_session_alert(patient, prescriber, nurse)
    done = login(nurse).post(f"/alerts/{alert.pk}/acknowledge/",
                             {"note": "Oxygen given; SpO2 back to 95"}, follow=True)
    assert "Alert acknowledged." in done.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse


def test_a_therapist_still_acknowledges_a_questionnaires_alert(patient, therapist, nurse):
    measures.record_response(patient=patient, instrument="phq9", source="clinic",
                             answers=ITEM9, by=nurse)
    alert = Alert.objects.get(source="measures")
    client = login(therapist)
    assert f"/alerts/{alert.pk}/acknowledge/" in client.get("/alerts/").content.decode()
    done = client.post(f"/alerts/{alert.pk}/acknowledge/", {"note": "Called; safety plan"},
                       follow=True)
    assert "Alert acknowledged." in done.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_by == therapist
