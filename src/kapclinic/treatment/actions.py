"""Every write of the treatment app; each an ``@action`` (one transaction with its audit entry).

    schedule_session(*, patient, protocol, scheduled_at, room="", chair="", by) -> Session
    transition(session, *, to, at, by, expected_version=None, reason="", late_reason="",
               checklist=None, administration=None) -> Session
        ONE compare-and-set step: the facts are gathered (dose clearances from the registry,
        the checklist, today's weight, pre-dose vitals against the protocol's holds, the dose,
        observation and discharge criteria), and the step is refused (StepRefused, every
        unmet guard named) or applied once (SessionConflict when another station moved it
        first). ``checklist`` ({item: answer or {answer, value, note}}) and ``administration``
        (record_administration's fields) are recorded first, in the same transaction.
    record_checklist(session, *, item, answer, at, by, value=None, note="", late_reason="")
        -> ChecklistEntry    (the intention note: item="intention_note", answer="recorded", note=...)
    record_administration(session, *, at, by, dose_mg_per_kg=None, dose_mg=None, product_ndc="",
                          concentration_mg_per_ml=None, lot="", rate_mg_per_min=None,
                          override_reason="", second_clinician=None, second_password="",
                          second_code="", late_reason="") -> Administration
        the dose through clinical.protocols.calculate_dose with today's weight; outside the
        protocol only with a written reason and a second clinician who authenticates now
        (password, and their authenticator code when enrolled); both audited.
    record_vitals(session, *, observed_at, by, values, late_reason="") -> Recorded
        (values: any subset of sbp_mmhg, dbp_mmhg, heart_rate_bpm, spo2_pct, resp_rate_per_min,
        temp_c, moaas); plausibility refused naming the field (FieldError); the same reading
        twice stored once; raises the monitoring alerts (alerts.actions.raise_alert) and
        returns them.
    mark_vitals_entered_in_error(reading, *, reason, by) -> bool
    record_administration_event(session, *, kind, at, by, reason="", device_number=None,
                                alert=None, late_reason="") -> EventRecorded
        what happened to the dose after it started, appended (AdministrationEvent):
        kind "pause" (reason required; ``alert`` = the alert that said "pause the infusion",
        which the pause then acknowledges with its reason), "resume", "stop" (reason required;
        writes the administration's ended_at) for an infusion while dosing; "device" for a
        nasal spray (esketamine: 28 mg a device, clinical.md 3.4 Device row), numbered 1, 2,
        3 in order (default: the next), while dosing or monitoring. The same event sent twice
        is stored once (created=False); a device sooner than the label's 5-minute rest after
        the previous one is kept with a warning. For pages: a Pause button on an open alert
        whose ``Recorded.recommended`` actions include "pause_infusion", Resume while
        paused, Stop, and "Device N given" for esketamine; ``infusion.summary`` says where the
        dose stands (running/paused/stopped, devices given of expected).

Errors: errors.FieldError (422, names the field), errors.StepRefused (409, the unmet guards),
errors.SessionConflict (409, someone else moved it first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.alerts.actions import acknowledge_alert
from kapclinic.alerts.models import Alert
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.audit.corrections import mark_entered_in_error
from kapclinic.clinical import protocols as core
from kapclinic.clinical.sessions import DISCHARGE_SCORE_RANGE, UnmetGuard, check_transition, facts_for
from kapclinic.clinical.sessions import observations as observation_lists
from kapclinic.patients.models import Patient
from kapclinic.platform import extensions as ext
from kapclinic.treatment import doses, infusion, vitals
from kapclinic.treatment import facts as gathered
from kapclinic.treatment.checks import (
    CLOCK_SKEW,
    check_session_time,
    check_time,
    text,
)
from kapclinic.treatment.errors import ConfirmationRefused, FieldError, SessionConflict, StepRefused
from kapclinic.treatment.models import (
    ALERT_SOURCE,
    IN_PROGRESS,
    READING_RECORD,
    Administration,
    AdministrationEvent,
    AdministrationEventKind,
    Answer,
    ChecklistEntry,
    ChecklistItem,
    Course,
    Session,
    SessionEvent,
    SessionObservation,
    State,
    VitalReading,
)
from kapclinic.treatment.protocols import (
    clinic_protocol,
    fingerprint,
    session_protocol,
)
from kapclinic.treatment.second_clinician import confirm_second_clinician

# the most concentrated ketamine product the reference lists (clinical.md 6.2: 100 mg/mL vials)
MOST_CONCENTRATED_MG_PER_ML = 100.0
_text = text


# ---- scheduling ----------------------------------------------------------------------------

@action
def schedule_session(*, patient: Patient, protocol: str, scheduled_at: datetime, room: str = "",
                     chair: str = "", by: User | None, clinician: User | None = None,
                     course: Course | None = None, course_phase: str = "") -> Session:
    """A session of ``patient`` under ``protocol`` (its id), with the clinic's settings for it
    kept on the session; in a course, at its place there (``course_phase``)."""
    try:
        chosen = clinic_protocol(protocol, patient.clinic_id)
    except core.ProtocolError as exc:
        raise FieldError("protocol", str(exc)) from exc
    if scheduled_at.tzinfo is None:
        raise FieldError("scheduled_at", "needs a UTC offset (e.g. 2026-11-25T09:30:00-05:00)")
    session = Session.objects.create(
        patient=patient, protocol=chosen.id, protocol_version=chosen.version_id,
        protocol_hash=fingerprint(chosen),
        protocol_settings={"values": dict(chosen.chosen), "preset": chosen.preset},
        drug=chosen.drug, route=chosen.route, scheduled_at=scheduled_at,
        room=_text("room", room)[:60], chair=_text("chair", chair)[:60], state=State.SCHEDULED,
        state_at=scheduled_at, created_by=by, clinician=clinician, course=course,
        course_phase=course_phase)
    SessionEvent.objects.create(session=session, from_state="", to_state=State.SCHEDULED,
                                at=timezone.now(), recorded_by=by, facts={})
    trail.record("create", object_type="session", object_id=session.pk, patient_id=patient.pk,
                 detail={"protocol": chosen.version_id, "scheduled_at": scheduled_at.isoformat()})
    return session


# ---- the checklist -------------------------------------------------------------------------

def _checklist_entry(session: Session, item: str, answer: str, at: datetime, by: User | None,
                     value: float | None, note: str, late_reason: str) -> ChecklistEntry:
    if item not in ChecklistItem.values:
        raise FieldError("item", f"'{item}' is not a checklist item; known: "
                                 f"{', '.join(ChecklistItem.values)}")
    if answer not in Answer.values:
        raise FieldError("answer", f"'{answer}' is not one of {', '.join(Answer.values)}")
    if session.state in (State.DISCHARGED, State.CANCELLED):
        raise FieldError("session", "the session has ended: nothing more is recorded in it")
    check_session_time(session, at, "at", late_reason=late_reason)
    note = _text("note", note)
    if item == ChecklistItem.INTENTION_NOTE and not note:
        raise FieldError("note", "write the intention for this session")
    if item in (ChecklistItem.WEIGHT_TODAY, ChecklistItem.DISCHARGE_SCORE):
        if value is None:
            raise FieldError("value", "give the " + ("weight in kg" if item == ChecklistItem.WEIGHT_TODAY
                                                     else "score"))
        if item == ChecklistItem.WEIGHT_TODAY:
            lim = core.dose.weight_limit()
            if not lim.reject_below <= value <= lim.reject_above:
                raise FieldError("value", f"{value:g} kg is outside the plausible range "
                                          f"{lim.reject_below:g}-{lim.reject_above:g} kg: check the "
                                          "entry and its units (kg, not lb)")
        elif not DISCHARGE_SCORE_RANGE[0] <= value <= DISCHARGE_SCORE_RANGE[1]:
            low, high = DISCHARGE_SCORE_RANGE
            raise FieldError("value", f"a discharge score is from {low} to {high}")
    return ChecklistEntry.objects.create(session=session, item=item, answer=answer, value=value,
                                         note=note, at=at, recorded_by=by,
                                         late_reason=_text("late_reason", late_reason))


@action
def record_checklist(session: Session, *, item: str, answer: str, at: datetime, by: User | None,
                     value: float | None = None, note: str = "", late_reason: str = "") -> ChecklistEntry:
    """One answer to one checklist item (the latest answer counts; earlier ones stay)."""
    entry = _checklist_entry(session, item, answer, at, by, value, note, late_reason)
    trail.record("create", object_type="checklist_entry", object_id=entry.pk,
                 patient_id=session.patient_id, detail={"session": session.pk, "item": item,
                                                        "answer": answer})
    return entry


# ---- side effects and interventions --------------------------------------------------------

@action
def record_observation(session: Session, *, kind: str, code: str, at: datetime, by: User | None,
                       note: str = "", late_reason: str = "") -> SessionObservation:
    """A side effect seen or an intervention given, while the session is in progress."""
    items = observation_lists.KINDS.get(kind)
    if items is None:
        raise FieldError("kind", "must be side_effect or intervention")
    if code not in {item.code for item in items}:
        raise FieldError("code", f"'{code}' is not on the list; known: "
                                 f"{', '.join(item.code for item in items)}")
    if session.state not in IN_PROGRESS:
        raise FieldError("session", f"is {session.state_words}: side effects and interventions are "
                                    "recorded while it is in progress")
    check_session_time(session, at, "at", late_reason=late_reason)
    note = _text("note", note)
    if code == "other" and not note:
        raise FieldError("note", "say what it was")
    seen = SessionObservation.objects.create(session=session, kind=kind, code=code, note=note, at=at,
                                             recorded_by=by, late_reason=_text("late_reason", late_reason))
    trail.record("create", object_type="session_observation", object_id=seen.pk,
                 patient_id=session.patient_id, detail={"session": session.pk, "kind": kind, "code": code})
    return seen


# ---- the administration --------------------------------------------------------------------

@action
def record_administration(session: Session, *, at: datetime, by: User,
                          dose_mg_per_kg: float | None = None, dose_mg: float | None = None,
                          product_ndc: str = "", concentration_mg_per_ml: float | None = None,
                          lot: str = "", rate_mg_per_min: float | None = None,
                          override_reason: str = "", second_clinician: User | None = None,
                          second_password: str = "", second_code: str = "",
                          late_reason: str = "") -> Administration:
    """The dose given from ``at``, calculated against the session's protocol with today's
    weight. Outside the protocol (above the cap, outside the range) only with a written
    reason and a second clinician who authenticates now (ConfirmationRefused otherwise)."""
    if session.state not in (State.CLEARED, State.DOSING):
        raise FieldError("session", f"a dose is recorded once the session is cleared to dose "
                                    f"(it is {session.state_words})")
    check_session_time(session, at, "at", late_reason=late_reason)
    given = gathered.current_administration(session)
    if given is not None:
        raise FieldError("session", f"a dose is already recorded in this session ({given.dose_mg:g} mg "
                                    f"from {timezone.localtime(given.started_at):%H:%M}): one dose per "
                                    "session; mark that one entered in error to record it again")
    protocol = session_protocol(session)
    weight = gathered.latest_checklist(session).get(ChecklistItem.WEIGHT_TODAY)
    day = gathered.weight_day(session, at, weight)
    try:
        result = core.calculate_dose(
            protocol, None if weight is None else weight.value, dose_mg_per_kg=dose_mg_per_kg,
            dose_mg=dose_mg, weight_date=None if weight is None else gathered.local_date(weight.at, session),
            today=day, **gathered.dose_context(session))
    except core.DoseInputError as exc:
        raise FieldError(exc.field, exc.problem) from exc
    for name, number in (("concentration_mg_per_ml", concentration_mg_per_ml),
                         ("rate_mg_per_min", rate_mg_per_min)):
        if number is not None and not (isinstance(number, int | float) and math.isfinite(number)
                                       and number > 0):
            raise FieldError(name, "must be a number above zero")
    if concentration_mg_per_ml is not None and concentration_mg_per_ml > MOST_CONCENTRATED_MG_PER_ML:
        raise FieldError("concentration_mg_per_ml",
                         f"is above {MOST_CONCENTRATED_MG_PER_ML:g} mg/mL, the most concentrated "
                         "ketamine product (100 mg/mL vials): check the entry")
    if rate_mg_per_min is not None and rate_mg_per_min > result.dose_mg:
        raise FieldError("rate_mg_per_min", f"{rate_mg_per_min:g} mg/min would give the whole "
                                            f"{result.dose_mg:g} mg dose in under a minute: check the entry")
    reason = _text("override_reason", override_reason)
    confirmed_at = None
    if not result.within_protocol:
        if not reason:
            raise FieldError("override_reason", " ".join(result.messages))
        if second_clinician is None:
            raise FieldError("second_clinician", "a dose outside the protocol needs a second "
                                                 "clinician's confirmation")
        confirm_second_clinician(session, by=by, second=second_clinician, password=second_password,
                                 code=second_code, prescriber_needed=True)
        confirmed_at = timezone.now()
    administration = Administration.objects.create(
        session=session, drug=session.drug, product_ndc=_text("product_ndc", product_ndc)[:20],
        concentration_mg_per_ml=concentration_mg_per_ml, lot=_text("lot", lot)[:60],
        route=session.route, dose_mg=result.dose_mg, dose_mg_per_kg=result.dose_mg_per_kg,
        weight_kg=result.weight_kg, weight_measured_on=None if weight is None
        else gathered.local_date(weight.at, session),
        started_at=at, rate_mg_per_min=rate_mg_per_min, within_protocol=result.within_protocol,
        calculation=result.to_dict(), override_reason=reason if not result.within_protocol else "",
        second_clinician=second_clinician if confirmed_at else None,
        second_clinician_confirmed_at=confirmed_at, administered_by=by,
        late_reason=_text("late_reason", late_reason))
    trail.record("create", object_type="administration", object_id=administration.pk,
                 patient_id=session.patient_id,
                 detail={"session": session.pk, "dose_mg": result.dose_mg,
                         "within_protocol": result.within_protocol,
                         "second_clinician": second_clinician.pk if confirmed_at else None})
    # the measures anchored to this dose are scheduled in the same transaction
    ext.dose_given(session.patient, doses.as_dose(session, administration))
    return administration


# ---- the one transition --------------------------------------------------------------------

def _record_step_checklist(session: Session, checklist: dict[str, Any], at: datetime,
                           by: User | None, late_reason: str) -> None:
    for item, given in checklist.items():
        if isinstance(given, dict):
            answer, value, note = (given.get("answer", Answer.YES), given.get("value"),
                                   given.get("note", ""))
        else:
            answer, value, note = str(given), None, ""
        entry = _checklist_entry(session, item, answer, at, by, value, note, late_reason)
        trail.record("create", object_type="checklist_entry", object_id=entry.pk,
                     patient_id=session.patient_id,
                     detail={"session": session.pk, "item": item, "answer": answer})


def with_clearance(unmet: list[UnmetGuard], blockers: list[str]) -> list[UnmetGuard]:
    """The registry's reasons (eligibility, consent) in their own words, in place of the
    core's generic ones: what a refused step says, and what the session page lists as still
    needed before a step."""
    generic = {"consent_current", "eligibility_signed"}
    if not any(u.guard in generic for u in unmet):
        return unmet
    return [*(UnmetGuard("dose_clearance", reason) for reason in blockers),
            *(u for u in unmet if u.guard not in generic)]


def _already_in_session(session: Session, at: datetime) -> list[UnmetGuard]:
    """A patient is in one session at a time: another of theirs still in progress, checked in
    by ``at``, holds this check-in (a session entered afterwards for an earlier day does not)."""
    other = (Session.objects.filter(patient_id=session.patient_id, state__in=IN_PROGRESS,
                                    events__to_state=State.CHECKED_IN, events__at__lte=at)
             .exclude(pk=session.pk).order_by("scheduled_at").first())
    if other is None:
        return []
    local = timezone.localtime(other.scheduled_at, ZoneInfo(session.patient.clinic.time_zone))
    return [UnmetGuard("no_other_session_in_progress",
                       f"The patient is already in another session ({other.state_words}, booked "
                       f"{local:%Y-%m-%d %H:%M}): discharge, stop or cancel that one first.")]


@action
def transition(session: Session, *, to: str, at: datetime, by: User | None,
               expected_version: int | None = None, reason: str = "", late_reason: str = "",
               checklist: dict[str, Any] | None = None,
               administration: dict[str, Any] | None = None) -> Session:
    """Move ``session`` to state ``to`` at clinical time ``at``, once. Refused with every
    unmet guard (StepRefused) or, when someone else moved it first, SessionConflict; in
    either case nothing is kept."""
    if to not in State.values:
        raise FieldError("to", f"'{to}' is not a session state; known: {', '.join(State.values)}")
    session = Session.objects.select_related("patient__clinic").get(pk=session.pk)
    if expected_version is not None and session.version != expected_version:
        raise SessionConflict(session.state, session.version)
    # a booked session is checked in or cancelled on any day (cancelled weeks ahead)
    check_session_time(session, at, "at", late_reason=late_reason,
                       from_booking=session.state == State.SCHEDULED)
    reason = _text("reason", reason)
    if at < session.state_at and session.state != State.SCHEDULED:
        raise FieldError("at", f"is before the session's previous step "
                               f"({session.state_at.isoformat()})")
    protocol = session_protocol(session)
    illegal = check_transition(session.state, to, facts_for(protocol))
    if illegal and illegal[0].guard == "allowed_transition":
        raise StepRefused(illegal)
    if checklist:
        _record_step_checklist(session, checklist, at, by, late_reason)
    if administration is not None and to == State.DOSING:
        record_administration(session, at=at, by=by, late_reason=late_reason, **administration)
    found = gathered.gather(session, protocol, at, reason=reason)
    unmet = with_clearance(check_transition(session.state, to, found.facts), found.blockers)
    if to == State.CHECKED_IN:
        unmet = [*unmet, *_already_in_session(session, at)]
    if unmet:
        raise StepRefused(unmet)
    moved = Session.objects.filter(pk=session.pk, state=session.state, version=session.version).update(
        state=to, state_at=at, version=F("version") + 1,
        end_reason=reason if to in (State.CANCELLED, State.STOPPED) else session.end_reason)
    if not moved:
        current = Session.objects.get(pk=session.pk)
        raise SessionConflict(current.state, current.version)
    if to in (State.MONITORING, State.STOPPED) and found.administration is not None \
            and found.administration.ended_at is None:
        Administration.objects.filter(pk=found.administration.pk, ended_at__isnull=True) \
            .update(ended_at=max(at, found.administration.started_at))
    try:
        with transaction.atomic():
            event = SessionEvent.objects.create(
                session=session, from_state=session.state, to_state=to, at=at, recorded_by=by,
                reason=reason, late_reason=_text("late_reason", late_reason),
                facts=gathered.summary(found.facts))
    except IntegrityError:  # the same step stored by a racing request: ours is not applied
        raise SessionConflict(to, session.version + 1) from None
    trail.record("transition", object_type="session", object_id=session.pk,
                 patient_id=session.patient_id,
                 detail={"from": session.state, "to": to, "at": at.isoformat(), "event": event.pk})
    session.refresh_from_db()
    return session


# ---- vital signs ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Recorded:
    reading: VitalReading
    alerts: list[Alert]
    warnings: list[str]
    created: bool
    # each raised alert's recommended action codes (clinical/monitoring ACTION_WORDS), by id:
    # "pause_infusion" is answered by record_administration_event(kind="pause", alert=...)
    recommended: dict[int, tuple[str, ...]] = field(default_factory=dict)


@action
def record_vitals(session: Session, *, observed_at: datetime, by: User | None,
                  values: dict[str, float | None], late_reason: str = "", source: str = "manual",
                  device: str = "") -> Recorded:
    """A reading (any subset of the vitals) in ``session``: refused naming the field when
    impossible; stored once however often it is sent; evaluated against the protocol's
    monitoring rules, each alert raised through the generic alerts and returned."""
    vitals.check_fields(values)
    ctx = vitals.load(session)
    prepared = vitals.prepare(ctx, observed_at=observed_at, values=values, by=by,
                              late_reason=late_reason, source=source, device=device)
    print_ = prepared.row.fingerprint
    existing = VitalReading.objects.filter(session=session, fingerprint=print_).first()
    if existing is not None:
        return Recorded(existing, _alerts_of(existing), prepared.warnings, created=False)
    try:
        with transaction.atomic():
            prepared.row.save()
    except IntegrityError:  # the same reading sent at the same moment from another tab
        existing = VitalReading.objects.get(session=session, fingerprint=print_)
        return Recorded(existing, _alerts_of(existing), prepared.warnings, created=False)
    row = prepared.row
    trail.record("create", object_type="vital_reading", object_id=row.pk,
                 patient_id=row.patient_id, detail=vitals.audit_detail(row))
    raised, recommended = vitals.raise_fired(ctx, row, prepared.fired, by=by)
    return Recorded(row, raised, prepared.warnings, created=True, recommended=recommended)


def _alerts_of(reading: VitalReading) -> list[Alert]:
    return list(Alert.objects.filter(source=ALERT_SOURCE, record_type=READING_RECORD,
                                     record_id=reading.pk).order_by("raised_at", "id"))


@action
def mark_administration_entered_in_error(given: Administration, *, reason: str, by: User) -> bool:
    """A dose recorded wrongly (the wrong patient, a mistyped dose) stays on file, marked; the
    session may then record the dose that was given."""
    reason = _text("reason", reason)
    if not reason:
        raise FieldError("reason", "say why the dose was entered in error")
    done = Administration.objects.filter(pk=given.pk, entered_in_error_at__isnull=True).update(
        entered_in_error_at=timezone.now(), entered_in_error_by=by, entered_in_error_reason=reason[:500])
    if done:
        trail.record("update", object_type="administration", object_id=given.pk,
                     patient_id=given.session.patient_id, detail={"entered_in_error": True})
    return bool(done)


@action
def mark_vitals_entered_in_error(reading: VitalReading, *, reason: str, by: User) -> bool:
    """A reading keyed on the wrong patient or mistyped stays on file, marked."""
    return mark_entered_in_error(reading, reason=reason, by=by, object_type="vital_reading",
                                 what="reading")


# ---- after the dose started: pauses, resumes, stops and devices ------------------------------

@dataclass(frozen=True)
class EventRecorded:
    event: AdministrationEvent
    created: bool
    warnings: list[str]


INFUSION_KINDS = (AdministrationEventKind.PAUSE, AdministrationEventKind.RESUME,
                  AdministrationEventKind.STOP)
# what an infusion may do next, from where it stands
ALLOWED_FROM = {"running": {AdministrationEventKind.PAUSE, AdministrationEventKind.STOP},
                "paused": {AdministrationEventKind.RESUME, AdministrationEventKind.STOP},
                "stopped": set()}


def _session_alert(session: Session, alert: Alert | int) -> Alert:
    alert_id = alert.pk if isinstance(alert, Alert) else alert
    found = Alert.objects.filter(pk=alert_id, source=ALERT_SOURCE, record_type=READING_RECORD,
                                 record_id__in=VitalReading.objects.filter(session=session)
                                 .values("pk")).first()
    if found is None:
        raise FieldError("alert_id", "is not an alert of this session")
    return found


@action
def record_administration_event(session: Session, *, kind: str, at: datetime, by: User | None,
                                reason: str = "", device_number: int | None = None,
                                alert: Alert | int | None = None,
                                late_reason: str = "") -> EventRecorded:
    """A pause, resume or stop of the session's infusion, or a nasal spray device given (see
    the module's docstring); refused naming the field (FieldError)."""
    if kind not in AdministrationEventKind.values:
        raise FieldError("kind", f"'{kind}' is not one of {', '.join(AdministrationEventKind.values)}")
    session = Session.objects.select_related("patient__clinic").get(pk=session.pk)
    allowed_states = (State.DOSING, State.MONITORING) if kind == AdministrationEventKind.DEVICE \
        else (State.DOSING,)
    if session.state not in allowed_states:
        raise FieldError("session", f"the session is {session.state_words}: "
                                    + ("devices are recorded while dosing or monitoring"
                                       if kind == AdministrationEventKind.DEVICE
                                       else "an infusion is paused, resumed or stopped while dosing"))
    given = gathered.current_administration(session)
    if given is None:
        raise FieldError("session", "record the dose first")
    check_session_time(session, at, "at", late_reason=late_reason)
    if at < given.started_at:
        raise FieldError("at", f"is before the dose started ({given.started_at.isoformat()})")
    protocol = session_protocol(session)
    reason, late_reason = _text("reason", reason), _text("late_reason", late_reason)
    # two stations changing one dose take turns (PostgreSQL; SQLite writes one at a time)
    Administration.objects.select_for_update().filter(pk=given.pk).first()
    earlier = list(AdministrationEvent.objects.filter(administration=given).order_by("at", "id"))
    if kind == AdministrationEventKind.DEVICE:
        return _device(session, given, protocol, earlier, at, by, device_number, reason, late_reason)
    if infusion.device_mg(protocol) is not None or protocol.infusion_minutes is None:
        raise FieldError("kind", f"only an infusion is paused, resumed or stopped; this session's "
                                 f"route is {session.route}")
    same = next((e for e in earlier if e.kind == kind and e.at == at), None)
    if same is not None:
        return EventRecorded(same, False, [])
    state = infusion.infusion_state(earlier)
    if kind not in ALLOWED_FROM[state]:
        raise FieldError("kind", f"the infusion is {state}: it cannot be "
                                 f"{AdministrationEventKind(kind).label.split()[-1]} now")
    last = earlier[-1].at if earlier else given.started_at
    if at < last:
        raise FieldError("at", f"is before the infusion's previous change ({last.isoformat()})")
    if kind in (AdministrationEventKind.PAUSE, AdministrationEventKind.STOP) and not reason:
        raise FieldError("reason", f"say why the infusion is {'paused' if kind == 'pause' else 'stopped'}")
    answered = None
    if alert is not None:
        if kind != AdministrationEventKind.PAUSE:
            raise FieldError("alert_id", "an alert is answered by pausing the infusion")
        answered = _session_alert(session, alert)
    event = _create_once(administration=given, session=session, kind=kind, at=at, reason=reason,
                         alert_id=None if answered is None else answered.pk, recorded_by=by,
                         late_reason=late_reason)
    if event is None:
        return EventRecorded(AdministrationEvent.objects.get(administration=given, kind=kind, at=at,
                                                             device_number__isnull=True), False, [])
    if kind == AdministrationEventKind.STOP:
        Administration.objects.filter(pk=given.pk, ended_at__isnull=True).update(ended_at=at)
    trail.record("create", object_type="administration_event", object_id=event.pk,
                 patient_id=session.patient_id,
                 detail={"session": session.pk, "kind": kind, "alert": event.alert_id})
    if answered is not None and answered.acknowledged_at is None and by is not None:
        acknowledge_alert(alert=answered, by=by, note=f"Infusion paused: {reason}")
    return EventRecorded(event, True, [])


