"""Courses: planned from a protocol, then changed one visit at a time, each change with its
reason (``ScheduleChange``) so the plan and every later move stay on record.

Times of day: the course's doses keep the time of the first dose, in the clinic's zone;
therapy visits the same time, on their own days (a clinic moves them as it needs).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.clinical import protocols as core
from kapclinic.clinical.protocols.course import plan_course as plan_core
from kapclinic.clinical.protocols.course import preparation_time, spacing_problem
from kapclinic.patients.models import Patient
from kapclinic.platform import extensions as ext
from kapclinic.treatment import actions as sessions
from kapclinic.treatment.errors import FieldError, SessionConflict
from kapclinic.treatment.models import (
    ChangeKind,
    Course,
    CourseState,
    ScheduleChange,
    Session,
    State,
    TherapyKind,
    TherapyVisit,
    TreatmentSettings,
    VisitState,
)
from kapclinic.treatment.protocols import clinic_protocol, session_protocol

MAX_REASON = 2000
LATEST_YEAR = 2100  # an engineering bound on how far ahead anything is booked
ALREADY_ACTIVE = "the patient already has an active course: end it first, or add sessions to it"
BOOSTER = "booster"
ADDED = "added"


def _zone(patient: Patient) -> ZoneInfo:
    return ZoneInfo(patient.clinic.time_zone)


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone)


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise FieldError("reason", "say why (it is kept with the change)")
    if len(reason) > MAX_REASON:
        raise FieldError("reason", f"is longer than {MAX_REASON} characters")
    return reason


def _aware(when: datetime, field: str, *, now: datetime | None = None) -> datetime:
    """A time to book at: with its offset, from yesterday on (a late booking is fine, a
    booking in the past is not), and not beyond ``LATEST_YEAR``."""
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise FieldError(field, "needs a date, a time and a UTC offset (e.g. 2026-12-07T09:30:00-05:00)")
    now = now or timezone.now()
    if when < now - timedelta(days=1):
        raise FieldError(field, "is in the past: book from today on")
    if when.year > LATEST_YEAR:
        raise FieldError(field, f"is after {LATEST_YEAR}: check the year")
    return when


@action
def plan_course(*, patient: Patient, protocol: str, first_dose_at: datetime, by: User | None,
                room: str = "", chair: str = "", clinician: User | None = None,
                therapist: User | None = None) -> Course:
    """A course of ``protocol`` from ``first_dose_at``: every dosing session of its schedule,
    a preparation visit before the first and an integration visit after each (the clinic's
    timing settings). One active course per patient."""
    first_dose_at = _aware(first_dose_at, "first_dose_at")
    if first_dose_at.year > LATEST_YEAR - 2:  # its maintenance is booked up to a year ahead
        raise FieldError("first_dose_at", f"is after {LATEST_YEAR - 2}: check the year")
    if Course.objects.filter(patient=patient, state=CourseState.ACTIVE).exists():
        raise FieldError("course", ALREADY_ACTIVE)
    try:
        chosen = clinic_protocol(protocol, patient.clinic_id)
    except core.ProtocolError as exc:
        raise FieldError("protocol", str(exc)) from exc
    settings = TreatmentSettings.for_clinic(patient.clinic_id)
    zone = _zone(patient)
    local = first_dose_at.astimezone(zone)
    try:
        plan = plan_core(chosen, local.date(), open_weeks=settings.course_open_weeks,
                         preparation_days_before=settings.preparation_days_before,
                         integration_days_after=settings.integration_days_after)
    except core.ProtocolSettingError as exc:
        raise FieldError(exc.field, str(exc)) from exc
    try:
        with transaction.atomic():  # two plans at once: the second is told, not a server error
            course = Course.objects.create(
                patient=patient, protocol=chosen.id, protocol_version=chosen.version_id,
                protocol_settings={"values": dict(chosen.chosen), "preset": chosen.preset},
                first_dose_on=local.date(), clinician=clinician, therapist=therapist, created_by=by,
                plan=[{"kind": "dose", "phase": d.phase, "number": d.number, "on": d.on.isoformat()}
                      for d in plan.doses]
                + [{"kind": t.kind, "number": t.dose_number, "on": t.on.isoformat()}
                   for t in plan.therapy])
    except IntegrityError:
        raise FieldError("course", ALREADY_ACTIVE) from None
    trail.record("create", object_type="course", object_id=course.pk, patient_id=patient.pk,
                 detail={"protocol": chosen.version_id, "first_dose_on": local.date().isoformat(),
                         "doses": len(plan.doses)})
    by_number: dict[int, Session] = {}
    for dose in plan.doses:
        by_number[dose.number] = sessions.schedule_session(
            patient=patient, protocol=chosen.id, scheduled_at=_at(dose.on, local.timetz(), zone),
            room=room, chair=chair, by=by, clinician=clinician, course=course,
            course_phase=dose.phase)
    now = timezone.now().astimezone(zone)
    for visit in plan.therapy:
        at = _at(visit.on, local.timetz(), zone)
        if visit.kind == TherapyKind.PREPARATION:
            # a course starting sooner than the preparation lead: never booked in the past
            at = preparation_time(at, first_dose_at, now)
        _therapy_visit(course, visit.kind, at,
                       by_number.get(visit.dose_number) if visit.kind == TherapyKind.INTEGRATION else None,
                       therapist)
    return course


def _therapy_visit(course: Course, kind: str, at: datetime, dose_session: Session | None,
                   therapist: User | None) -> TherapyVisit:
    visit = TherapyVisit.objects.create(patient=course.patient, course=course, kind=kind,
                                        scheduled_at=at, dose_session=dose_session,
                                        therapist=therapist)
    trail.record("create", object_type="therapy_visit", object_id=visit.pk,
                 patient_id=course.patient_id, detail={"kind": kind, "at": at.isoformat()})
    return visit


def _other_dose_days(course: Course, zone: ZoneInfo, *, leaving_out: int | None = None) -> list[date]:
    kept = (course.sessions.exclude(state=State.CANCELLED).exclude(pk=leaving_out)
            .values_list("scheduled_at", flat=True))
    return sorted(when.astimezone(zone).date() for when in kept)


def _check_spacing(course: Course, session_protocol_: core.Protocol, at: datetime,
                   leaving_out: int | None = None) -> None:
    zone = _zone(course.patient)
    problem = spacing_problem(session_protocol_, at.astimezone(zone).date(),
                              _other_dose_days(course, zone, leaving_out=leaving_out))
    if problem:
        raise FieldError("scheduled_at", f"cannot go on that day: {problem}")


@action
def move_session(session: Session, *, to: datetime, reason: str, by: User | None,
                 expected_version: int | None = None) -> Session:
    """Move a scheduled dosing session; in a course, within its protocol's spacing."""
    to = _aware(to, "scheduled_at")
    reason = _reason(reason)
    if session.state != State.SCHEDULED:
        raise FieldError("scheduled_at", f"only a scheduled session is moved (it is {session.state_words})")
    if session.course_id is not None:
        _check_spacing(session.course, session_protocol(session), to, leaving_out=session.pk)
    version = session.version if expected_version is None else expected_version
    moved = Session.objects.filter(pk=session.pk, state=State.SCHEDULED, version=version).update(
        scheduled_at=to, state_at=to, version=F("version") + 1)
    if not moved:
        current = Session.objects.get(pk=session.pk)
        raise SessionConflict(current.state, current.version)
    if session.course_id is not None:
        ScheduleChange.objects.create(course_id=session.course_id, session=session,
                                      kind=ChangeKind.MOVED, from_at=session.scheduled_at, to_at=to,
                                      reason=reason, recorded_by=by)
    trail.record("move", object_type="session", object_id=session.pk, patient_id=session.patient_id,
                 detail={"from": session.scheduled_at.isoformat(), "to": to.isoformat()})
    session.refresh_from_db()
    return session


