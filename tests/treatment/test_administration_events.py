"""After the dose started: an infusion paused (answering the alert that said so), resumed and
stopped with its times and reasons; esketamine's devices each with its time."""

from __future__ import annotations

import json

import pytest

from kapclinic.alerts.models import Alert
from kapclinic.audit.models import AuditEntry
from kapclinic.treatment import actions
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import Administration, AdministrationEvent
from tests.conftest import login
from tests.treatment.helpers import (
    ESKETAMINE,
    LATE,
    cleared,
    eligible_and_consented,
    minutes_ago,
    step,
)

pytestmark = pytest.mark.django_db


def post(client, url, body):
    return client.post(url, data=json.dumps(body, default=str), content_type="application/json")


@pytest.fixture
def infusing(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=25)
    return step(s, "dosing", minutes_ago(20), nurse, late_reason=LATE,
                administration={"dose_mg_per_kg": 0.5})


@pytest.fixture
def spraying(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber, drug="esketamine", route="intranasal")
    s = cleared(patient, prescriber, nurse, ESKETAMINE, start=25)
    return step(s, "dosing", minutes_ago(20), nurse, late_reason=LATE, administration={"dose_mg": 56})


def test_an_infusion_is_paused_resumed_and_stopped_with_its_times_and_reasons(infusing, nurse):
    actions.record_administration_event(infusing, kind="pause", at=minutes_ago(15), by=nurse,
                                        reason="Patient asked for a break", late_reason=LATE)
    actions.record_administration_event(infusing, kind="resume", at=minutes_ago(10), by=nurse)
    actions.record_administration_event(infusing, kind="stop", at=minutes_ago(2), by=nurse,
                                        reason="Nausea")
    kinds = list(AdministrationEvent.objects.filter(session=infusing).values_list("kind", "reason"))
    assert kinds == [("pause", "Patient asked for a break"), ("resume", ""), ("stop", "Nausea")]
    given = Administration.objects.get(session=infusing)
    assert abs((given.ended_at - minutes_ago(2)).total_seconds()) < 5
    assert AuditEntry.objects.filter(object_type="administration_event").count() == 3


def test_the_session_read_says_how_long_the_infusion_ran_and_was_paused(infusing, nurse):
    actions.record_administration_event(infusing, kind="pause", at=minutes_ago(15), by=nurse,
                                        reason="Blood pressure up", late_reason=LATE)
    body = login(nurse).get(f"/api/v1/sessions/{infusing.pk}").json()
    assert body["dose_course"]["state"] == "paused"
    assert body["dose_course"]["minutes_running"] == pytest.approx(5, abs=0.2)
    assert body["dose_course"]["minutes_paused"] == pytest.approx(15, abs=0.2)
    assert [e["kind"] for e in body["administration_events"]] == ["pause"]


def test_a_pause_without_a_reason_is_refused_naming_the_reason(infusing, nurse):
    with pytest.raises(FieldError) as exc:
        actions.record_administration_event(infusing, kind="pause", at=minutes_ago(1), by=nurse)
    assert exc.value.field == "reason"
    assert not AdministrationEvent.objects.exists()


def test_a_running_infusion_cannot_be_resumed_nor_a_stopped_one_paused(infusing, nurse):
    with pytest.raises(FieldError, match="the infusion is running: it cannot be resumed"):
        actions.record_administration_event(infusing, kind="resume", at=minutes_ago(1), by=nurse)
    actions.record_administration_event(infusing, kind="stop", at=minutes_ago(1), by=nurse,
                                        reason="Done early")
    with pytest.raises(FieldError, match="the infusion is stopped: it cannot be paused"):
        actions.record_administration_event(infusing, kind="pause", at=minutes_ago(0), by=nurse,
                                            reason="x")


def test_the_same_pause_sent_twice_is_stored_once(infusing, nurse):
    at = minutes_ago(3)
    first = actions.record_administration_event(infusing, kind="pause", at=at, by=nurse, reason="Break")
    again = actions.record_administration_event(infusing, kind="pause", at=at, by=nurse, reason="Break")
    assert (first.created, again.created, again.event.pk) == (True, False, first.event.pk)
    assert AdministrationEvent.objects.count() == 1


