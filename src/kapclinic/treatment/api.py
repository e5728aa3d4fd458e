"""API: protocols, dosing sessions, their steps, checklist, dose and vital signs, the room board.

Refusals are problem details: 422 naming the field, 409 naming every unmet guard of a step
(or that another station moved the session first)."""

# No "from __future__ import annotations": django-ninja reads the annotations at import.

from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Schema
from ninja import Status as Reply
from pydantic import ConfigDict

from kapclinic.accounts.api_auth import GuardedRouter
from kapclinic.accounts.models import User
from kapclinic.accounts.permissions import Action, require, role_can
from kapclinic.audit import trail
from kapclinic.clinical import protocols as core
from kapclinic.patients.access import get_patient_for_user
from kapclinic.platform.problems import field_refusal, problem_response
from kapclinic.treatment import actions, board, infusion, reads
from kapclinic.treatment.errors import FieldError, SessionConflict, StepRefused
from kapclinic.treatment.facts import current_administration
from kapclinic.treatment.models import (
    AdministrationEvent,
    AdministrationEventKind,
    ChecklistItem,
    Session,
    VitalReading,
)
from kapclinic.treatment.protocols import session_protocol
from kapclinic.treatment.reads import session_for_user
from kapclinic.treatment.second_clinician import member_named

router = GuardedRouter(tags=["sessions"])
MAX_PAGE = 100_000


def _refused_step(request: HttpRequest, exc: StepRefused) -> HttpResponse:
    return problem_response(request, 409, "The session cannot take this step",
                            " ".join(u.message for u in exc.unmet),
                            [{"guard": u.guard, "message": u.message} for u in exc.unmet])


def _conflict(request: HttpRequest, exc: SessionConflict) -> HttpResponse:
    return problem_response(request, 409, "Changed by someone else", str(exc),
                            [{"field": "version",
                              "message": f"the session is now at version {exc.version}"}])


class ScheduleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    protocol: str = Field(max_length=80)
    scheduled_at: datetime
    room: str = Field("", max_length=60)
    chair: str = Field("", max_length=60)


class AdministrationIn(Schema):
    model_config = ConfigDict(extra="forbid")

    dose_mg_per_kg: float | None = None
    dose_mg: float | None = None
    product_ndc: str = Field("", max_length=20)
    concentration_mg_per_ml: float | None = None
    lot: str = Field("", max_length=60)
    rate_mg_per_min: float | None = None
    override_reason: str = Field("", max_length=4000)
    second_clinician: str = Field("", max_length=150, description="the second clinician's username")
    second_password: str = Field("", max_length=200)
    second_code: str = Field("", max_length=20)


class AdministrationAt(AdministrationIn):
    at: datetime | None = Field(None, description="when the dose started; default now")
    late_reason: str = Field("", max_length=4000)


class ChecklistAnswer(Schema):
    model_config = ConfigDict(extra="forbid")

    answer: str = Field("yes", max_length=20)
    value: float | None = None
    note: str = Field("", max_length=4000)


class TransitionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(max_length=20)
    at: datetime
    version: int | None = Field(None, ge=1, description="the version last read: a stale one is 409")
    reason: str = Field("", max_length=4000)
    late_reason: str = Field("", max_length=4000)
    checklist: dict[ChecklistItem, ChecklistAnswer | str] | None = None
    administration: AdministrationIn | None = None


class ChecklistIn(ChecklistAnswer):
    item: ChecklistItem
    at: datetime
    late_reason: str = Field("", max_length=4000)


class VitalsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    observed_at: datetime
    sbp_mmhg: float | None = None
    dbp_mmhg: float | None = None
    heart_rate_bpm: float | None = None
    spo2_pct: float | None = None
    resp_rate_per_min: float | None = None
    temp_c: float | None = None
    moaas: int | None = Field(None, description="MOAA/S, 0-5")
    late_reason: str = Field("", max_length=4000)


class AdministrationEventIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: AdministrationEventKind = Field(description="pause, resume, stop (an infusion) or device")
    at: datetime | None = Field(None, description="when it happened; default now")
    reason: str = Field("", max_length=4000, description="why (required to pause or stop)")
    device_number: int | None = Field(None, ge=1, le=20, description="1, 2, 3; default the next")
    alert_id: int | None = Field(None, ge=1, description="the alert a pause answers (acknowledged "
                                                         "with the reason)")
    late_reason: str = Field("", max_length=4000)


def _second(session: Session, username: str) -> User | None:
    if not username:
        return None
    found = member_named(session, username)
    if found is None:
        raise field_refusal("administration.second_clinician",
                            f"there is no user '{username}' in this clinic")
    return found


