"""The sessions API: what an integration sends and gets back, refusals as problem details."""

from __future__ import annotations

import json

import pytest

from kapclinic.treatment.models import Session, VitalReading
from tests.conftest import login
from tests.treatment.helpers import CALM, cleared, eligible_and_consented, minutes_ago, session

pytestmark = pytest.mark.django_db


def post(client, url, body, **headers):
    return client.post(url, data=json.dumps(body, default=str), content_type="application/json",
                       **headers)


def test_the_protocols_are_listed_with_their_range_and_cap(nurse):
    found = {p["id"]: p for p in login(nurse).get("/api/v1/protocols").json()}
    assert found["iv_racemic_ketamine"]["cap"] == 1.0
    assert found["intranasal_esketamine"]["route"] == "intranasal"


def test_a_coordinator_schedules_a_session(patient, coordinator):
    response = post(login(coordinator), f"/api/v1/patients/{patient.pk}/sessions",
                    {"protocol": "iv_racemic_ketamine", "scheduled_at": "2030-01-02T09:00:00-05:00"})
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "scheduled"
    assert Session.objects.get().created_by == coordinator


def test_an_unknown_protocol_is_a_422_naming_the_field(patient, coordinator):
    response = post(login(coordinator), f"/api/v1/patients/{patient.pk}/sessions",
                    {"protocol": "nope", "scheduled_at": "2030-01-02T09:00:00-05:00"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "protocol"


def test_an_illegal_step_is_a_409_naming_every_unmet_guard(patient, prescriber, nurse):
    s = session(patient, prescriber, started_minutes_ago=10)
    client = login(nurse)
    assert post(client, f"/api/v1/sessions/{s.pk}/transitions",
                {"to": "checked_in", "at": minutes_ago(5).isoformat(), "version": 1}).status_code == 200
    response = post(client, f"/api/v1/sessions/{s.pk}/transitions",
                    {"to": "cleared", "at": minutes_ago(1).isoformat(), "version": 2})
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    guards = {e["guard"] for e in response.json()["errors"]}
    assert {"dose_clearance", "fasting", "weight_today", "intention_note"} <= guards


def test_a_stale_version_is_a_409_and_nothing_is_applied(patient, prescriber, nurse):
    s = session(patient, prescriber, started_minutes_ago=10)
    client = login(nurse)
    body = {"to": "checked_in", "at": minutes_ago(5).isoformat(), "version": 1}
    assert post(client, f"/api/v1/sessions/{s.pk}/transitions", body).status_code == 200
    again = post(client, f"/api/v1/sessions/{s.pk}/transitions", {**body, "to": "cancelled",
                                                                   "reason": "x"})
    assert again.status_code == 409
    assert Session.objects.get(pk=s.pk).state == "checked_in"


def test_vitals_come_back_with_the_alerts_they_raised(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=20)
    client = login(nurse)
    post(client, f"/api/v1/sessions/{s.pk}/transitions",
         {"to": "dosing", "at": minutes_ago(10).isoformat(), "version": s.version,
          "administration": {"dose_mg_per_kg": 0.5, "lot": "L1"}})
    body = {"observed_at": minutes_ago(1).isoformat(), "spo2_pct": 89, "heart_rate_bpm": 80}
    response = post(client, f"/api/v1/sessions/{s.pk}/vitals", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201, response.content
    [alert] = response.json()["alerts"]
    assert alert["kind"] == "spo2_low" and "stop dosing" in alert["recommended_action"].lower()
    detail = client.get(f"/api/v1/sessions/{s.pk}").json()
    assert detail["state"] == "dosing" and [a["kind"] for a in detail["alerts"]] == ["spo2_low"]
    listed = client.get(f"/api/v1/patients/{patient.pk}/vitals").json()
    assert listed["count"] == VitalReading.objects.filter(patient=patient).count() == 2


@pytest.mark.parametrize(("field", "value"), [("sbp_mmhg", 400), ("spo2_pct", 120), ("heart_rate_bpm", 0)])
def test_a_keying_error_is_a_422_naming_the_field(patient, prescriber, nurse, field, value):
    s = session(patient, prescriber, started_minutes_ago=10)
    response = post(login(nurse), f"/api/v1/sessions/{s.pk}/vitals",
                    {"observed_at": minutes_ago(1).isoformat(), **CALM, field: value})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_a_therapist_writes_the_note_of_intention_but_no_other_item(patient, prescriber, therapist):
    s = session(patient, prescriber, started_minutes_ago=10)
    client = login(therapist)
    ok = post(client, f"/api/v1/sessions/{s.pk}/checklist",
              {"item": "intention_note", "answer": "recorded", "note": "To rest",
               "at": minutes_ago(1).isoformat()})
    assert ok.status_code == 201, ok.content
    refused = post(client, f"/api/v1/sessions/{s.pk}/checklist",
                   {"item": "fasting", "answer": "yes", "at": minutes_ago(1).isoformat()})
    assert refused.status_code == 422
    assert post(client, f"/api/v1/sessions/{s.pk}/vitals",
                {"observed_at": minutes_ago(1).isoformat(), **CALM}).status_code == 403


def test_the_room_board_lists_sessions_in_progress_with_open_alerts(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=40)
    client = login(nurse)
    post(client, f"/api/v1/sessions/{s.pk}/transitions",
         {"to": "dosing", "at": minutes_ago(30).isoformat(), "version": s.version,
          "administration": {"dose_mg_per_kg": 0.5}})
    post(client, f"/api/v1/sessions/{s.pk}/vitals",
         {"observed_at": minutes_ago(29).isoformat(), "sbp_mmhg": 185, "dbp_mmhg": 100})
    [row] = client.get("/api/v1/room-board").json()["sessions"]
    assert (row["state"], row["room"], row["minutes_since_dose"]) == ("dosing", "Room 1", 30)
    assert [a["label"][:20] for a in row["open_alerts"]]
    assert row["overdue"]  # the 10-minute readings and the 40-minute mark are not all in


def test_another_clinics_session_is_a_404(patient_b, other_clinician, nurse):
    s = session(patient_b, other_clinician, started_minutes_ago=10)
    assert login(nurse).get(f"/api/v1/sessions/{s.pk}").status_code == 404


def test_a_second_clinician_of_another_clinic_is_not_found(patient, prescriber, nurse, other_clinician):
    """The dose form names only users of the session's clinic: whether a username exists
    elsewhere is not told (the same answer as for nobody at all)."""
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=30)
    body = {"at": minutes_ago(1), "dose_mg_per_kg": 1.2, "override_reason": "Partial response",
            "second_password": "x"}
    client = login(nurse)
    elsewhere = post(client, f"/api/v1/sessions/{s.pk}/administration",
                     {**body, "second_clinician": other_clinician.username})
    nobody = post(client, f"/api/v1/sessions/{s.pk}/administration", {**body, "second_clinician": "ghost"})
    assert elsewhere.status_code == nobody.status_code == 422
    assert "no user 'bob' in this clinic" in elsewhere.content.decode()
    assert "no user 'ghost' in this clinic" in nobody.content.decode()
