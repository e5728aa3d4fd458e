"""A reading of vital signs checked and evaluated in its session: the one path for a reading
typed at the bedside (actions.record_vitals) and for the readings bedside monitors send in
batches (monitors.intake).

What a reading is weighed against is read once per session (``SessionVitals``: its phase, the
protocol's monitoring rules and the clinic's settings, the earliest time it may carry, the
baseline, the last reading's time, the dose's start); ``prepare`` checks and evaluates a
reading without writing; ``took`` moves the session on (the baseline, the last reading's time)
once a reading is stored, so each reading of a batch is evaluated as if it had come alone."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.accounts.scoping import for_clinic
from kapclinic.alerts.actions import NewAlert, raise_alerts, raise_for_new_records
from kapclinic.alerts.models import Alert
from kapclinic.audit import trail
from kapclinic.clinical import protocols as core
from kapclinic.clinical.monitoring import Reading, ReadingError, check_reading, evaluate
from kapclinic.clinical.monitoring.rules import MonitoringSettings
from kapclinic.treatment import checks
from kapclinic.treatment import facts as gathered
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import (
    ALERT_SOURCE,
    READING_RECORD,
    VITAL_FIELDS,
    Administration,
    Phase,
    Session,
    SessionEvent,
    State,
    TreatmentSettings,
    VitalReading,
)
from kapclinic.treatment.protocols import monitoring_settings_of, session_protocol

PHASE_OF_STATE = {State.SCHEDULED: Phase.PRE_DOSE, State.CHECKED_IN: Phase.PRE_DOSE,
                  State.CLEARED: Phase.PRE_DOSE, State.DOSING: Phase.DOSING,
                  State.MONITORING: Phase.AFTER_DOSE, State.STOPPED: Phase.AFTER_DOSE}
# alert severities of clinical/monitoring/rules.json that are escalated when not acknowledged
URGENT_SEVERITIES = frozenset({"hold", "urgent", "emergency"})


def fingerprint(observed_at: datetime, values: dict[str, float]) -> str:
    """The same reading sent twice (a retry, a double tap, a monitor's resend) is stored once."""
    body = json.dumps({"at": observed_at.astimezone(UTC).isoformat(),
                       **{k: float(v) for k, v in sorted(values.items())}}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass
class SessionVitals:
    session: Session            # with its patient and clinic
    phase: str
    protocol: core.Protocol
    rules: MonitoringSettings
    late_entry_minutes: int
    earliest: datetime
    baseline: VitalReading | None        # the latest pre-dose reading stored when loaded
    last_reading_at: datetime | None
    dose_started_at: datetime | None
    steps: list[tuple[datetime, str]] = field(default_factory=list)  # (when, state entered), in order
    added_pre_dose: list[VitalReading] = field(default_factory=list)  # pre-dose, since loaded

    def phase_at(self, observed_at: datetime) -> str:
        """The session's phase when a reading was taken: one measured before the dose and
        typed or sent after it is a pre-dose reading, one measured during the dose and sent
        after it ended a dosing one. Only the steps into dosing and after it count (booking
        and check-in are pre-dose, and a booking's step carries when it was booked)."""
        if self.phase == Phase.PRE_DOSE:
            return self.phase
        phase = None
        for at, entered in self.steps:
            later = PHASE_OF_STATE.get(State(entered))
            if later == Phase.PRE_DOSE or later is None:
                continue
            if at > observed_at:
                return phase or Phase.PRE_DOSE
            phase = later
        return phase or self.phase  # no step into the dose on file: the session's phase now


def load(session: Session) -> SessionVitals:
    """What the session's readings are weighed against; FieldError when the session no
    longer records readings."""
    found = load_many([session.pk], clinic_id=session.patient.clinic_id).get(session.pk)
    if found is None:
        raise Session.DoesNotExist(f"no session {session.pk}")
    if isinstance(found, FieldError):
        raise found
    return found


def load_many(session_ids: Iterable[int], *, clinic_id: int) -> dict[int, SessionVitals | FieldError]:
    """Each of the clinic's sessions with what its readings are weighed against, or why it
    records none: four queries however many sessions (a batch of monitor messages names
    dozens), and never every earlier reading (a monitored session has thousands)."""
    session_ids = list(session_ids)
    if not session_ids:
        return {}
    standing = VitalReading.objects.filter(session=OuterRef("pk"), entered_in_error_at__isnull=True)
    sessions = list(for_clinic(Session.objects.filter(pk__in=session_ids), clinic_id)
                    .select_related("patient__clinic").annotate(
        baseline_id=Subquery(standing.filter(phase=Phase.PRE_DOSE).order_by("-observed_at", "-id")
                             .values("pk")[:1]),
        last_reading_at=Subquery(standing.order_by("-observed_at").values("observed_at")[:1]),
        dose_started_at=Subquery(Administration.objects.filter(
            session=OuterRef("pk"), entered_in_error_at__isnull=True)
            .order_by("-started_at", "-id").values("started_at")[:1])))
    steps: dict[int, list[tuple[datetime, str]]] = {}
    for session_id, entered, at in SessionEvent.objects.filter(
            session__in=[s.pk for s in sessions]).order_by("at", "id").values_list(
            "session_id", "to_state", "at"):
        steps.setdefault(session_id, []).append((at, entered))
    baselines = VitalReading.objects.in_bulk([s.baseline_id for s in sessions if s.baseline_id])
    stored = TreatmentSettings.for_clinic(clinic_id)
    rules = monitoring_settings_of(stored)
    loaded: dict[int, SessionVitals | FieldError] = {}
    for session in sessions:
        phase = PHASE_OF_STATE.get(State(session.state))
        if phase is None:
            loaded[session.pk] = FieldError("session", f"the session is {session.state_words}: "
                                                       "readings are no longer recorded in it")
            continue
        taken = steps.get(session.pk, [])
        checked_in_at = next((at for at, entered in taken if entered == State.CHECKED_IN), None)
        loaded[session.pk] = SessionVitals(
            session=session, phase=phase, protocol=session_protocol(session), rules=rules,
            late_entry_minutes=stored.late_entry_minutes,
            earliest=checks.earliest_after_check_in(session, checked_in_at),
            baseline=baselines.get(session.baseline_id), last_reading_at=session.last_reading_at,
            dose_started_at=session.dose_started_at, steps=taken)
    return loaded


def baseline_for(ctx: SessionVitals, observed_at: datetime) -> VitalReading | None:
    """The latest pre-dose reading taken at or before ``observed_at`` (rises are measured from
    it). Read from the database again only for a reading older than the loaded baseline."""
    stored = ctx.baseline
    if stored is not None and stored.observed_at > observed_at:
        stored = (VitalReading.objects.filter(session=ctx.session, entered_in_error_at__isnull=True,
                                              phase=Phase.PRE_DOSE, observed_at__lte=observed_at)
                  .order_by("-observed_at", "-id").first())
    found = stored
    for row in ctx.added_pre_dose:  # in the order stored: the later of equal times wins
        if row.observed_at <= observed_at and (found is None or row.observed_at >= found.observed_at):
            found = row
    return found


def check_fields(values: dict) -> None:
    unknown = sorted(set(values) - set(VITAL_FIELDS))
    if unknown:
        raise FieldError(unknown[0], "is not a vital sign; send " + ", ".join(VITAL_FIELDS))


@dataclass
class Prepared:
    row: VitalReading           # not yet saved
    fired: list                 # the monitoring rules' alerts (clinical.monitoring.Alert)
    warnings: list[str]


def prepare(ctx: SessionVitals, *, observed_at: datetime, values: dict[str, float | None],
            by: User | None, late_reason: str = "", source: str = "manual",
            device: str = "") -> Prepared:
    """The reading checked (FieldError naming the field when impossible) and evaluated against
    the protocol's monitoring rules; nothing is written."""
    check_fields(values)
    given = {k: v for k, v in values.items() if v is not None}
    checks.check_time_within(observed_at, "observed_at", allowance_minutes=ctx.late_entry_minutes,
                             late_reason=late_reason)
    checks.check_not_before(ctx.session, observed_at, "observed_at", ctx.earliest)
    now = max(timezone.now(), observed_at)
    # a typed time is the nurse's, given with why it is late: the reading takes the phase of
    # then. A monitor's clock may run behind: its reading keeps the phase it arrived in, so a
    # slow clock cannot make a reading during the dose pre-dose (and the baseline, hiding a rise)
    phase = ctx.phase_at(observed_at) if source == "manual" else ctx.phase
    reading = Reading(observed_at=observed_at, phase=phase, **given)
    baseline = baseline_for(ctx, observed_at)
    try:
        warnings = check_reading(reading, now)
        fired = evaluate(reading, ctx.protocol, ctx.rules, now=now, last_reading_at=ctx.last_reading_at,
                         baseline=None if baseline is None else gathered.reading_of(baseline),
                         dose_started_at=ctx.dose_started_at)
    except ReadingError as exc:
        raise FieldError(exc.field, exc.problem) from exc
    row = VitalReading(
        session=ctx.session, patient_id=ctx.session.patient_id, observed_at=observed_at,
        recorded_by=by, phase=phase, fingerprint=fingerprint(observed_at, given), source=source,
        device=device[:100], late_reason=checks.text("late_reason", late_reason), **given)
    # a reading just came in: the room board shows what is overdue, no alert is raised for it
    return Prepared(row, [a for a in fired if a.rule not in gathered.OVERDUE_RULES], warnings)


def took(ctx: SessionVitals, row: VitalReading) -> None:
    """``row`` is stored: later readings of the batch are weighed with it."""
    if ctx.last_reading_at is None or row.observed_at > ctx.last_reading_at:
        ctx.last_reading_at = row.observed_at
    if row.phase == Phase.PRE_DOSE:
        ctx.added_pre_dose.append(row)


def audit_detail(row: VitalReading) -> dict:
    return {"session": row.session_id, "phase": row.phase,
            **({"device": row.device} if row.device else {})}


def _wanted(stored: Iterable[tuple[SessionVitals, VitalReading, list]]) -> list[NewAlert]:
    return [NewAlert(
        clinic_id=ctx.session.patient.clinic_id, source=ALERT_SOURCE, kind=alert.rule,
        label=alert.label, patient=ctx.session.patient, record_type=READING_RECORD, record_id=row.pk,
        recommended_action=alert.message, raised_at=timezone.now(),
        priority=Alert.Priority.URGENT if alert.severity in URGENT_SEVERITIES else Alert.Priority.FOLLOW_UP)
        for ctx, row, fired in stored for alert in fired]


def raise_fired(ctx: SessionVitals, row: VitalReading, fired: list,
                *, by: User | None) -> tuple[list[Alert], dict[int, tuple[str, ...]]]:
    """The alerts a stored reading fired, raised through the generic alerts; with each one's
    recommended action codes by id."""
    alerts = raise_alerts(_wanted([(ctx, row, fired)]), by=by) if fired else []
    return alerts, {a.pk: rule.actions for a, rule in zip(alerts, fired, strict=True)}


def values_of(row: VitalReading) -> dict[str, float]:
    """A reading's vital values, by field."""
    return {name: float(value) for name in VITAL_FIELDS if (value := getattr(row, name)) is not None}


def raise_for_new_readings(stored: list[tuple[SessionVitals, VitalReading, list]],
                           ) -> tuple[list[Alert], list[trail.Event]]:
    """The alerts fired by readings written a moment ago in the calling action (a monitor
    batch's: one insert for all of them), and their audit events for the caller to write with
    the readings' own."""
    wanted = _wanted(stored)
    return raise_for_new_records(wanted) if wanted else ([], [])
