"""The measures app's part of the worker, run for each clinic on its own (registered from
MeasuresConfig.ready() as extension WorkerSteps): send due questionnaires, remind once,
recompute outcome snapshots after the clinic changed its outcome rules.

The alerts app escalates unacknowledged alerts and sends the outbox (alerts/sending.py, after
these steps committed, never inside a transaction). Each step claims its work with a
conditional UPDATE inside the transaction that does it, so two workers (on two servers) never
send the same thing twice. A step that fails for one clinic (a bad setting) is logged by the
registry and never stops another clinic's.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from kapclinic import config
from kapclinic.accounts.models import Clinic
from kapclinic.accounts.scoping import for_clinic
from kapclinic.alerts import notifications
from kapclinic.audit import context
from kapclinic.measures import actions
from kapclinic.measures import outcomes as outcome_snapshots
from kapclinic.measures.models import MeasureRequest, Schedule
from kapclinic.patients.models import Status
from kapclinic.platform import extensions

log = logging.getLogger(__name__)

# [policy] one reminder, a day after a questionnaire was sent and not answered.
REMINDER_AFTER = timedelta(days=1)
BATCH = 200

# the step labels, as the worker's report prints them
SENDING = "questionnaires sent"
FOLLOWING_UP = "follow-ups after a dose sent"
REMINDING = "reminders"
RECOMPUTING = "outcomes recomputed under new rules"


def steps() -> list[extensions.WorkerStep]:
    return [
        extensions.WorkerStep("measures.send_due", SENDING, send_due, order=10),
        extensions.WorkerStep("measures.send_followups", FOLLOWING_UP, send_followups, order=15),
        extensions.WorkerStep("measures.remind", REMINDING, remind, order=20),
        # after the alerts app's escalation (30) and outbox (40): recomputing may take long
        extensions.WorkerStep("measures.recompute", RECOMPUTING, recompute, order=50),
    ]


def send_due(clinic_id: int, now: datetime, url: str | None = None) -> int:
    """Send the clinic's due questionnaires (a link each, by email and SMS)."""
    url = url or config.base_url()
    # the clinic's link lifetime, read (and checked) once before anything is claimed
    actions.settings_for(clinic_id).bounded("link_days")
    sent = 0
    due = (for_clinic(Schedule.objects.filter(active=True, next_due_at__lte=now), clinic_id)
           .exclude(patient__status=Status.DISCHARGED)  # discharged: no more questionnaires
           .select_related("patient", "patient__clinic").order_by("next_due_at")[:BATCH])
    for schedule in due:
        if not notifications.can_reach(schedule.patient):
            continue  # no email or phone: stays due, and shows as overdue on the dashboard
        try:
            with transaction.atomic():
                if not actions.claim_due_schedule(schedule.pk, schedule.next_due_at):
                    continue  # another worker took it
                actions.send_request(patient=schedule.patient, instrument=schedule.instrument,
                                     due_at=schedule.next_due_at, base_url=url, by=None)
                sent += 1
        except Exception:  # noqa: BLE001 (one bad schedule never stops the others)
            log.exception("worker: sending schedule %s failed; it stays due", schedule.pk)
    return sent


def send_followups(clinic_id: int, now: datetime) -> int:
    """Send the clinic's due follow-ups anchored to a dose (24 h, day 7: anchoring)."""
    from kapclinic.measures import anchoring

    return anchoring.send_followups(clinic_id, now)


def remind(clinic_id: int, now: datetime) -> int:
    reminded = 0
    waiting = (for_clinic(MeasureRequest.objects.filter(
        reminded_at__isnull=True, sent_at__lte=now - REMINDER_AFTER,
        link__used_at__isnull=True, link__expires_at__gt=now), clinic_id)
        .exclude(patient__status=Status.DISCHARGED)
        .select_related("patient", "patient__clinic")[:BATCH])
    for request in waiting:
        reminded += actions.remind(request=request, now=now)
    return reminded


def recompute(clinic_id: int, now: datetime) -> int:
    """Recompute a batch of the clinic's snapshots made under older outcome rules."""
    return outcome_snapshots.refresh_stale(clinic_id=clinic_id, limit=BATCH)


def escalation_minutes(clinic_id: int) -> int:
    """The clinic's wait before an urgent alert is escalated (its measurement settings): the
    alerts app reads it through this (MeasuresConfig.ready() hands it over)."""
    return actions.settings_for(clinic_id).bounded("escalation_minutes")


@dataclass
class Report:
    """One pass over every clinic, summed (what `kapclinic worker --once` prints, by step)."""

    sent: int = 0
    reminded: int = 0
    followups: int = 0
    escalated: int = 0
    recomputed: int = 0
    delivered: int = 0
    failed: tuple[str, ...] = ()

    def __str__(self) -> str:
        return (f"{self.sent} questionnaire(s) sent, {self.followups} follow-up(s) after a "
                f"dose, {self.reminded} reminder(s), "
                f"{self.escalated} alert(s) escalated, {self.recomputed} outcome(s) recomputed "
                f"under new rules, {self.delivered} message(s) sent")


def run_once(now: datetime | None = None, url: str | None = None) -> Report:
    """Every registered worker step (every app's, not only these), for every clinic: one
    pass of `kapclinic worker`, summarised by the steps tests ask about."""
    from kapclinic.alerts import worker as alert_steps

    now = now or timezone.now()
    context.set_system_actor("kapclinic worker")
    previous = os.environ.get("KAPCLINIC_BASE_URL")
    if url:
        os.environ["KAPCLINIC_BASE_URL"] = url
    try:
        done = extensions.run_worker_steps(Clinic.objects.values_list("pk", flat=True), now)
    finally:
        if url:
            if previous is None:
                os.environ.pop("KAPCLINIC_BASE_URL", None)
            else:
                os.environ["KAPCLINIC_BASE_URL"] = previous
    count = done.done.get
    return Report(sent=count(SENDING, 0), reminded=count(REMINDING, 0),
                  followups=count(FOLLOWING_UP, 0),
                  escalated=count(alert_steps.ESCALATING, 0),
                  recomputed=count(RECOMPUTING, 0), delivered=count(alert_steps.SENDING, 0),
                  failed=tuple(done.failed))
