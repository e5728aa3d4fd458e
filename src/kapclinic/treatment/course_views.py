"""The course pages: planning a course from the chart, the course page (its sessions and
therapy visits, each moved or cancelled with a reason, sessions and boosters added, the
course ended, the history of changes) and the clinic's calendar."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kapclinic.accounts.permissions import Action, require, role_can
from kapclinic.accounts.scoping import get_for_user
from kapclinic.audit import trail
from kapclinic.patients.access import get_patient_for_user
from kapclinic.platform import extensions as ext
from kapclinic.platform.charts import local_text
from kapclinic.platform.idempotency import one_time_form
from kapclinic.treatment import calendar as clinic_calendar
from kapclinic.treatment import chairs, course_actions
from kapclinic.treatment.course_forms import AddSessionForm, CancelForm, CourseForm, EndCourseForm, MoveForm
from kapclinic.treatment.errors import FieldError, SessionConflict, StepRefused
from kapclinic.treatment.models import Course, CourseState, Session, State, TherapyVisit, VisitState


def _course_for_user(request: HttpRequest, patient_id: int, course_id: int, action: Action, *,
                     audit_read: bool = False) -> Course:
    courses = Course.objects.filter(patient_id=patient_id).select_related("patient__clinic",
                                                                          "clinician", "therapist")
    return get_for_user(request, courses, course_id, action, audit_read=audit_read)


def _warn_double_bookings(request: HttpRequest, sessions: list[Session], clinic_id: int) -> None:
    """Booked, with a warning for each chair also booked at an overlapping time (not refused:
    the person booking decides)."""
    for line in chairs.clash_words(sessions, clinic_id=clinic_id):
        messages.warning(request, f"Double-booked chair. {line}")


def _refusal(form, exc: FieldError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@require(Action.SESSION_SCHEDULE)
@require_http_methods(["GET", "POST"])
@one_time_form
def new_course(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.SESSION_SCHEDULE,
                                   audit_read=request.method == "GET")
    form = CourseForm(request.POST or None, clinic_id=patient.clinic_id)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            course = course_actions.plan_course(
                patient=patient, protocol=data["protocol"], first_dose_at=data["first_dose_at"],
                room=data["room"], chair=data["chair"], by=request.user, **form.people())
        except FieldError as exc:
            _refusal(form, exc)
        else:
            messages.success(request, f"Course planned: {course.sessions.count()} dosing sessions from "
                                      f"{course.first_dose_on:%a %d %b %Y}.")
            _warn_double_bookings(request, list(course.sessions.order_by("scheduled_at")),
                                  patient.clinic_id)
            return redirect("course", patient_id=patient.pk, course_id=course.pk)
    return render(request, "treatment/course_new.html",
                  {"patient": patient, "form": form, "places": chairs.offered(patient.clinic_id)},
                  status=422 if form.errors else 200)


def _rows(course: Course) -> list[dict[str, Any]]:
    """The course's sessions and therapy visits in time order, each with what may be done."""
    sessions = list(course.sessions.select_related("clinician").order_by("scheduled_at", "id"))
    visits = list(course.therapy_visits.select_related("therapist").order_by("scheduled_at", "id"))
    number = {s.pk: i for i, s in enumerate(sessions, start=1)}
    clashes = chairs.clashes_for(sessions, clinic_id=course.patient.clinic_id)
    rows = [{"kind": "dose", "at": s.scheduled_at, "record": s, "number": number[s.pk],
             "clashes": clashes.get(s.pk, []),
             "length": chairs.length_words(chairs.held_minutes(s.protocol, s.protocol_settings)),
             "what": s.protocol_label, "phase": s.course_phase, "state": s.state_words,
             "open": s.state == State.SCHEDULED, "ended": s.state in (State.CANCELLED, State.STOPPED),
             "reason": s.end_reason, "person": s.clinician, "where": " · ".join(
                 part for part in (s.room, s.chair and f"chair {s.chair}") if part)} for s in sessions]
    rows += [{"kind": v.kind, "at": v.scheduled_at, "record": v,
              "number": number.get(v.dose_session_id), "what": f"{v.get_kind_display()} therapy",
              "phase": "", "state": v.get_state_display(), "open": v.state == VisitState.SCHEDULED,
              "ended": v.state == VisitState.CANCELLED, "reason": v.end_reason, "person": v.therapist,
              "where": v.room} for v in visits]
    rows.sort(key=lambda row: (row["at"], row["kind"] != "preparation", row["kind"] != "dose"))
    return rows


