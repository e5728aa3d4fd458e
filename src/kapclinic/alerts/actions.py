"""Every write to alerts: raising one (from any app), acknowledging one, marking one raised in
error. Each runs in a transaction with its audit entry."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.alerts.models import Alert
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.audit.corrections import mark_entered_in_error
from kapclinic.patients.models import Patient


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
    if patient is not None and patient.clinic_id != clinic_id:
        raise ValueError("An alert about a patient belongs to the patient's clinic.")
    if priority not in Alert.Priority.values:
        raise ValueError(f"priority: {priority!r} is not one of {', '.join(Alert.Priority.values)}")
    same = {"source": source, "kind": kind, "record_type": record_type, "record_id": record_id}
    with transaction.atomic():
        if record_id is not None and (found := Alert.objects.filter(**same).first()):
            return found
        try:
            with transaction.atomic():  # a concurrent raise of the same alert wins the race
                alert = Alert.objects.create(
                    clinic_id=clinic_id, patient=patient, label=label[:300], priority=priority,
                    recommended_action=recommended_action[:500],
                    raised_at=raised_at or timezone.now(), **same)
        except IntegrityError:
            if record_id is None:
                raise
            return Alert.objects.get(**same)
        trail.record("create", object_type="alert", object_id=alert.pk,
                     patient_id=alert.patient_id, clinic_id=clinic_id,
                     detail={"label": alert.label, "priority": priority})
    return alert


@action
def acknowledge_alert(*, alert: Alert, note: str, by: User) -> bool:
    """Record what the clinician did; False if someone acknowledged it first (their note
    stands and this one is not saved)."""
    if not note.strip():
        raise ValueError("Write what you did about the alert.")
    with transaction.atomic():
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
        return mark_entered_in_error(alert, reason=reason, by=by, object_type="alert",
                                     what="alert")
