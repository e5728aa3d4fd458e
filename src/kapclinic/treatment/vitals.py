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
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import Max
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.alerts.actions import raise_alert
from kapclinic.alerts.models import Alert
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
    Phase,
    Session,
    State,
    VitalReading,
)
from kapclinic.treatment.protocols import monitoring_settings, session_protocol

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
    added_pre_dose: list[VitalReading] = field(default_factory=list)  # pre-dose, since loaded


def load(session: Session) -> SessionVitals:
    """What the session's readings are weighed against (a few indexed queries, never every
    earlier reading: a monitored session has thousands). FieldError when the session no
    longer records readings."""
    session = Session.objects.select_related("patient__clinic").get(pk=session.pk)
    phase = PHASE_OF_STATE.get(State(session.state))
    if phase is None:
        raise FieldError("session", f"the session is {session.state_words}: readings are no longer "
                                    "recorded in it")
    standing = VitalReading.objects.filter(session=session, entered_in_error_at__isnull=True)
    administration = gathered.current_administration(session)
    return SessionVitals(
        session=session, phase=phase, protocol=session_protocol(session),
        rules=monitoring_settings(session.patient.clinic_id),
        late_entry_minutes=checks.late_entry_minutes(session.patient.clinic_id),
        earliest=checks.earliest_time(session),
        baseline=standing.filter(phase=Phase.PRE_DOSE).order_by("-observed_at", "-id").first(),
        last_reading_at=standing.aggregate(latest=Max("observed_at"))["latest"],
        dose_started_at=None if administration is None else administration.started_at)


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
    unknown = sorted(set(values) - set(VITAL_FIELDS))
    if unknown:
        raise FieldError(unknown[0], "is not a vital sign; send " + ", ".join(VITAL_FIELDS))
    given = {k: v for k, v in values.items() if v is not None}
    checks.check_time_within(observed_at, "observed_at", allowance_minutes=ctx.late_entry_minutes,
                             late_reason=late_reason)
    checks.check_not_before(ctx.session, observed_at, "observed_at", ctx.earliest)
    now = max(timezone.now(), observed_at)
    reading = Reading(observed_at=observed_at, phase=ctx.phase, **given)
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
        recorded_by=by, phase=ctx.phase, fingerprint=fingerprint(observed_at, given), source=source,
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


def raise_fired(ctx: SessionVitals, row: VitalReading, fired: list,
                *, by: User | None) -> tuple[list[Alert], dict[int, tuple[str, ...]]]:
    """The alerts a stored reading fired, raised through the generic alerts; with each one's
    recommended action codes by id."""
    raised, recommended = [], {}
    session = ctx.session
    for alert in fired:
        raised.append(raise_alert(
            clinic_id=session.patient.clinic_id, source=ALERT_SOURCE, kind=alert.rule,
            label=alert.label, patient=session.patient, record_type=READING_RECORD,
            record_id=row.pk, recommended_action=alert.message,
            priority=Alert.Priority.URGENT if alert.severity in URGENT_SEVERITIES
            else Alert.Priority.FOLLOW_UP, raised_at=timezone.now(), by=by))
        recommended[raised[-1].pk] = alert.actions
    return raised, recommended