@router.get("/protocols")
@require(Action.SESSION_VIEW)
def list_protocols(request: HttpRequest):
    """The protocols sessions may run under (shipped and the clinic's own folder)."""
    return [p.summary() | {"label": p.label, "checklist": list(p.checklist),
                           "min_observation_minutes": p.min_observation_minutes}
            for p in core.load_all().values()]


@router.post("/patients/{patient_id}/sessions", response={201: dict})
@require(Action.SESSION_SCHEDULE)
def schedule(request: HttpRequest, patient_id: int, payload: ScheduleIn):
    patient = get_patient_for_user(request, patient_id, Action.SESSION_SCHEDULE, audit_read=False)
    try:
        session = actions.schedule_session(patient=patient, protocol=payload.protocol,
                                           scheduled_at=payload.scheduled_at, room=payload.room,
                                           chair=payload.chair, by=request.user)
    except FieldError as exc:
        raise field_refusal(exc.field, exc.message) from exc
    return Reply(201, reads.session_detail(session))


@router.get("/sessions/{session_id}")
@require(Action.SESSION_VIEW)
def read_session(request: HttpRequest, session_id: int):
    """The session: its state, steps, checklist, dose, vital signs and alerts."""
    session = session_for_user(request, session_id, Action.SESSION_VIEW, audit_read=True)
    return reads.session_detail(session) | _dose_course(session)


def _dose_course(session: Session) -> dict[str, Any]:
    """The pauses, resumes, stops and devices after the dose started, and where it stands."""
    events = list(AdministrationEvent.objects.filter(session=session).order_by("at", "id"))
    given = current_administration(session)
    return {"administration_events": [infusion.event_out(e) for e in events],
            "dose_course": infusion.summary(given, events, session_protocol(session), timezone.now())}


@router.post("/sessions/{session_id}/transitions")
@require(Action.SESSION_RUN)
def take_step(request: HttpRequest, session_id: int, payload: TransitionIn):
    """Move the session on (``to``, at ``at``), with the fields that step needs."""
    session = session_for_user(request, session_id, Action.SESSION_RUN)
    administration: dict[str, Any] | None = None
    if payload.administration is not None:
        if not role_can(request.membership.role, Action.DOSE_ADMINISTER):
            raise field_refusal("administration", "your role may not record a dose")
        administration = payload.administration.model_dump()
        administration["second_clinician"] = _second(session, administration["second_clinician"])
    checklist = None
    if payload.checklist:
        checklist = {str(item): (answer.model_dump() if isinstance(answer, ChecklistAnswer) else answer)
                     for item, answer in payload.checklist.items()}
    try:
        session = actions.transition(session, to=payload.to, at=payload.at, by=request.user,
                                     expected_version=payload.version, reason=payload.reason,
                                     late_reason=payload.late_reason, checklist=checklist,
                                     administration=administration)
    except StepRefused as exc:
        return _refused_step(request, exc)
    except SessionConflict as exc:
        return _conflict(request, exc)
    except FieldError as exc:
        prefix = "administration." if exc.field.startswith(("dose", "weight", "second", "override",
                                                            "concentration", "rate")) else ""
        raise field_refusal(prefix + exc.field, exc.message) from exc
    return reads.session_detail(session)


@router.post("/sessions/{session_id}/checklist", response={201: dict})
@require(Action.SESSION_INTENTION)
def answer_checklist(request: HttpRequest, session_id: int, payload: ChecklistIn):
    """One checklist answer. A therapist writes the note of intention only."""
    session = session_for_user(request, session_id, Action.SESSION_INTENTION)
    if payload.item != ChecklistItem.INTENTION_NOTE and not role_can(request.membership.role,
                                                                     Action.SESSION_RUN):
        raise field_refusal("item", "your role records the note of intention only")
    try:
        entry = actions.record_checklist(session, item=payload.item, answer=payload.answer,
                                         value=payload.value, note=payload.note, at=payload.at,
                                         late_reason=payload.late_reason, by=request.user)
    except FieldError as exc:
        raise field_refusal(exc.field, exc.message) from exc
    return Reply(201, reads.checklist_out(entry))


@router.post("/sessions/{session_id}/administration", response={201: dict})
@require(Action.DOSE_ADMINISTER)
def administer(request: HttpRequest, session_id: int, payload: AdministrationAt):
    """Record the dose (before or during dosing); outside the protocol with the reason and
    the second clinician's password (and code)."""
    session = session_for_user(request, session_id, Action.DOSE_ADMINISTER)
    fields = payload.model_dump(exclude={"at", "late_reason"})
    fields["second_clinician"] = _second(session, fields["second_clinician"])
    try:
        given = actions.record_administration(session, at=payload.at or timezone.now(),
                                              by=request.user, late_reason=payload.late_reason,
                                              **fields)
    except FieldError as exc:
        raise field_refusal(exc.field, exc.message) from exc
    return Reply(201, reads.administration_out(given))