@action
def cancel_session(session: Session, *, reason: str, by: User | None) -> Session:
    """Cancel a booked session (a session step, with the reason kept on the course too). Once
    the patient is checked in, ending the session early is the session page's (the nurse's or
    prescriber's) step, not the calendar's."""
    reason = _reason(reason)
    if session.state != State.SCHEDULED:
        raise FieldError("reason", f"only a booked session is cancelled here (it is {session.state_words}); "
                                   "end it from the session page")
    cancelled = sessions.transition(session, to=State.CANCELLED, at=timezone.now(), by=by,
                                    expected_version=session.version, reason=reason)
    if session.course_id is not None:
        ScheduleChange.objects.create(course_id=session.course_id, session=session,
                                      kind=ChangeKind.CANCELLED, from_at=session.scheduled_at,
                                      reason=reason, recorded_by=by)
    return cancelled


@action
def add_session(course: Course, *, at: datetime, reason: str, by: User | None,
                booster: bool = False, room: str = "", chair: str = "") -> Session:
    """One more dosing session in ``course``, with its integration visit. A booster only
    while the outcomes list the patient as losing relief."""
    at = _aware(at, "scheduled_at")
    reason = _reason(reason)
    # the course row is locked, so a course ended meanwhile gets no new session
    course = Course.objects.select_for_update().select_related("patient__clinic").get(pk=course.pk)
    if course.state != CourseState.ACTIVE:
        raise FieldError("course", "the course has ended: plan a new one")
    patient = course.patient
    if booster and not booster_offered(course):
        raise FieldError("booster", "a booster follows relief that fades after the course's doses: "
                                    "the outcomes do not list this patient's relief as fading since "
                                    "a dose of this course; add a session with a reason instead")
    try:
        protocol = clinic_protocol(course.protocol, patient.clinic_id)
    except core.ProtocolError as exc:
        raise FieldError("protocol", str(exc)) from exc
    _check_spacing(course, protocol, at)
    session = sessions.schedule_session(patient=patient, protocol=course.protocol, scheduled_at=at,
                                        room=room, chair=chair, by=by, clinician=course.clinician,
                                        course=course, course_phase=BOOSTER if booster else ADDED)
    ScheduleChange.objects.create(course=course, session=session,
                                  kind=ChangeKind.BOOSTER if booster else ChangeKind.ADDED,
                                  to_at=at, reason=reason, recorded_by=by)
    days = TreatmentSettings.for_clinic(patient.clinic_id).integration_days_after
    _therapy_visit(course, TherapyKind.INTEGRATION, at + timedelta(days=days), session, course.therapist)
    return session


