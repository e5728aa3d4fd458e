"""Courses: planned from the protocol, changed one visit at a time with the reason kept,
boosters only for patients whose relief is fading, and nothing lost when a course ends."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kapclinic.audit.models import AuditEntry
from kapclinic.platform import extensions as ext
from kapclinic.treatment import course_actions
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import (
    ChangeKind,
    Course,
    ScheduleChange,
    Session,
    TherapyVisit,
    TreatmentSettings,
)
from tests.treatment.helpers import ESKETAMINE, IV

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


def next_monday_9am() -> datetime:
    """A Monday at least eight days ahead, so a week's preparation lead is never in the past."""
    today = datetime.now(NEW_YORK).date()
    monday = today + timedelta(days=14 - today.weekday())
    return datetime(monday.year, monday.month, monday.day, 9, 0, tzinfo=NEW_YORK)


@pytest.fixture
def course(patient, prescriber, therapist):
    return course_actions.plan_course(patient=patient, protocol=IV, first_dose_at=next_monday_9am(),
                                      room="Room 1", chair="A", clinician=prescriber,
                                      therapist=therapist, by=prescriber)


def test_a_planned_iv_course_books_six_infusions_at_the_first_doses_time_then_maintenance(course):
    booked = list(course.sessions.order_by("scheduled_at"))
    induction = [s for s in booked if s.course_phase == "induction"]
    assert len(induction) == 6
    assert [s.scheduled_at.astimezone(NEW_YORK).strftime("%a %H:%M") for s in induction] == \
        ["Mon 09:00", "Wed 09:00", "Fri 09:00"] * 2
    assert {s.course_phase for s in booked} == {"induction", "maintenance"}
    assert all(s.state == "scheduled" and s.room == "Room 1" for s in booked)


def test_each_dose_gets_its_integration_visit_and_the_course_a_preparation_the_week_before(
        course, therapist):
    visits = list(course.therapy_visits.all())
    preparation = [v for v in visits if v.kind == "preparation"]
    assert len(preparation) == 1
    assert (course.sessions.order_by("scheduled_at").first().scheduled_at
            - preparation[0].scheduled_at) == timedelta(days=7)
    integration = {v.dose_session_id: v for v in visits if v.kind == "integration"}
    assert set(integration) == set(course.sessions.values_list("pk", flat=True))
    assert all(v.therapist == therapist for v in visits)
    assert all(v.scheduled_at - v.dose_session.scheduled_at == timedelta(days=1)
               for v in integration.values())


def test_the_clinics_timing_settings_place_the_therapy_visits(patient, prescriber, clinic_a):
    TreatmentSettings.objects.create(clinic=clinic_a, preparation_days_before=3, integration_days_after=0)
    course = course_actions.plan_course(patient=patient, protocol=ESKETAMINE,
                                        first_dose_at=next_monday_9am(), by=prescriber)
    first = course.sessions.order_by("scheduled_at").first()
    preparation = course.therapy_visits.get(kind="preparation")
    assert preparation.scheduled_at == first.scheduled_at - timedelta(days=3)
    assert course.therapy_visits.get(dose_session=first).scheduled_at == first.scheduled_at


def test_a_second_active_course_is_refused(course, patient, prescriber):
    with pytest.raises(FieldError) as exc:
        course_actions.plan_course(patient=patient, protocol=IV, first_dose_at=next_monday_9am(),
                                   by=prescriber)
    assert exc.value.field == "course"
    assert Course.objects.count() == 1


def test_a_course_starting_last_month_is_refused_naming_the_field(patient, prescriber):
    with pytest.raises(FieldError) as exc:
        course_actions.plan_course(patient=patient, protocol=IV,
                                   first_dose_at=next_monday_9am() - timedelta(days=40), by=prescriber)
    assert exc.value.field == "first_dose_at"
    assert not Session.objects.exists()


