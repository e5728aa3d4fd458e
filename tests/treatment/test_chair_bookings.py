"""Rooms and chairs on the course pages and the calendar: a chair booked twice at an
overlapping time is a warning naming the other session (not a refusal), the clinic's own
rooms and chairs are offered with free entry still allowed, and the calendar shows how long
each session holds its chair."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest

from kapclinic.platform.idempotency import FORM_FIELD
from kapclinic.treatment import actions, course_actions
from kapclinic.treatment.models import Course, TreatmentSettings
from tests.conftest import login, new_patient
from tests.treatment.helpers import ESKETAMINE, IV
from tests.treatment.test_course_pages import local_input, text
from tests.treatment.test_courses import next_monday_9am

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_patient(clinic_a, prescriber):
    return new_patient(clinic_a, prescriber, mrn="A-0002", given_name="Grace", family_name="Hopper")


@pytest.fixture
def booked_first(other_patient, prescriber):
    """Grace Hopper's IV session in Room 1, chair A, at the Monday's 10:00 (it holds the chair
    for its 40-minute infusion and two hours' observation: until 12:40)."""
    return actions.schedule_session(patient=other_patient, protocol=IV,
                                    scheduled_at=next_monday_9am() + timedelta(hours=1),
                                    room="Room 1", chair="A", by=prescriber)


def plan(client, patient, when, room="Room 1", chair="A"):
    return client.post(f"/patients/{patient.pk}/courses/new/", {
        "protocol": IV, "first_dose_at": local_input(when), "room": room, "chair": chair,
        FORM_FIELD: uuid.uuid4().hex}, follow=True)


def test_planning_a_course_into_a_chair_already_booked_warns_naming_the_other_session_and_still_books(
        patient, nurse, booked_first):
    page = text(plan(login(nurse), patient, next_monday_9am()))
    assert "Course planned" in page
    assert "Double-booked chair" in page
    assert "Room 1 · chair A is also booked" in page and "Hopper, Grace" in page and "10:00–12:40" in page
    assert Course.objects.filter(patient=patient).exists()


def test_the_same_chair_at_a_time_that_does_not_overlap_is_not_a_double_booking(
        patient, nurse, booked_first):
    page = text(plan(login(nurse), patient, next_monday_9am() + timedelta(hours=4)))
    assert "Course planned" in page and "Double-booked" not in page


def test_another_chair_in_the_same_room_is_not_a_double_booking(patient, nurse, booked_first):
    page = text(plan(login(nurse), patient, next_monday_9am(), chair="B"))
    assert "Course planned" in page and "Double-booked" not in page


def test_moving_a_session_onto_a_booked_chair_warns_and_the_course_page_keeps_showing_it(
        patient, nurse, prescriber, other_patient):
    course = course_actions.plan_course(patient=patient, protocol=IV, first_dose_at=next_monday_9am(),
                                        room="Room 1", chair="A", by=prescriber)
    third = course.sessions.order_by("scheduled_at")[2]
    actions.schedule_session(patient=other_patient, protocol=ESKETAMINE,
                             scheduled_at=third.scheduled_at + timedelta(hours=3),
                             room="room 1", chair="a", by=prescriber)
    client = login(nurse)
    response = client.post(f"/patients/{patient.pk}/courses/{course.pk}/sessions/{third.pk}/move/", {
        "version": third.version, "to": local_input(third.scheduled_at + timedelta(hours=2)),
        "reason": "Afternoon ride", FORM_FIELD: uuid.uuid4().hex}, follow=True)
    page = text(response)
    assert "Session moved." in page and "Double-booked chair" in page and "Hopper, Grace" in page
    again = text(client.get(f"/patients/{patient.pk}/courses/{course.pk}/"))
    assert "Double-booked: room 1 · chair a is also booked" in again


def test_adding_a_session_offers_the_courses_chair_and_warns_when_it_is_taken(
        patient, nurse, prescriber, booked_first):
    course = course_actions.plan_course(patient=patient, protocol=IV, first_dose_at=next_monday_9am(),
                                        room="Room 1", chair="A", by=prescriber)
    client = login(nurse)
    page = client.get(f"/patients/{patient.pk}/courses/{course.pk}/").content.decode()
    assert re.search(r'<input[^>]*name="room"[^>]*value="Room 1"', page)
    third = course.sessions.order_by("scheduled_at")[2]
    course_actions.cancel_session(third, reason="Flu", by=prescriber)
    at = third.scheduled_at  # its slot is free again for the course
    actions.schedule_session(patient=booked_first.patient, protocol=IV,
                             scheduled_at=at + timedelta(minutes=30), room="Room 1", chair="A", by=prescriber)
    response = client.post(f"/patients/{patient.pk}/courses/{course.pk}/add/", {
        "at": local_input(at), "reason": "Missed a week", "room": "Room 1", "chair": "A",
        FORM_FIELD: uuid.uuid4().hex}, follow=True)
    page = text(response)
    assert "Session booked" in page and "Double-booked chair" in page


def test_the_course_form_offers_the_clinics_listed_rooms_and_chairs(patient, nurse, clinic_a):
    TreatmentSettings.objects.create(clinic=clinic_a, rooms=[{"name": "Sage room", "chairs": ["Recliner 1",
                                                                                              "Recliner 2"]}])
    page = login(nurse).get(f"/patients/{patient.pk}/courses/new/").content.decode()
    assert 'list="clinic-rooms"' in page and '<option value="Sage room">' in page
    assert '<option value="Recliner 2">' in page


def test_without_a_listed_room_the_form_offers_the_rooms_and_chairs_booked_before(
        patient, nurse, booked_first):
    page = login(nurse).get(f"/patients/{patient.pk}/courses/new/").content.decode()
    assert '<option value="Room 1">' in page and '<option value="A">' in page
    assert "another can be typed" in page


def test_the_calendar_shows_how_long_each_session_holds_its_chair_and_flags_a_double_booking(
        patient, nurse, prescriber, booked_first):
    course_actions.plan_course(patient=patient, protocol=IV, first_dose_at=next_monday_9am(),
                               room="Room 1", chair="A", by=prescriber)
    day = next_monday_9am().date().isoformat()
    page = text(login(nurse).get(f"/calendar/?view=day&by=room&date={day}"))
    assert "09:00–11:40" in page and "2 h 40 min in the chair" in page
    assert page.count("Chair double-booked") == 2


def test_a_session_holds_its_chair_for_the_protocols_dosing_and_minimum_observation():
    from kapclinic.clinical import protocols as core
    from kapclinic.clinical.protocols.course import chair_minutes

    # IV: 40 min infusion, then 2 h counted from its end; esketamine: 2 h from the first device
    assert chair_minutes(core.resolve(IV)) == 160
    assert chair_minutes(core.resolve(ESKETAMINE)) == 120
    longer = core.resolve(IV).configured({"infusion_minutes": 60})
    assert chair_minutes(longer) == 180