def _last_place(course: Course) -> dict[str, str]:
    """An added session is offered the room and chair of the course's latest session."""
    last = course.sessions.exclude(room="").order_by("-scheduled_at").first()
    return {"room": last.room, "chair": last.chair} if last else {}


def course_page(request: HttpRequest, course: Course, *, status: int = 200,
                forms: dict[str, Any] | None = None) -> HttpResponse:
    role = request.membership.role
    if status != 200:  # a refused change shows the whole course again: that is a read too
        trail.record("read", object_type="course", object_id=course.pk, patient_id=course.patient_id)
    fading = course_actions.booster_offered(course)
    first = course.sessions.order_by("scheduled_at").first()
    # what stands between the patient and a dose now (eligibility, consent), shown early
    blockers = ext.dose_blockers(course.patient, first.drug, first.route) if first else []
    changes = list(course.changes.select_related("recorded_by", "session", "therapy_visit"))
    context = {
        "course": course, "patient": course.patient, "rows": _rows(course), "changes": changes,
        "fading": fading, "blockers": blockers, "active": course.state == CourseState.ACTIVE,
        "can_change": role_can(role, Action.SESSION_SCHEDULE),
        "forms": forms or {},
        "add_form": (forms or {}).get("add") or AddSessionForm(initial=_last_place(course)),
        "places": chairs.offered(course.patient.clinic_id),
        "end_form": (forms or {}).get("end") or EndCourseForm(),
        "failed": (forms or {}).get("failed"),
    }
    return render(request, "treatment/course.html", context, status=status)


@require(Action.SESSION_VIEW)
@require_GET
def course_detail(request: HttpRequest, patient_id: int, course_id: int) -> HttpResponse:
    course = _course_for_user(request, patient_id, course_id, Action.SESSION_VIEW, audit_read=True)
    return course_page(request, course)


def _target(request: HttpRequest, course: Course, kind: str, record_id: int) -> Session | TherapyVisit:
    """A session or therapy visit of this course: anything else is a 404, audited as a refusal
    here and in the clinic owning the id (as every scoped lookup is)."""
    rows = course.sessions.all() if kind == "session" else course.therapy_visits.all()
    return get_for_user(request, rows.select_related("patient__clinic"), record_id,
                        Action.SESSION_SCHEDULE, audit_read=False)