@router.post("/sessions/{session_id}/vitals", response={201: dict, 200: dict})
@require(Action.SESSION_RUN)
def record_vitals(request: HttpRequest, session_id: int, payload: VitalsIn):
    """A reading (any subset of the vital signs): the alerts it raised come back with it.
    The same reading sent again is stored once (200 with the first)."""
    session = session_for_user(request, session_id, Action.SESSION_RUN)
    values = payload.model_dump(exclude={"observed_at", "late_reason"})
    try:
        recorded = actions.record_vitals(session, observed_at=payload.observed_at, values=values,
                                         late_reason=payload.late_reason, by=request.user)
    except FieldError as exc:
        raise field_refusal(exc.field, exc.message) from exc
    pause_url = f"/api/v1/sessions/{session.pk}/administration/events"
    body = {"reading": reads.reading_out(recorded.reading),
            "alerts": [reads.alert_out(a) | _answers(a.pk, recorded.recommended, pause_url)
                       for a in recorded.alerts],
            "warnings": recorded.warnings, "stored": recorded.created}
    return Reply(201 if recorded.created else 200, body)


def _answers(alert_id: int, recommended: dict[int, tuple[str, ...]], pause_url: str) -> dict:
    """The alert's recommended action codes; "pause the infusion" with the request that does
    it (the pause acknowledges the alert with its reason)."""
    codes = list(recommended.get(alert_id, ()))
    out: dict[str, Any] = {"actions": codes}
    if "pause_infusion" in codes:
        out["pause"] = {"method": "POST", "url": pause_url,
                        "body": {"kind": "pause", "alert_id": alert_id, "reason": "..."}}
    return out


@router.post("/sessions/{session_id}/administration/events", response={201: dict, 200: dict})
@require(Action.DOSE_ADMINISTER)
def administration_event(request: HttpRequest, session_id: int, payload: AdministrationEventIn):
    """An infusion paused (with why; ``alert_id`` = the alert it answers, acknowledged with
    the reason), resumed or stopped (with why), or an esketamine device given (numbered in
    order, 28 mg each). The same event sent again is stored once (200 with the first)."""
    session = session_for_user(request, session_id, Action.DOSE_ADMINISTER)
    if payload.alert_id is not None and not role_can(request.membership.role, Action.ALERT_ACKNOWLEDGE):
        raise field_refusal("alert_id", "your role may not acknowledge an alert")
    try:
        recorded = actions.record_administration_event(
            session, kind=payload.kind, at=payload.at or timezone.now(), by=request.user,
            reason=payload.reason, device_number=payload.device_number, alert=payload.alert_id,
            late_reason=payload.late_reason)
    except FieldError as exc:
        raise field_refusal(exc.field, exc.message) from exc
    body = {"event": infusion.event_out(recorded.event), "stored": recorded.created,
            "warnings": recorded.warnings} | _dose_course(session)
    return Reply(201 if recorded.created else 200, body)


@router.post("/sessions/{session_id}/dose-confirmation", response={200: dict})
@require(Action.DOSE_CONFIRM)
def check_second_clinician(request: HttpRequest, session_id: int):
    """Whether the caller may be the second clinician for this session's dose (their role and
    clinic); the confirmation itself is given with the dose, with their password."""
    session = session_for_user(request, session_id, Action.DOSE_CONFIRM)
    return {"session": session.pk, "may_confirm": True}


@router.get("/patients/{patient_id}/vitals")
@require(Action.SESSION_VIEW)
def patient_vitals(request: HttpRequest, patient_id: int, page: int = Query(1, ge=1, le=MAX_PAGE)):
    """The patient's readings across sessions, newest first (entered-in-error ones marked): as
    readings (``results``) and as observations (``items``: LOINC code, value, UCUM unit, time,
    source ``manual`` or ``device`` and the device)."""
    patient = get_patient_for_user(request, patient_id, Action.SESSION_VIEW, audit_read=False)
    found = VitalReading.objects.filter(patient=patient).order_by("-observed_at", "-id")
    size = settings.KAPCLINIC_PAGE_SIZE
    count = found.count()
    results = list(found[(page - 1) * size: page * size])
    trail.record_many([trail.Event("list", "vital_reading", r.pk, patient_id=patient.pk)
                       for r in results] or [trail.Event("list", "vital_reading", "", patient_id=patient.pk)])
    return {"count": count, "page": page, "pages": max(1, -(-count // size)),
            "results": [reads.reading_out(r) for r in results],
            "items": [item for r in results for item in reads.reading_items(r)]}


@router.get("/room-board")
@require(Action.SESSION_VIEW)
def room_board(request: HttpRequest):
    """Every session in progress in the clinic: state, room and chair, time since the dose,
    readings overdue, open alerts."""
    rows = board.in_progress(request.membership.clinic_id, timezone.now())
    board.audit(rows)
    return {"sessions": rows}
