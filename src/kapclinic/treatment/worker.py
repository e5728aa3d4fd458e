"""The treatment app's part of the worker, for each clinic on its own (a ``WorkerStep``
registered from TreatmentConfig.ready through registration.py): every session in dosing or
monitoring is checked by ``clinical.monitoring`` for a reading past its interval or a missed
mark (esketamine's ~40-minute reading), and each miss raises one generic alert with its
recommended action ("take the reading now").

One alert per missed due time: the alert names the last reading taken before the miss
(``record_type`` = the reading), and its kind names the rule (and the mark), so the alerts
app's idempotency (source, kind, record) keeps a second pass, or a second worker, from raising
it again; a new reading moves the next due time on, and a later miss is a new alert. It shows
on the session page, the room board and the Alerts page like the alerts a reading raises, and,
until acknowledged, holds discharge like them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db.models import OuterRef, Subquery

from kapclinic.alerts.actions import raise_alert
from kapclinic.alerts.models import Alert
from kapclinic.clinical.monitoring import evaluate
from kapclinic.platform import extensions
from kapclinic.treatment.board import in_progress_rows
from kapclinic.treatment.models import (
    ALERT_SOURCE,
    READING_RECORD,
    Administration,
    Phase,
    Session,
    State,
    VitalReading,
)
from kapclinic.treatment.protocols import monitoring_settings, session_protocol

log = logging.getLogger(__name__)

# the step's label, as the worker's report prints it
OVERDUE = "overdue session readings flagged"
OVERDUE_RULES = ("reading_overdue", "reading_mark_overdue")
PHASE = {State.DOSING: Phase.DOSING, State.MONITORING: Phase.AFTER_DOSE}


def steps() -> list[extensions.WorkerStep]:
    # before the alerts app escalates (30) and sends (40) in the same pass
    return [extensions.WorkerStep("treatment.overdue_readings", OVERDUE, flag_overdue_readings,
                                  order=25)]


def alert_kind(alert, dose_started_at: datetime | None) -> str:
    """The rule, and for a mark the mark's minutes (two missed marks are two alerts)."""
    if alert.rule == "reading_mark_overdue" and alert.due_at and dose_started_at:
        return f"reading_mark_overdue_{(alert.due_at - dose_started_at).total_seconds() / 60:g}min"
    return alert.rule


def flag_overdue_readings(clinic_id: int, now: datetime) -> int:
    """Raise an alert for each reading the clinic's sessions in progress have missed; returns
    how many were raised in this pass."""
    settings = monitoring_settings(clinic_id)  # a broken setting fails this clinic only
    latest = (VitalReading.objects.filter(session=OuterRef("pk"), entered_in_error_at__isnull=True)
              .order_by("-observed_at", "-id"))
    sessions = list(in_progress_rows(clinic_id, tuple(PHASE))
                    .select_related("patient")
                    .annotate(last_reading_id=Subquery(latest.values("pk")[:1]),
                              last_reading_at=Subquery(latest.values("observed_at")[:1])))
    if not sessions:
        return 0
    ids = [s.pk for s in sessions]
    started: dict[int, datetime] = {}
    for session_id, at in (Administration.objects.filter(session_id__in=ids,
                                                         entered_in_error_at__isnull=True)
                           .order_by("started_at", "id").values_list("session_id", "started_at")):
        started[session_id] = at
    raised_before = set(Alert.objects.filter(
        source=ALERT_SOURCE, record_type=READING_RECORD, kind__startswith="reading_",
        record_id__in=[s.last_reading_id for s in sessions if s.last_reading_id])
        .values_list("kind", "record_id"))
    raised = 0
    for session in sessions:
        if session.last_reading_id is None:
            continue  # no reading to name (every one entered in error): the board shows it
        try:
            raised += _flag(session, now, settings, started.get(session.pk), raised_before)
        except Exception:  # noqa: BLE001 (one session's problem never stops the others)
            log.exception("worker: checking session %s for overdue readings failed", session.pk)
    return raised


def _flag(session: Session, now: datetime, settings, dose_started_at: datetime | None,
          raised_before: set[tuple[str, int]]) -> int:
    fired = evaluate(None, session_protocol(session), settings, now, session.last_reading_at,
                     phase=PHASE[State(session.state)], dose_started_at=dose_started_at)
    raised = 0
    for alert in fired:
        if alert.rule not in OVERDUE_RULES:
            continue
        kind = alert_kind(alert, dose_started_at)
        if (kind, session.last_reading_id) in raised_before:
            continue
        raise_alert(clinic_id=session.patient.clinic_id, source=ALERT_SOURCE, kind=kind,
                    label=alert.label, patient=session.patient, record_type=READING_RECORD,
                    record_id=session.last_reading_id, recommended_action=alert.message,
                    priority=Alert.Priority.FOLLOW_UP, raised_at=now, by=None)
        raised += 1
    return raised
