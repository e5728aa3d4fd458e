"""The worker's escalation step: an urgent alert nobody acknowledged within the clinic's time
goes by email to everyone who can act on it, and to the clinic's admins to chase it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.exceptions import ImproperlyConfigured

from kapclinic.accounts.models import Membership
from kapclinic.accounts.roles import Role
from kapclinic.accounts.scoping import for_clinic
from kapclinic.alerts import actions, notifications
from kapclinic.alerts.models import Alert

log = logging.getLogger(__name__)
BATCH = 200

# How long a clinic waits before escalating, in minutes. The setting is on the clinic's
# measurement settings page today (MeasureSettings.escalation_minutes); measures tells this
# app how to read it from its ready(), so alerts imports no feature app.
_minutes_reader: Callable[[int], int] | None = None


def read_escalation_minutes_with(reader: Callable[[int], int]) -> None:
    global _minutes_reader  # noqa: PLW0603 (set once, from an AppConfig.ready())
    _minutes_reader = reader


def escalation_minutes(clinic_id: int) -> int:
    if _minutes_reader is None:
        raise ImproperlyConfigured("No app says how long a clinic waits before escalating an "
                                   "alert (measures registers it from its ready()).")
    return _minutes_reader(clinic_id)


def escalate_clinic(clinic_id: int, now: datetime) -> int:
    """Escalate the clinic's urgent alerts past its time, oldest first. A follow-up alert
    (C-SSRS Moderate) waits for the care team's follow-up by the clinic's protocol and is not
    escalated; an alert marked raised in error is not either."""
    minutes = escalation_minutes(clinic_id)
    due = (for_clinic(Alert.objects.open().filter(
               escalated_at__isnull=True, priority=Alert.Priority.URGENT,
               raised_at__lte=now - timedelta(minutes=minutes)), clinic_id)
           .select_related("patient", "clinic").order_by("raised_at")[:BATCH])
    escalated = 0
    for alert in due:
        escalated += actions.escalate_alert(alert, now=now, minutes=minutes, by=None)
    return escalated


def notify(alert: Alert, *, now: datetime, minutes: int) -> int:
    """Queue the escalation's emails: the people who can act on it, and the admins to chase.
    Returns how many people were emailed; none (nobody in those roles has an email address)
    is logged, naming the clinic only, for whoever runs the server to see."""
    about = f" for MRN {alert.patient.mrn}" if alert.patient else ""
    waited = elapsed_words(now - alert.raised_at)
    care_team = responders(alert.clinic_id, alert.patient)
    for address in care_team:
        notifications.send_to_staff(
            alert.clinic_id, address, subject="Unacknowledged urgent alert",
            body=(f"An urgent alert ({alert.label}){about} has not been acknowledged "
                  f"for {waited}. Open Alerts in kapclinic."))
    told = ("The care team has been emailed" if care_team else
            "Nobody in the care team has an email address in kapclinic, so no one else was "
            "emailed")
    chasers = admins(alert.clinic_id)
    for address in chasers:
        notifications.send_to_staff(
            alert.clinic_id, address, subject="Alert escalated",
            body=(f"An urgent alert{about} has not been acknowledged for {waited} (the clinic "
                  f"escalates after {minutes} minutes). {told}; see Alerts in kapclinic "
                  "to make sure someone responds."))
    emailed = len(set(care_team) | set(chasers))
    if not emailed:
        log.warning("escalation: alert %s of clinic %s (%s) was emailed to no one: nobody in "
                    "the clinic's escalation roles (prescriber, nurse, admin) has an email "
                    "address", alert.pk, alert.clinic_id, alert.clinic.name)
    return emailed


def elapsed_words(waited: timedelta) -> str:
    """``waited`` as a clinician says it: 61 minutes, 3 hours, 2 hours 15 minutes, 2 days."""
    minutes = max(int(waited.total_seconds() // 60), 0)
    if minutes < 120:
        return f"{minutes} minute{'' if minutes == 1 else 's'}"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} hours" + (f" {rest} minutes" if rest else "")
    return f"{hours // 24} days" + (f" {hours % 24} hours" if hours % 24 else "")


def responders(clinic_id: int, patient=None) -> list[str]:
    """The clinic's prescribers and nurses, and the patient's own prescriber and therapist
    while they still work at the clinic."""
    roles = {Role.PRESCRIBER, Role.NURSE}
    users = [m.user for m in for_clinic(Membership.objects.filter(role__in=roles), clinic_id)
             .select_related("user")]
    if patient is not None:
        working_here = set(for_clinic(Membership, clinic_id).values_list("user_id", flat=True))
        users += [u for u in (patient.prescriber, patient.therapist)
                  if u is not None and u.pk in working_here]  # access ended: no health data
    return sorted({u.email for u in users if u.email and u.is_active})


def admins(clinic_id: int) -> list[str]:
    """Clinic admins: the escalation is theirs to chase (they see alerts, not charts)."""
    return sorted({m.user.email for m in for_clinic(
        Membership.objects.filter(role=Role.ADMIN), clinic_id).select_related("user")
        if m.user.email and m.user.is_active})