def test_moving_a_session_keeps_the_old_time_and_the_reason(course, nurse):
    third = course.sessions.order_by("scheduled_at")[2]  # Friday
    old = third.scheduled_at
    moved = course_actions.move_session(third, to=old + timedelta(hours=3), reason="Patient's request",
                                        by=nurse)
    assert moved.scheduled_at == old + timedelta(hours=3)
    change = ScheduleChange.objects.get(session=third)
    assert (change.kind, change.from_at, change.to_at, change.reason) == (
        ChangeKind.MOVED, old, old + timedelta(hours=3), "Patient's request")
    assert AuditEntry.objects.filter(action="move", object_type="session", object_id=str(third.pk)).exists()


def test_a_move_breaking_the_protocols_spacing_is_refused_naming_the_other_dose(course, nurse):
    second = course.sessions.order_by("scheduled_at")[1]  # Wednesday
    with pytest.raises(FieldError) as exc:
        course_actions.move_session(second, to=second.scheduled_at - timedelta(days=1),
                                    reason="Earlier", by=nurse)
    assert exc.value.field == "scheduled_at"
    assert "at least 2 days between doses" in exc.value.message
    second.refresh_from_db()
    assert not ScheduleChange.objects.exists()


def test_a_move_without_a_reason_is_refused(course, nurse):
    with pytest.raises(FieldError) as exc:
        course_actions.move_session(course.sessions.first(), to=next_monday_9am(), reason=" ", by=nurse)
    assert exc.value.field == "reason"


def test_cancelling_a_session_ends_it_with_the_reason_on_the_session_and_the_course(course, nurse):
    session = course.sessions.order_by("scheduled_at")[3]
    course_actions.cancel_session(session, reason="Unwell with flu", by=nurse)
    session.refresh_from_db()
    assert (session.state, session.end_reason) == ("cancelled", "Unwell with flu")
    assert ScheduleChange.objects.get(session=session).kind == ChangeKind.CANCELLED


def test_a_booster_is_refused_while_the_outcomes_do_not_list_the_patient_as_fading(course, prescriber):
    with pytest.raises(FieldError) as exc:
        course_actions.add_session(course, at=next_monday_9am() + timedelta(weeks=10),
                                   reason="Booster", booster=True, by=prescriber)
    assert exc.value.field == "booster"


def test_a_booster_for_a_fading_patient_is_booked_with_its_integration_visit(dosed_course, prescriber,
                                                                            patient):
    with ext.registrations_undone():
        ext.register(ext.FadingRelief("outcomes", lambda clinic_id: {patient.pk}))
        booster = course_actions.add_session(dosed_course, at=next_monday_9am() + timedelta(weeks=10),
                                             reason="PHQ-9 back up to 15", booster=True, by=prescriber)
    assert (booster.course_phase, booster.course, booster.state) == ("booster", dosed_course, "scheduled")
    assert TherapyVisit.objects.filter(dose_session=booster, kind="integration").exists()
    assert ScheduleChange.objects.get(session=booster).kind == ChangeKind.BOOSTER


def test_no_booster_is_offered_for_a_course_that_has_not_given_a_dose(course, prescriber, patient):
    with ext.registrations_undone():
        ext.register(ext.FadingRelief("outcomes", lambda clinic_id: {patient.pk}))
        assert not course_actions.booster_offered(course)
        with pytest.raises(FieldError) as exc:
            course_actions.add_session(course, at=next_monday_9am() + timedelta(weeks=10),
                                       reason="Booster", booster=True, by=prescriber)
    assert exc.value.field == "booster"


def test_a_course_starting_within_the_preparation_lead_books_preparation_before_the_dose_not_in_the_past(
        patient, prescriber):
    from django.utils import timezone

    soon = timezone.now() + timedelta(hours=5)
    course = course_actions.plan_course(patient=patient, protocol=IV, first_dose_at=soon, by=prescriber)
    preparation = course.therapy_visits.get(kind="preparation")
    assert timezone.now() - timedelta(minutes=1) <= preparation.scheduled_at < soon


@pytest.mark.parametrize("dose_in_minutes", [5, 30, 59, 61, 80, 119, 125])
def test_a_course_whose_first_dose_is_within_the_hour_never_books_preparation_in_the_past(
        patient, prescriber, monkeypatch, dose_in_minutes):
    """At 10:50 with the first dose at 11:20, preparation went to 10:20: half an hour ago."""
    from django.utils import timezone

    fixed = (timezone.now() + timedelta(days=1)).replace(minute=50, second=0, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: fixed)
    first = fixed + timedelta(minutes=dose_in_minutes)
    course = course_actions.plan_course(patient=patient, protocol=IV, first_dose_at=first, by=prescriber)
    preparation = course.therapy_visits.get(kind="preparation")
    assert preparation.scheduled_at >= fixed
    assert preparation.scheduled_at <= first