def test_an_alert_saying_pause_the_infusion_is_answered_by_pausing_it(infusing, nurse):
    client = login(nurse)
    reading = post(client, f"/api/v1/sessions/{infusing.pk}/vitals",
                   {"observed_at": minutes_ago(1).isoformat(), "sbp_mmhg": 186, "dbp_mmhg": 100})
    alert = next(a for a in reading.json()["alerts"] if a["kind"] == "bp_hypertensive_range")
    assert "pause_infusion" in alert["actions"]
    pause = alert["pause"]
    response = post(client, pause["url"], {**pause["body"], "reason": "BP 186/100"})
    assert response.status_code == 201, response.content
    assert response.json()["dose_course"]["state"] == "paused"
    answered = Alert.objects.get(pk=alert["id"])
    assert answered.acknowledged_by == nurse
    assert answered.acknowledgement_note == "Infusion paused: BP 186/100"
    assert AdministrationEvent.objects.get().alert_id == alert["id"]


def test_a_pause_naming_an_alert_not_of_this_session_is_refused(infusing, nurse):
    response = post(login(nurse), f"/api/v1/sessions/{infusing.pk}/administration/events",
                    {"kind": "pause", "reason": "x", "alert_id": 424242})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "alert_id"
    assert not AdministrationEvent.objects.exists()


def test_esketamine_devices_are_recorded_in_order_each_with_its_time(spraying, nurse):
    client = login(nurse)
    url = f"/api/v1/sessions/{spraying.pk}/administration/events"
    first = post(client, url, {"kind": "device", "at": minutes_ago(19).isoformat(), "late_reason": LATE})
    assert first.status_code == 201, first.content
    assert first.json()["event"]["device_mg"] == 28
    second = post(client, url, {"kind": "device", "at": minutes_ago(16).isoformat(), "late_reason": LATE})
    assert second.status_code == 201
    assert second.json()["warnings"] == ["Device 2 came 3 minutes after device 1; the label asks "
                                         "for a 5-minute rest between devices."]
    course = second.json()["dose_course"]
    assert (course["devices_given"], course["devices_expected"]) == (2, 2)
    third = post(client, url, {"kind": "device", "at": minutes_ago(5).isoformat()})
    assert third.status_code == 422
    assert "56 mg is 2 devices of 28 mg: device 3 is one too many" in third.json()["errors"][0]["message"]


def test_the_same_device_sent_twice_is_stored_once_and_a_different_time_refused(spraying, nurse):
    at = minutes_ago(4)
    actions.record_administration_event(spraying, kind="device", at=at, by=nurse)
    again = actions.record_administration_event(spraying, kind="device", device_number=1, at=at, by=nurse)
    assert again.created is False
    with pytest.raises(FieldError) as exc:
        actions.record_administration_event(spraying, kind="device", device_number=1,
                                            at=minutes_ago(2), by=nurse)
    assert exc.value.field == "device_number"


def test_a_nasal_spray_is_not_paused(spraying, nurse):
    with pytest.raises(FieldError, match="only an infusion is paused"):
        actions.record_administration_event(spraying, kind="pause", at=minutes_ago(1), by=nurse,
                                            reason="x")


def test_an_infusion_has_no_devices(infusing, nurse):
    with pytest.raises(FieldError, match="devices are recorded for a nasal spray"):
        actions.record_administration_event(infusing, kind="device", at=minutes_ago(1), by=nurse)


def test_the_room_board_shows_a_paused_infusion(infusing, nurse):
    actions.record_administration_event(infusing, kind="pause", at=minutes_ago(1), by=nurse,
                                        reason="Break")
    rows = login(nurse).get("/api/v1/room-board").json()["sessions"]
    assert rows[0]["dose_course"]["state"] == "paused"


def test_another_clinics_nurse_cannot_pause_this_infusion(infusing, other_clinician):
    response = post(login(other_clinician), f"/api/v1/sessions/{infusing.pk}/administration/events",
                    {"kind": "pause", "reason": "x"})
    assert response.status_code == 404
    assert not AdministrationEvent.objects.exists()