def booster_offered(course: Course) -> bool:
    """A booster is for relief that fades after treatment: the outcomes list the patient as
    fading and the course has given a dose (not a course still to start)."""
    if course.state != CourseState.ACTIVE:
        return False
    dosed = course.sessions.filter(administrations__entered_in_error_at__isnull=True,
                                   administrations__isnull=False).exists()
    return dosed and course.patient_id in ext.fading_patients(course.patient.clinic_id)


def _visit_update(visit: TherapyVisit, expected_version: int | None, **fields) -> None:
    version = visit.version if expected_version is None else expected_version
    changed = TherapyVisit.objects.filter(pk=visit.pk, state=VisitState.SCHEDULED,
                                          version=version).update(version=F("version") + 1, **fields)
    if not changed:
        raise FieldError("version", "someone changed this visit meanwhile: reload the page")


@action
def move_therapy_visit(visit: TherapyVisit, *, to: datetime, reason: str, by: User | None,
                       expected_version: int | None = None) -> TherapyVisit:
    to = _aware(to, "scheduled_at")
    reason = _reason(reason)
    _visit_update(visit, expected_version, scheduled_at=to)
    ScheduleChange.objects.create(course_id=visit.course_id, therapy_visit=visit, kind=ChangeKind.MOVED,
                                  from_at=visit.scheduled_at, to_at=to, reason=reason, recorded_by=by)
    trail.record("move", object_type="therapy_visit", object_id=visit.pk, patient_id=visit.patient_id,
                 detail={"from": visit.scheduled_at.isoformat(), "to": to.isoformat()})
    visit.refresh_from_db()
    return visit


@action
def cancel_therapy_visit(visit: TherapyVisit, *, reason: str, by: User | None,
                         expected_version: int | None = None) -> TherapyVisit:
    reason = _reason(reason)
    _visit_update(visit, expected_version, state=VisitState.CANCELLED, end_reason=reason)
    ScheduleChange.objects.create(course_id=visit.course_id, therapy_visit=visit,
                                  kind=ChangeKind.CANCELLED, from_at=visit.scheduled_at,
                                  reason=reason, recorded_by=by)
    trail.record("cancel", object_type="therapy_visit", object_id=visit.pk, patient_id=visit.patient_id,
                 detail={"reason_length": len(reason)})
    visit.refresh_from_db()
    return visit


@action
def mark_therapy_attended(visit: TherapyVisit, *, by: User | None) -> TherapyVisit:
    _visit_update(visit, None, state=VisitState.ATTENDED)
    trail.record("attended", object_type="therapy_visit", object_id=visit.pk,
                 patient_id=visit.patient_id, detail={})
    visit.refresh_from_db()
    return visit


@action
def end_course(course: Course, *, reason: str, by: User | None) -> Course:
    """End the course: what is still scheduled in it is cancelled with the same reason."""
    reason = _reason(reason)
    Course.objects.select_for_update().filter(pk=course.pk).first()  # waits for an add under way
    ended = Course.objects.filter(pk=course.pk, state=CourseState.ACTIVE).update(
        state=CourseState.ENDED, end_reason=reason, ended_at=timezone.now(), version=F("version") + 1)
    if not ended:
        raise FieldError("course", "the course has already ended")
    for session in course.sessions.filter(state=State.SCHEDULED):
        sessions.transition(session, to=State.CANCELLED, at=timezone.now(), by=by,
                            expected_version=session.version, reason=f"Course ended: {reason}")
    for visit in course.therapy_visits.filter(state=VisitState.SCHEDULED):
        _visit_update(visit, None, state=VisitState.CANCELLED, end_reason=f"Course ended: {reason}")
    ScheduleChange.objects.create(course=course, kind=ChangeKind.ENDED, reason=reason, recorded_by=by)
    trail.record("end", object_type="course", object_id=course.pk, patient_id=course.patient_id,
                 detail={"reason_length": len(reason)})
    course.refresh_from_db()
    return course