def _change(request: HttpRequest, patient_id: int, course_id: int, kind: str, record_id: int,
            change: str) -> HttpResponse:
    """Move or cancel one session or therapy visit of the course, with the reason."""
    course = _course_for_user(request, patient_id, course_id, Action.SESSION_SCHEDULE)
    target = _target(request, course, kind, record_id)
    form = (MoveForm if change == "move" else CancelForm)(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if change == "move" and kind == "session":
                course_actions.move_session(target, to=data["to"], reason=data["reason"], by=request.user,
                                            expected_version=data["version"])
            elif change == "move":
                course_actions.move_therapy_visit(target, to=data["to"], reason=data["reason"],
                                                  by=request.user, expected_version=data["version"])
            elif kind == "session":
                if target.version != data["version"]:
                    raise SessionConflict(target.state, target.version)
                course_actions.cancel_session(target, reason=data["reason"], by=request.user)
            else:
                course_actions.cancel_therapy_visit(target, reason=data["reason"], by=request.user,
                                                    expected_version=data["version"])
        except FieldError as exc:
            _refusal(form, exc)
        except (SessionConflict, StepRefused) as exc:
            form.add_error(None, str(exc))
        else:
            done = "moved" if change == "move" else "cancelled"
            messages.success(request, f"{'Session' if kind == 'session' else 'Visit'} {done}.")
            if change == "move" and kind == "session":
                target.refresh_from_db()
                _warn_double_bookings(request, [target], course.patient.clinic_id)
            return redirect("course", patient_id=course.patient_id, course_id=course.pk)
    return course_page(request, course, status=422, forms={"failed": {"change": change, "form": form}})


@require(Action.SESSION_SCHEDULE)
@require_POST
@one_time_form
def move_session(request: HttpRequest, patient_id: int, course_id: int, session_id: int) -> HttpResponse:
    return _change(request, patient_id, course_id, "session", session_id, "move")


@require(Action.SESSION_SCHEDULE)
@require_POST
@one_time_form
def cancel_session(request: HttpRequest, patient_id: int, course_id: int, session_id: int) -> HttpResponse:
    return _change(request, patient_id, course_id, "session", session_id, "cancel")


@require(Action.SESSION_SCHEDULE)
@require_POST
@one_time_form
def move_visit(request: HttpRequest, patient_id: int, course_id: int, therapy_visit_id: int) -> HttpResponse:
    return _change(request, patient_id, course_id, "visit", therapy_visit_id, "move")


@require(Action.SESSION_SCHEDULE)
@require_POST
@one_time_form
def cancel_visit(request: HttpRequest, patient_id: int, course_id: int,
                 therapy_visit_id: int) -> HttpResponse:
    return _change(request, patient_id, course_id, "visit", therapy_visit_id, "cancel")


@require(Action.SESSION_SCHEDULE)
@require_POST
@one_time_form
def add_session(request: HttpRequest, patient_id: int, course_id: int) -> HttpResponse:
    course = _course_for_user(request, patient_id, course_id, Action.SESSION_SCHEDULE)
    form = AddSessionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            session = course_actions.add_session(course, at=data["at"], reason=data["reason"],
                                                 booster=data["booster"], by=request.user,
                                                 room=data["room"], chair=data["chair"])
        except FieldError as exc:
            _refusal(form, exc)
        else:
            words = "Booster session" if data["booster"] else "Session"
            messages.success(request, f"{words} booked for {local_text(session.scheduled_at)}.")
            _warn_double_bookings(request, [session], course.patient.clinic_id)
            return redirect("course", patient_id=course.patient_id, course_id=course.pk)
    return course_page(request, course, status=422, forms={"add": form})


@require(Action.SESSION_SCHEDULE)
@require_POST
@one_time_form
def end_course(request: HttpRequest, patient_id: int, course_id: int) -> HttpResponse:
    course = _course_for_user(request, patient_id, course_id, Action.SESSION_SCHEDULE)
    form = EndCourseForm(request.POST)
    if form.is_valid():
        try:
            course_actions.end_course(course, reason=form.cleaned_data["reason"], by=request.user)
        except FieldError as exc:
            _refusal(form, exc)
        else:
            messages.success(request, "Course ended; what was still scheduled is cancelled.")
            return redirect("course", patient_id=course.patient_id, course_id=course.pk)
    return course_page(request, course, status=422, forms={"end": form})


@require(Action.SESSION_VIEW)
@require_GET
def calendar(request: HttpRequest) -> HttpResponse:
    """The clinic's day or week, by room and chair or by clinician."""
    view = request.GET.get("view") if request.GET.get("view") in clinic_calendar.VIEWS else "week"
    by = request.GET.get("by") if request.GET.get("by") in clinic_calendar.GROUPINGS else "room"
    today = timezone.localdate()
    try:
        day = date.fromisoformat(request.GET.get("date") or today.isoformat())
    except ValueError:
        day, bad_date = today, True
    else:
        bad_date = not date(2000, 1, 1) <= day <= date(2100, 12, 31)
        day = today if bad_date else day
    shown = clinic_calendar.build(request.membership.clinic_id, day, view=view, by=by)
    clinic_calendar.audit(shown)
    step = 7 if view == "week" else 1
    context = {"cal": shown, "today": today, "bad_date": bad_date,
               "previous": shown.start - timedelta(days=step), "next": shown.start + timedelta(days=step)}
    return render(request, "treatment/calendar.html", context)
