"""The room board: every session in progress in a clinic, in a fixed number of queries
(whatever the number of sessions), with what is overdue computed by clinical.monitoring and
where each dose stands (an infusion paused, esketamine devices given)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db.models import Max

from kapclinic.accounts import scoping
from kapclinic.alerts.models import Alert
from kapclinic.audit import trail
from kapclinic.clinical.monitoring import evaluate, next_reading_due
from kapclinic.treatment import infusion
from kapclinic.treatment.models import (
    ALERT_SOURCE,
    IN_PROGRESS,
    READING_RECORD,
    Administration,
    AdministrationEvent,
    Phase,
    Session,
    State,
    VitalReading,
)
from kapclinic.treatment.protocols import monitoring_settings, session_protocol

PHASE = {State.CHECKED_IN: Phase.PRE_DOSE, State.CLEARED: Phase.PRE_DOSE,
         State.DOSING: Phase.DOSING, State.MONITORING: Phase.AFTER_DOSE}


def in_progress_rows(clinic_id: int, states=IN_PROGRESS):
    """The clinic's sessions in ``states``, read through the state index first: the ids and
    patients of every session in those states on the server (a handful), then the clinic's
    own among them. Asked directly, a planner without statistics (SQLite) walks every
    patient of the clinic and their year of sessions (tens of ms at 10,000 patients)."""
    pairs = list(Session.objects.filter(state__in=states).values_list("pk", "patient_id"))
    return scoping.for_clinic(Session, clinic_id).filter(
        pk__in=[pk for pk, _ in pairs], patient_id__in={patient for _, patient in pairs})


def in_progress(clinic_id: int, now: datetime) -> list[dict[str, Any]]:
    sessions = list(in_progress_rows(clinic_id).select_related("patient")
                    .order_by("room", "chair", "scheduled_at"))
    if not sessions:
        return []
    ids = [s.pk for s in sessions]
    started: dict[int, Administration] = {}
    for given in Administration.objects.filter(session_id__in=ids, entered_in_error_at__isnull=True) \
            .order_by("started_at", "id"):
        started[given.session_id] = given
    last = dict(VitalReading.objects.filter(session_id__in=ids, entered_in_error_at__isnull=True)
                .values("session_id").annotate(at=Max("observed_at")).values_list("session_id", "at"))
    open_alerts = list(Alert.objects.open().filter(
        source=ALERT_SOURCE, record_type=READING_RECORD,
        record_id__in=VitalReading.objects.filter(session_id__in=ids).values("pk")))
    owner = dict(VitalReading.objects.filter(pk__in=[a.record_id for a in open_alerts])
                 .values_list("pk", "session_id")) if open_alerts else {}
    alerts_of: dict[int, list[Alert]] = {}
    for alert in open_alerts:
        alerts_of.setdefault(owner.get(alert.record_id), []).append(alert)
    course: dict[int, list[AdministrationEvent]] = {}
    for event in AdministrationEvent.objects.filter(session_id__in=ids).order_by("at", "id"):
        course.setdefault(event.session_id, []).append(event)
    settings = monitoring_settings(clinic_id)
    rows = []
    # sessions scheduled under the same protocol and settings share one (building one with
    # its settings checked is most of a board's time otherwise)
    protocols: dict[str, Any] = {}
    for s in sessions:
        key = f"{s.protocol}:{json.dumps(s.protocol_settings, sort_keys=True, default=str)}"
        protocol = protocols.get(key) or protocols.setdefault(key, session_protocol(s))
        given = started.get(s.pk)
        phase = PHASE[State(s.state)]
        overdue = [] if phase == Phase.PRE_DOSE else evaluate(
            None, protocol, settings, now, last.get(s.pk), phase=phase,
            dose_started_at=given.started_at if given else None)
        latest = last.get(s.pk)
        rows.append({
            "id": s.pk, "patient_id": s.patient_id,
            "patient": f"{s.patient.given_name} {s.patient.family_name}",
            "protocol": s.protocol, "protocol_label": protocol.label,
            "state": s.state, "state_words": s.state_words,
            "state_at": s.state_at, "room": s.room, "chair": s.chair, "version": s.version,
            "dose_started_at": given.started_at if given else None,
            "minutes_since_dose": round((now - given.started_at).total_seconds() / 60)
            if given else None,
            "last_reading_at": latest,
            # running, paused or stopped; devices given of expected (esketamine)
            "dose_course": infusion.summary(given, course.get(s.pk, []), protocol, now),
            "next_reading_due_at": next_reading_due(protocol, settings, now, latest, phase,
                                                    given.started_at if given else None),
            "overdue": [a.label for a in overdue],
            "open_alerts": [{"id": a.pk, "label": a.label, "priority": a.priority,
                             "recommended_action": a.recommended_action, "repeats": a.repeats,
                             "repeated_at": a.repeated_at, "repeated_label": a.repeated_label}
                            for a in alerts_of.get(s.pk, [])],
        })
    return rows


def audit(rows: list[dict[str, Any]]) -> None:
    """The board shown (page, poll or API): a list of each session on it, or the empty board read."""
    trail.record_many([trail.Event("list", "session", row["id"], patient_id=row["patient_id"])
                       for row in rows] or [trail.Event("read", "room_board")])