def _create_once(**fields: Any) -> AdministrationEvent | None:
    try:
        with transaction.atomic():
            return AdministrationEvent.objects.create(**fields)
    except IntegrityError:
        return None


def _device(session: Session, given: Administration, protocol: core.Protocol,
            earlier: list[AdministrationEvent], at: datetime, by: User | None,
            number: int | None, reason: str, late_reason: str) -> EventRecorded:
    per_device = infusion.device_mg(protocol)
    if per_device is None:
        raise FieldError("kind", f"devices are recorded for a nasal spray; this session's route is "
                                 f"{session.route}")
    devices = [e for e in earlier if e.kind == AdministrationEventKind.DEVICE]
    expected = infusion.devices_for(given.dose_mg, per_device)
    number = len(devices) + 1 if number is None else number
    same = next((e for e in devices if e.device_number == number), None)
    if same is not None:
        if same.at == at:
            return EventRecorded(same, False, [])
        raise FieldError("device_number", f"device {number} was recorded at {same.at.isoformat()} "
                                          "already")
    if number > expected:
        raise FieldError("device_number", f"the dose of {given.dose_mg:g} mg is {expected} "
                                          f"device{'s' if expected > 1 else ''} of {per_device:g} mg: "
                                          f"device {number} is one too many")
    if number != len(devices) + 1:
        raise FieldError("device_number", f"record device {len(devices) + 1} first")
    warnings = []
    if devices:
        previous = devices[-1]
        if at < previous.at:
            raise FieldError("at", f"is before device {previous.device_number} "
                                   f"({previous.at.isoformat()})")
        rest = infusion.device_rest_minutes(protocol)
        gap = (at - previous.at).total_seconds() / 60
        if rest is not None and gap < rest:
            warnings.append(f"Device {number} came {gap:.0f} minutes after device "
                            f"{previous.device_number}; the label asks for a {rest:g}-minute rest "
                            "between devices.")
    event = _create_once(administration=given, session=session, kind=AdministrationEventKind.DEVICE,
                         at=at, device_number=number, device_mg=per_device, reason=reason,
                         recorded_by=by, late_reason=late_reason)
    if event is None:  # the same device stored by a racing request
        return EventRecorded(AdministrationEvent.objects.get(administration=given,
                                                             device_number=number), False, [])
    trail.record("create", object_type="administration_event", object_id=event.pk,
                 patient_id=session.patient_id,
                 detail={"session": session.pk, "kind": "device", "device": number})
    return EventRecorded(event, True, warnings)


__all__ = ["CLOCK_SKEW", "EventRecorded", "record_administration_event",
           "ConfirmationRefused", "FieldError", "Recorded", "SessionConflict",
           "StepRefused", "check_time", "mark_administration_entered_in_error",
           "mark_vitals_entered_in_error", "record_administration",
           "record_checklist", "record_vitals", "schedule_session", "transition", "with_clearance"]
