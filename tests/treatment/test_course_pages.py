"""The course and calendar pages as the clinic uses them: planning from the chart, moving and
cancelling with a reason, a refused move named on its field, who may change what, another
clinic's course absent, and the calendar by room and by clinician."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from html import unescape

import pytest

from kapclinic.accounts.roles import Role
from kapclinic.audit.models import AuditEntry
from kapclinic.platform import extensions as ext
from kapclinic.platform.idempotency import FORM_FIELD
from kapclinic.treatment import course_actions
from kapclinic.treatment.models import Course, ScheduleChange
from tests.conftest import login, make_user, new_patient
from tests.treatment.helpers import IV
from tests.treatment.test_courses import next_monday_9am

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def local_input(when) -> str:
    return when.astimezone(next_monday_9am().tzinfo).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def course(patient, prescriber, therapist):
    return course_actions.plan_course(patient=patient, protocol=IV, first_dose_at=next_monday_9am(),
                                      room="Room 1", chair="A", clinician=prescriber,
                                      therapist=therapist, by=prescriber)


def test_a_nurse_plans_a_course_from_the_chart_and_lands_on_its_page(patient, nurse, prescriber,
                                                                      therapist):
    client = login(nurse)
    chart = client.get(f"/patients/{patient.pk}/")
    assert f"/patients/{patient.pk}/courses/new/" in chart.content.decode()
    response = client.post(f"/patients/{patient.pk}/courses/new/", {
        "protocol": IV, "first_dose_at": local_input(next_monday_9am()), "room": "Room 2",
        "chair": "B", "clinician": prescriber.pk, "therapist": therapist.pk,
        FORM_FIELD: uuid.uuid4().hex}, follow=True)
    course = Course.objects.get(patient=patient)
    assert response.redirect_chain[-1][0] == f"/patients/{patient.pk}/courses/{course.pk}/"
    page = text(response)
    assert "Course planned: 8 dosing sessions" in page
    assert "Dose 6" in page and "Integration therapy" in page and "Preparation therapy" in page
    assert course.sessions.filter(room="Room 2", chair="B", clinician=prescriber).count() == 8


def test_planning_without_a_first_dose_time_names_the_field(patient, nurse):
    response = login(nurse).post(f"/patients/{patient.pk}/courses/new/", {"protocol": IV})
    assert response.status_code == 422
    assert "First dose: date and time: This field is required." in text(response)
    assert not Course.objects.exists()


def test_a_session_is_moved_from_the_course_page_with_its_reason(course, nurse, patient):
    third = course.sessions.order_by("scheduled_at")[2]
    to = third.scheduled_at + timedelta(hours=2)
    response = login(nurse).post(
        f"/patients/{patient.pk}/courses/{course.pk}/sessions/{third.pk}/move/",
        {"version": third.version, "to": local_input(to), "reason": "Ride only in the afternoon",
         FORM_FIELD: uuid.uuid4().hex}, follow=True)
    assert "Session moved." in text(response)
    assert "Ride only in the afternoon" in text(response)
    third.refresh_from_db()
    assert third.scheduled_at == to


def test_a_move_too_close_to_another_dose_is_refused_on_the_page_naming_why(course, nurse, patient):
    second = course.sessions.order_by("scheduled_at")[1]
    response = login(nurse).post(
        f"/patients/{patient.pk}/courses/{course.pk}/sessions/{second.pk}/move/",
        {"version": second.version, "to": local_input(second.scheduled_at - timedelta(days=1)),
         "reason": "Earlier"})
    assert response.status_code == 422
    assert "at least 2 days between doses" in text(response)
    assert not ScheduleChange.objects.exists()


def test_a_cancellation_without_a_reason_is_refused_and_nothing_changes(course, nurse, patient):
    visit = course.therapy_visits.get(kind="preparation")
    response = login(nurse).post(
        f"/patients/{patient.pk}/courses/{course.pk}/visits/{visit.pk}/cancel/",
        {"version": visit.version, "reason": ""})
    assert response.status_code == 422
    assert "Why it is cancelled: This field is required." in text(response)
    visit.refresh_from_db()
    assert visit.state == "scheduled"


def test_a_double_posted_move_is_applied_once(course, nurse, patient):
    third = course.sessions.order_by("scheduled_at")[2]
    client = login(nurse)
    form = {"version": third.version, "to": local_input(third.scheduled_at + timedelta(hours=1)),
            "reason": "Later", FORM_FIELD: uuid.uuid4().hex}
    url = f"/patients/{patient.pk}/courses/{course.pk}/sessions/{third.pk}/move/"
    client.post(url, form)
    client.post(url, form)
    assert ScheduleChange.objects.filter(session=third).count() == 1


def test_a_therapist_sees_the_course_but_not_the_forms_that_change_it(course, therapist, patient):
    client = login(therapist)
    page = client.get(f"/patients/{patient.pk}/courses/{course.pk}/")
    assert page.status_code == 200 and "Sessions and therapy visits" in text(page)
    assert "End the course" not in text(page)
    first = course.sessions.first()
    refused = client.post(f"/patients/{patient.pk}/courses/{course.pk}/sessions/{first.pk}/cancel/",
                          {"version": first.version, "reason": "No"})
    assert refused.status_code == 403


def test_another_clinics_course_does_not_exist(course, patient, clinic_b):
    stranger = make_user("stranger-nurse", clinic_b, Role.NURSE)
    client = login(stranger)
    assert client.get(f"/patients/{patient.pk}/courses/{course.pk}/").status_code == 404
    first = course.sessions.first()
    assert client.post(f"/patients/{patient.pk}/courses/{course.pk}/sessions/{first.pk}/cancel/",
                       {"version": first.version, "reason": "probe"}).status_code == 404


def test_a_session_of_another_course_cannot_be_changed_through_this_one(course, nurse, prescriber,
                                                                        clinic_a):
    other_patient = new_patient(clinic_a, mrn="A-0002", given_name="Other", family_name="Person")
    other = course_actions.plan_course(patient=other_patient, protocol=IV,
                                       first_dose_at=next_monday_9am(), by=prescriber)
    theirs = other.sessions.first()
    response = login(nurse).post(
        f"/patients/{course.patient_id}/courses/{course.pk}/sessions/{theirs.pk}/cancel/",
        {"version": theirs.version, "reason": "wrong course"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == "scheduled"


def test_the_booster_offer_shows_only_when_the_outcomes_list_the_patient_as_fading(dosed_course, nurse,
                                                                                  patient):
    course = dosed_course
    client = login(nurse)
    url = f"/patients/{patient.pk}/courses/{course.pk}/"
    assert "Relief is fading" not in text(client.get(url))
    with ext.registrations_undone():
        ext.register(ext.FadingRelief("outcomes", lambda clinic_id: {patient.pk}))
        assert "Book a booster" in text(client.get(url))


def test_the_week_calendar_shows_the_courses_visits_by_room_and_by_clinician(course, nurse, prescriber):
    client = login(nurse)
    day = next_monday_9am().date().isoformat()
    by_room = text(client.get(f"/calendar/?view=week&by=room&date={day}"))
    assert "Room 1 · chair A" in by_room
    assert by_room.count(course.patient.family_name) >= 4  # 3 doses and their integration visits
    by_person = text(client.get(f"/calendar/?view=week&by=clinician&date={day}"))
    assert prescriber.display_name in by_person
    assert AuditEntry.objects.filter(object_type="calendar", action="list",
                                     patient_id=course.patient_id).exists()


def test_the_day_calendar_shows_one_day_and_an_unreadable_date_falls_back_to_today(course, nurse):
    client = login(nurse)
    day = next_monday_9am().date().isoformat()
    page = text(client.get(f"/calendar/?view=day&by=room&date={day}"))
    assert "09:00" in page and "Induction" in page
    assert "could not be read" in text(client.get("/calendar/?date=99999-01-01"))


def test_a_course_is_ended_from_its_page_and_what_was_booked_is_cancelled_not_deleted(course, nurse,
                                                                                        patient):
    booked = course.sessions.count()
    response = login(nurse).post(f"/patients/{patient.pk}/courses/{course.pk}/end/",
                                 {"reason": "Patient chose to stop", FORM_FIELD: uuid.uuid4().hex},
                                 follow=True)
    page = text(response)
    assert "This course has ended" in page and "Patient chose to stop" in page
    assert course.sessions.filter(state="cancelled").count() == booked


def test_another_clinics_session_through_this_course_is_a_404_audited_as_a_probe(
        course, nurse, patient, clinic_b, prescriber):
    from kapclinic.treatment import actions

    theirs_patient = new_patient(clinic_b, mrn="B-0009", given_name="Bea", family_name="Other")
    theirs = actions.schedule_session(patient=theirs_patient, protocol=IV, scheduled_at=next_monday_9am(),
                                      by=None)
    response = login(nurse).post(
        f"/patients/{patient.pk}/courses/{course.pk}/sessions/{theirs.pk}/cancel/",
        {"version": theirs.version, "reason": "probe"})
    assert response.status_code == 404
    assert AuditEntry.objects.filter(action="denied", object_id=str(theirs.pk)).exists()
    theirs.refresh_from_db()
    assert theirs.state == "scheduled"


def test_a_refused_change_that_shows_the_course_again_is_audited_as_a_read(course, nurse, patient):
    visit = course.therapy_visits.get(kind="preparation")
    before = AuditEntry.objects.filter(action="read", object_type="course").count()
    login(nurse).post(f"/patients/{patient.pk}/courses/{course.pk}/visits/{visit.pk}/cancel/",
                      {"version": visit.version, "reason": ""})
    assert AuditEntry.objects.filter(action="read", object_type="course").count() == before + 1
