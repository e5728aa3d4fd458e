"""Background work: send due questionnaires, remind once, escalate unacknowledged alerts,
recompute outcome snapshots after the clinic changed its outcome rules, and send the
outbox (measures/sending.py: after the steps above committed, never inside a transaction).

Each step claims its work with a conditional UPDATE inside the transaction that does it,
so two workers (on two servers) never send the same thing twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import Clinic, Membership
from kapclinic.accounts.roles import Role
from kapclinic.audit import context, trail
from kapclinic.measures import actions, messaging, sending
from kapclinic.measures import outcomes as outcome_snapshots
from kapclinic.measures.models import Alert, MeasureRequest, Schedule
from kapclinic.patients.models import Status
from kapclinic.platform import idempotency

log = logging.getLogger(__name__)

# [policy] one reminder, a day after a questionnaire was sent and not answered.
REMINDER_AFTER = timedelta(days=1)
BATCH = 200


def base_url() -> str:
    return os.environ.get("KAPCLINIC_BASE_URL", "http://127.0.0.1:8000")


@dataclass
class Report:
    sent: int = 0
    reminded: int = 0
    escalated: int = 0
    recomputed: int = 0
    delivered: int = 0

    @property
    def more_to_do(self) -> bool:
        """A full batch of recomputation: go again without waiting for the interval."""
        return self.recomputed >= BATCH

    def __str__(self) -> str:
        return (f"{self.sent} questionnaire(s) sent, {self.reminded} reminder(s), "
                f"{self.escalated} alert(s) escalated, {self.recomputed} outcome(s) recomputed "
                f"under new rules, {self.delivered} message(s) sent")


def run_once(now: datetime | None = None, url: str | None = None) -> Report:
    now = now or timezone.now()
    context.set_system_actor("kapclinic worker")
    report = Report()
    report.sent = _step("sending due questionnaires", send_due, now, url or base_url())
    report.reminded = _step("reminding", remind, now)
    report.escalated = _step("escalating alerts", escalate, now)
    report.delivered = _step("sending the outbox", sending.deliver_due)
    report.recomputed = _step("recomputing outcomes", outcome_snapshots.refresh_stale,
                              limit=BATCH)
    _step("forgetting expired idempotency keys", idempotency.purge_expired, now)
    return report


def _step(what: str, work: Callable[..., int], *args: Any, **kwargs: Any) -> int:
    """One part of a pass. A failure is logged and the other parts still run: an error
    sending a questionnaire must never stop an urgent alert from being escalated."""
    try:
        return work(*args, **kwargs)
    except Exception:  # noqa: BLE001 (logged with its traceback; the next pass retries)
        log.exception("worker: %s failed", what)
        return 0


def send_due(now: datetime, url: str) -> int:
    sent = 0
    due = (Schedule.objects.filter(active=True, next_due_at__lte=now)
           .exclude(patient__status=Status.DISCHARGED)  # discharged: no more questionnaires
           .select_related("patient", "patient__clinic").order_by("next_due_at")[:BATCH])
    for schedule in due:
        if not messaging.can_reach(schedule.patient):
            continue  # no email or phone: stays due, and shows as overdue on the dashboard
        try:
            with transaction.atomic():
                if not actions.claim_due_schedule(schedule.pk, schedule.next_due_at):
                    continue  # another worker took it
                actions.send_request(patient=schedule.patient, instrument=schedule.instrument,
                                     due_at=schedule.next_due_at, base_url=url)
                sent += 1
        except Exception:  # noqa: BLE001 (one bad schedule never stops the others)
            log.exception("worker: sending schedule %s failed; it stays due", schedule.pk)
    return sent


def remind(now: datetime) -> int:
    reminded = 0
    waiting = (MeasureRequest.objects.filter(
        reminded_at__isnull=True, sent_at__lte=now - REMINDER_AFTER, link__used_at__isnull=True,
        link__expires_at__gt=now).exclude(patient__status=Status.DISCHARGED)
        .select_related("patient", "patient__clinic")[:BATCH])
    for request in waiting:
        with transaction.atomic():
            if not MeasureRequest.objects.filter(pk=request.pk, reminded_at__isnull=True).update(
                    reminded_at=now):
                continue
            sent_on = timezone.localtime(request.sent_at, request.patient.clinic.zone)
            messaging.send_to_patient(
                request.patient, subject=f"{request.patient.clinic.name}: a reminder",
                body=(f"Hello {request.patient.given_name},\n\nA questionnaire sent on "
                      f"{sent_on:%Y-%m-%d} is still waiting: please use the link in that "
                      "message."))
            trail.record("update", object_type="measure_request", object_id=request.pk,
                         patient_id=request.patient_id, clinic_id=request.patient.clinic_id,
                         detail={"reminded": True})
            reminded += 1
    return reminded


def escalate(now: datetime) -> int:
    """Urgent alerts past their clinic's time, oldest first, go to everyone who can act on
    them. A follow-up alert (C-SSRS Moderate) waits for the care team's follow-up by the
    clinic's protocol and is not escalated."""
    escalated = 0
    for clinic in Clinic.objects.all():
        minutes = actions.settings_for(clinic.pk).bounded("escalation_minutes")
        due = (Alert.objects.filter(patient__clinic_id=clinic.pk, acknowledged_at__isnull=True,
                                    escalated_at__isnull=True,
                                    priority=Alert.Priority.URGENT,  # follow-up: by protocol
                                    raised_at__lte=now - timedelta(minutes=minutes))
               .select_related("patient").order_by("raised_at")[:BATCH])
        for alert in due:
            with transaction.atomic():
                if not Alert.objects.filter(pk=alert.pk, escalated_at__isnull=True,
                                            acknowledged_at__isnull=True).update(escalated_at=now):
                    continue
                for address in responders(alert.patient):
                    messaging.send_to_staff(
                        clinic.pk, address, subject="Unacknowledged urgent alert",
                        body=(f"An urgent alert ({alert.label}) for MRN {alert.patient.mrn} "
                              f"has not been acknowledged for {minutes} minutes. Open Alerts "
                              "in kapclinic."))
                for address in admins(clinic.pk):
                    messaging.send_to_staff(
                        clinic.pk, address, subject="Alert escalated",
                        body=(f"An urgent alert for MRN {alert.patient.mrn} was not acknowledged "
                              f"within {minutes} minutes. The care team has been emailed; see "
                              "Alerts in kapclinic to make sure someone responds."))
                trail.record("update", object_type="alert", object_id=alert.pk,
                             patient_id=alert.patient_id, clinic_id=clinic.pk,
                             detail={"escalated": True})
                escalated += 1
    return escalated


def responders(patient) -> list[str]:
    """The patient's prescriber and therapist, and the clinic's prescribers and nurses."""
    roles = {Role.PRESCRIBER, Role.NURSE}
    users = [m.user for m in Membership.objects.filter(clinic_id=patient.clinic_id, role__in=roles)
             .select_related("user")]
    working_here = set(Membership.objects.filter(clinic_id=patient.clinic_id)
                       .values_list("user_id", flat=True))
    users += [u for u in (patient.prescriber, patient.therapist)
              if u is not None and u.pk in working_here]  # access ended: no health data
    return sorted({u.email for u in users if u.email and u.is_active})


def admins(clinic_id: int) -> list[str]:
    """Clinic admins: the escalation is theirs to chase (they see alerts, not charts)."""
    return sorted({m.user.email for m in Membership.objects.filter(
        clinic_id=clinic_id, role=Role.ADMIN).select_related("user")
        if m.user.email and m.user.is_active})