def test_ending_a_course_cancels_what_is_still_scheduled_and_keeps_it_on_record(course, prescriber):
    total = course.sessions.count()
    course_actions.end_course(course, reason="Moved abroad", by=prescriber)
    assert course.sessions.count() == total
    assert set(course.sessions.values_list("state", flat=True)) == {"cancelled"}
    assert set(course.therapy_visits.values_list("state", flat=True)) == {"cancelled"}
    course.refresh_from_db()
    assert (course.state, course.end_reason) == ("ended", "Moved abroad")
    with pytest.raises(FieldError):
        course_actions.end_course(course, reason="Again", by=prescriber)


def test_a_therapy_visit_is_moved_with_its_reason_and_a_stale_version_is_refused(course, therapist):
    visit = course.therapy_visits.get(kind="preparation")
    stale = visit.version
    course_actions.move_therapy_visit(visit, to=visit.scheduled_at + timedelta(days=1),
                                      reason="Therapist away", by=therapist)
    with pytest.raises(FieldError) as exc:
        course_actions.move_therapy_visit(visit, to=visit.scheduled_at + timedelta(days=2),
                                          reason="Again", by=therapist, expected_version=stale)
    assert exc.value.field == "version"


def test_a_checked_in_session_is_not_cancelled_from_the_course(course, nurse):
    from tests.treatment.helpers import step

    first = course.sessions.order_by("scheduled_at").first()
    step(first, "checked_in", first.scheduled_at if first.scheduled_at < datetime.now(NEW_YORK)
         else datetime.now(NEW_YORK), nurse, reason="Checked in ahead of the booked day on purpose")
    first.refresh_from_db()
    with pytest.raises(FieldError) as exc:
        course_actions.cancel_session(first, reason="Coordinator cancels", by=nurse)
    assert "only a booked session is cancelled here" in exc.value.message
    first.refresh_from_db()
    assert first.state == "checked_in"


@pytest.mark.parametrize("when", ["9999-06-01T09:00:00-05:00", "1900-01-01T09:00:00-05:00"])
def test_a_booking_in_the_past_or_beyond_2100_is_refused_naming_the_field(course, nurse, when):
    third = course.sessions.order_by("scheduled_at")[2]
    with pytest.raises(FieldError) as exc:
        course_actions.move_session(third, to=datetime.fromisoformat(when), reason="Typo", by=nurse)
    assert exc.value.field == "scheduled_at"
    with pytest.raises(FieldError):
        course_actions.add_session(course, at=datetime.fromisoformat(when), reason="Typo", by=nurse)


def test_a_course_in_the_year_9999_is_refused_not_a_server_error(patient, prescriber):
    with pytest.raises(FieldError) as exc:
        course_actions.plan_course(patient=patient, protocol=IV, by=prescriber,
                                   first_dose_at=datetime(9999, 6, 1, 9, tzinfo=NEW_YORK))
    assert exc.value.field == "first_dose_at"


def test_the_preparation_time_is_kept_when_ahead_and_otherwise_falls_between_now_and_the_dose():
    from kapclinic.clinical.protocols.course import preparation_time

    now = datetime(2026, 12, 7, 10, 50, tzinfo=NEW_YORK)
    ahead = now + timedelta(days=2)
    assert preparation_time(ahead, now + timedelta(days=9), now) == ahead
    past = now - timedelta(days=6)
    assert preparation_time(past, now + timedelta(minutes=30), now) == now        # dose at 11:20
    assert preparation_time(past, now + timedelta(hours=3), now) == now.replace(hour=11, minute=0)
    assert preparation_time(past, now + timedelta(minutes=100), now) == now.replace(hour=11, minute=0)
    assert preparation_time(past, now + timedelta(minutes=50), now) == now  # an hour before 11:40: past
