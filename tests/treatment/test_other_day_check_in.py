"""Checking a patient in on a day other than the booked one (a day early, or yesterday's
session left open) is never a slip: the session page warns and the step needs the reason."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

import pytest

from kapclinic.clinical.sessions import check_transition
from kapclinic.clinical.sessions.transitions import SessionFacts
from kapclinic.platform.idempotency import FORM_FIELD
from kapclinic.treatment import actions
from kapclinic.treatment.errors import StepRefused
from tests.conftest import login
from tests.treatment.helpers import IV, minutes_ago, step
from tests.treatment.test_course_pages import text

pytestmark = pytest.mark.django_db


def facts(**recorded) -> SessionFacts:
    base = dict(drug="ketamine", route="iv-infusion", weight_based=True, checklist=(),
                min_observation_minutes=120, effects_to_resolve=(), discharge_criteria="modified_aldrete",
                discharge_score_at_least=9, clinician_judgement_required=True)
    return SessionFacts(**base, **recorded)


def test_the_core_refuses_checking_in_on_another_day_without_a_reason_and_names_the_guard():
    early = facts(booked_on="2026-12-08", step_on="2026-12-07")
    (unmet,) = check_transition("scheduled", "checked_in", early)
    assert unmet.guard == "booked_for_this_day"
    assert "booked for Tue 8 Dec 2026, not Mon 7 Dec 2026" in unmet.message
    assert check_transition("scheduled", "checked_in",
                            facts(booked_on="2026-12-08", step_on="2026-12-07", reason="Came early")) == []
    same_day = facts(booked_on="2026-12-08", step_on="2026-12-08")
    assert check_transition("scheduled", "checked_in", same_day) == []


def test_a_late_evening_visit_checked_in_after_midnight_is_still_its_own_day():
    late = facts(booked_on="2026-12-07", step_on="2026-12-08", within_booked_visit=True)
    assert check_transition("scheduled", "checked_in", late) == []


@pytest.fixture
def tomorrows(patient, prescriber):
    return actions.schedule_session(patient=patient, protocol=IV, scheduled_at=minutes_ago(-60 * 24),
                                    room="Room 1", chair="A", by=prescriber)


def test_checking_in_a_session_booked_for_tomorrow_is_refused_until_the_reason_is_given(tomorrows, nurse):
    with pytest.raises(StepRefused) as exc:
        step(tomorrows, "checked_in", minutes_ago(0), nurse)
    assert [u.guard for u in exc.value.unmet] == ["booked_for_this_day"]
    done = step(tomorrows, "checked_in", minutes_ago(0), nurse, reason="Came a day early; prescriber agreed")
    assert done.state == "checked_in"
    assert done.events.get(to_state="checked_in").reason == "Came a day early; prescriber agreed"


def test_yesterdays_session_left_open_is_not_checked_in_today_by_a_slip(patient, prescriber, nurse):
    yesterday = actions.schedule_session(patient=patient, protocol=IV, scheduled_at=minutes_ago(60 * 26),
                                         by=prescriber)
    with pytest.raises(StepRefused) as exc:
        step(yesterday, "checked_in", minutes_ago(0), nurse)
    assert "to check the patient in on another day, confirm it with the reason" in exc.value.unmet[0].message


def test_todays_session_checks_in_with_one_press(patient, prescriber, nurse):
    today = actions.schedule_session(patient=patient, protocol=IV, scheduled_at=minutes_ago(5), by=prescriber)
    assert step(today, "checked_in", minutes_ago(0), nurse).state == "checked_in"


def test_the_session_page_warns_of_the_booked_day_and_asks_why_before_checking_in(tomorrows, nurse):
    client = login(nurse)
    page = text(client.get(f"/sessions/{tomorrows.pk}/"))
    day = tomorrows.scheduled_at.astimezone(ZoneInfo(tomorrows.patient.clinic.time_zone))
    assert f"booked for {day:%A} {day.day} {day:%B %Y}, not today" in page
    assert "Why check in today" in page and "Check in today anyway" in page
    refused = client.post(f"/sessions/{tomorrows.pk}/step/", {
        "to": "checked_in", "version": tomorrows.version, FORM_FIELD: uuid.uuid4().hex})
    assert refused.status_code == 409
    assert "confirm it with the reason" in text(refused)
    tomorrows.refresh_from_db()
    assert tomorrows.state == "scheduled"
    done = client.post(f"/sessions/{tomorrows.pk}/step/", {
        "to": "checked_in", "version": tomorrows.version, "reason": "Came a day early",
        FORM_FIELD: uuid.uuid4().hex}, follow=True)
    assert "The session is now checked in" in text(done)


def test_a_session_booked_for_today_shows_no_other_day_warning(patient, prescriber, nurse):
    today = actions.schedule_session(patient=patient, protocol=IV, scheduled_at=minutes_ago(1),
                                     by=prescriber)
    page = text(login(nurse).get(f"/sessions/{today.pk}/"))
    assert "not today" not in page and "Check in" in page


def test_the_api_refuses_an_other_day_check_in_as_a_409_naming_the_guard_and_takes_it_with_a_reason(
        tomorrows, nurse):
    import json

    client = login(nurse)
    url = f"/api/v1/sessions/{tomorrows.pk}/transitions"
    body = {"to": "checked_in", "at": minutes_ago(0).isoformat(), "version": 1}
    refused = client.post(url, data=json.dumps(body), content_type="application/json")
    assert refused.status_code == 409
    assert [e["guard"] for e in refused.json()["errors"]] == ["booked_for_this_day"]
    taken = client.post(url, data=json.dumps({**body, "reason": "Came a day early"}),
                        content_type="application/json")
    assert taken.status_code == 200 and taken.json()["state"] == "checked_in"
