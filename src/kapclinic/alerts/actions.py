"""Every write to alerts: raising one (from any app), acknowledging one, marking one raised in
error. Each runs in a transaction with its audit entry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.alerts.models import Alert
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.audit.corrections import mark_entered_in_error
from kapclinic.patients.models import Patient


@dataclass(frozen=True)
class NewAlert:
    """Rule ``kind`` of ``source`` (about ``patient``, or about the clinic alone), caused by
    the record ``record_type`` ``record_id``."""

    clinic_id: int
    source: str
    kind: str
    label: str
    priority: str = Alert.Priority.URGENT
    patient: Patient | None = None
    record_type: str = ""
    record_id: int | None = None
    recommended_action: str = ""
    raised_at: datetime | None = None

    def key(self) -> tuple:
        return (self.source, self.kind, self.record_type, self.record_id)


@action
def raise_alert(*, clinic_id: int, source: str, kind: str, label: str,
                priority: str = Alert.Priority.URGENT, patient: Patient | None = None,
                record_type: str = "", record_id: int | None = None,
                recommended_action: str = "", raised_at: datetime | None = None,
                by: User | None) -> Alert:
    """Raise ``source``'s rule ``kind`` (about ``patient``, or about the clinic alone), caused
    by the record ``record_type`` ``record_id``. Idempotent: raising the same rule for the
    same record again (a retried request, a worker pass run twice) returns the first alert
    and writes nothing. ``by``: who (or, None, which process) recorded what raised it."""
    return raise_alerts([NewAlert(clinic_id, source, kind, label, priority, patient, record_type,
                                  record_id, recommended_action, raised_at)], by=by)[0]


def _checked(new: NewAlert) -> Alert:
    """The alert's row, not yet saved; raises ValueError for an alert no clinic could hold."""
    if new.patient is not None and new.patient.clinic_id != new.clinic_id:
        raise ValueError("An alert about a patient belongs to the patient's clinic.")
    if new.priority not in Alert.Priority.values:
        raise ValueError(f"priority: {new.priority!r} is not one of {', '.join(Alert.Priority.values)}")
    return Alert(clinic_id=new.clinic_id, patient=new.patient, label=new.label[:300],
                 priority=new.priority, recommended_action=new.recommended_action[:500],
                 raised_at=new.raised_at or timezone.now(), source=new.source, kind=new.kind,
                 record_type=new.record_type, record_id=new.record_id)


def _events(rows: Sequence[Alert]) -> list[trail.Event]:
    return [trail.Event("create", "alert", row.pk, row.patient_id,
                        {"label": row.label, "priority": row.priority}, row.clinic_id) for row in rows]


@action
def raise_alerts(alerts: Sequence[NewAlert], *, by: User | None) -> list[Alert]:
    """``raise_alert`` for many at once: one query for those raised already, one insert, one
    stretch of the audit trail; the alerts in order."""
    made: list[Alert] = []
    picks: list[tuple | Alert] = []  # each alert's key among those found, or its new row
    rows = [_checked(new) for new in alerts]
    recorded = {new.record_id for new in alerts if new.record_id is not None}
    found: dict[tuple, Alert] = {(a.source, a.kind, a.record_type, a.record_id): a for a in (
        Alert.objects.filter(source__in={new.source for new in alerts}, kind__in={new.kind for new in alerts},
                             record_type__in={new.record_type for new in alerts}, record_id__in=recorded)
        if recorded else ())}
    for new, row in zip(alerts, rows, strict=True):
        if new.record_id is not None and new.key() in found:
            picks.append(new.key())
            continue
        made.append(row)
        if new.record_id is None:
            picks.append(row)
        else:
            found[new.key()] = row  # the same alert twice in one call is raised once
            picks.append(new.key())
    with transaction.atomic():
        try:
            with transaction.atomic():
                Alert.objects.bulk_insert(made)
        except IntegrityError:  # a concurrent raise of one of them won the race: one at a time
            made = [row for row in made if _created_unless_raised(row, found)]
        trail.record_many(_events(made))
    return [found[pick] if isinstance(pick, tuple) else pick for pick in picks]


def raise_for_new_records(alerts: Sequence[NewAlert]) -> tuple[list[Alert], list[trail.Event]]:
    """The alerts fired by records the calling action wrote a moment ago in its transaction
    (a bedside monitor's batch of readings): none can have been raised for them yet, so none
    is looked up, and the same rule named twice for one record is raised once. Inserted in one
    statement; their audit events are returned, and the caller must write them in its own
    stretch of the trail, in the same transaction."""
    made: list[Alert] = []
    keys: set[tuple] = set()
    for new in alerts:
        if new.record_id is not None:
            if new.key() in keys:
                continue
            keys.add(new.key())
        made.append(_checked(new))
    Alert.objects.bulk_insert(made)
    return made, _events(made)


def _created_unless_raised(row: Alert, found: dict[tuple, Alert]) -> bool:
    """Insert ``row``; False (and the alert raised meanwhile in ``found``) when it was there."""
    try:
        with transaction.atomic():
            row.save()
        return True
    except IntegrityError:
        if row.record_id is None:
            raise
        key = (row.source, row.kind, row.record_type, row.record_id)
        found[key] = Alert.objects.get(source=row.source, kind=row.kind, record_type=row.record_type,
                                       record_id=row.record_id)
        return False


@action
def acknowledge_alert(*, alert: Alert, note: str, by: User) -> bool:
    """Record what the clinician did; False if someone acknowledged it first (their note
    stands and this one is not saved)."""
    if not note.strip():
        raise ValueError("Write what you did about the alert.")
    with transaction.atomic():
        _trail_then_alert()
        done = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now(), acknowledged_by=by,
            acknowledgement_note=note.strip())
        if done:
            trail.record("update", object_type="alert", object_id=alert.pk,
                         patient_id=alert.patient_id, clinic_id=alert.clinic_id,
                         detail={"acknowledged": True})
    return bool(done)


@action
def escalate_alert(alert: Alert, *, now: datetime, minutes: int, by: User | None = None) -> bool:
    """Mark one urgent alert escalated and queue its emails (escalation.py says to whom);
    False if it was acknowledged, marked in error or escalated by another worker meanwhile.
    How many people were emailed is kept, so the Alerts page can say when it was no one."""
    from kapclinic.alerts import escalation

    _trail_then_alert()
    if not Alert.objects.open().filter(pk=alert.pk, escalated_at__isnull=True).update(
            escalated_at=now):
        return False
    emailed = escalation.notify(alert, now=now, minutes=minutes)
    Alert.objects.filter(pk=alert.pk).update(escalation_emailed=emailed)
    detail = {"escalated": True, "emailed": emailed}
    if not emailed:
        detail["not_emailed"] = ("nobody in the clinic's escalation roles has an email "
                                 "address")
    trail.record("update", object_type="alert", object_id=alert.pk, patient_id=alert.patient_id,
                 clinic_id=alert.clinic_id, detail=detail)
    return True


@action
def mark_alert_entered_in_error(alert: Alert, *, reason: str, by: User) -> bool:
    """An alert raised in error (on the wrong patient, from a wrong record) stays on file,
    marked, and leaves the open alerts and the escalations."""
    with transaction.atomic():
        _trail_then_alert()
        return mark_entered_in_error(alert, reason=reason, by=by, object_type="alert",
                                     what="alert")


def _trail_then_alert() -> None:
    """Every writer that changes an alert row and appends to the audit trail takes the trail's
    lock first (a bedside monitor's batch holds it when it counts a firing on an open alert):
    taken the other way round, a nurse's acknowledgement and a batch could deadlock."""
    trail.lock_chain()
