"""The worker's sending step: deliver the outbox after the writes that queued it committed.

Each message is claimed with a conditional UPDATE (queued or retrying -> sending) before it is
sent and marked sent after, so two workers never send it twice. Nothing here runs inside a
transaction or touches the audit trail: a mail server that stalls holds only this worker
(for at most EMAIL_TIMEOUT), never a clinical write. A refused or failed message is tried
again later with a growing wait; each clinic's messages are sent on their own, so one
clinic's failure is logged and never stops another clinic's.
"""

from __future__ import annotations

import logging
import smtplib
import socket
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import F
from django.utils import timezone

from kapclinic import mailconfig
from kapclinic.accounts.scoping import for_clinic
from kapclinic.alerts import notifications
from kapclinic.alerts.models import OutboxMessage

log = logging.getLogger(__name__)
Status = OutboxMessage.Status

# [policy] Waits between attempts double from a minute up to an hour; after ten attempts
# (about four hours) the message is marked failed and shown so on the outbox page.
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)
MAX_ATTEMPTS = 10
# A claim older than this belongs to a worker that stopped while sending: whether the message
# went out is unknown, so it is marked failed (never sent twice) for an admin to follow up.
STALE_CLAIM = timedelta(minutes=15)
BATCH = 200
WAITING = (Status.QUEUED, Status.RETRYING)


def email_configured() -> bool:
    return settings.EMAIL_BACKEND != mailconfig.UNCONFIGURED


def wait_after(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    return min(FIRST_WAIT * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


def describe(exc: BaseException) -> str:
    """A one-line reason for the outbox page, in words: never the mail password or the message."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = [f"{code} {_text(reply)}" for code, reply in exc.recipients.values()]
        text = "The mail server refused the address: " + "; ".join(answers)
    elif isinstance(exc, smtplib.SMTPAuthenticationError):
        text = (f"The mail server did not accept the login in KAPCLINIC_EMAIL_URL "
                f"({exc.smtp_code} {_text(exc.smtp_error)})")
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"The mail server refused the message: {exc.smtp_code} {_text(exc.smtp_error)}"
    elif isinstance(exc, TimeoutError | socket.timeout):
        text = "The mail server did not answer in time"
    elif isinstance(exc, smtplib.SMTPException):
        text = f"The mail server stopped the conversation: {exc}"
    elif isinstance(exc, OSError):
        text = f"Could not reach the mail server ({exc.strerror or exc})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = text.replace("\n", " ")
    password = getattr(settings, "EMAIL_HOST_PASSWORD", "")
    if password:
        text = text.replace(password, "***")
    return text[:300]


def _without(text: str, address: str) -> str:
    """``text`` for the server log: a mail server's reply often quotes the recipient's
    address, which the outbox page may show an admin but a log must not hold."""
    return text.replace(address, "[recipient]") if address else text


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def deliver_due(now: datetime | None = None) -> int:
    """Send every due message, clinic by clinic; returns how many were sent. (The worker
    runs ``deliver_clinic`` for each clinic on its own; this is the same for all at once.)"""
    now = now or timezone.now()
    sent = 0
    clinics = (_due(now).order_by().values_list("clinic_id", flat=True).distinct())
    for clinic_id in list(clinics):
        try:
            sent += deliver_clinic(clinic_id, now)
        except Exception:  # noqa: BLE001 (logged; the other clinics' messages still go)
            log.exception("worker: sending clinic %s's messages failed; the next pass retries",
                          clinic_id)
    return sent


def deliver_clinic(clinic_id: int, now: datetime) -> int:
    """The worker's per-clinic step: send the clinic's due messages. ``now`` is when the
    worker's pass began; a message the pass's earlier steps queued (an escalation, a
    questionnaire) is due by the time this step runs, so the clock is read again here."""
    now = max(now, timezone.now())
    _give_up_stale_claims(now, clinic_id)
    sent = 0
    due = for_clinic(_due(now), clinic_id).order_by("next_attempt_at", "pk")[:BATCH]
    for message in due:
        try:
            sent += deliver(message, now)
        except Exception:  # noqa: BLE001 (one message's bookkeeping error never stops the rest)
            log.exception("worker: outbox message %s could not be handled", message.pk)
    return sent


def deliver(message: OutboxMessage, now: datetime) -> int:
    """Claim, send, and mark one message; 1 if this call sent it. ``now`` is when the pass
    began: the claim is stamped with the clock as it is claimed, since a pass sending a long
    batch to a slow server can run past STALE_CLAIM, and a claim stamped with the pass's start
    would look abandoned to another worker while this one is still sending it."""
    claimed = OutboxMessage.objects.filter(
        pk=message.pk, status=message.status, attempts=message.attempts).update(
        status=Status.SENDING, claimed_at=max(now, timezone.now()), attempts=F("attempts") + 1)
    if not claimed:
        return 0  # another worker has it
    attempts = message.attempts + 1
    try:
        _send(message)
    except Exception as exc:  # noqa: BLE001 (recorded on the message and retried)
        final = attempts >= MAX_ATTEMPTS
        reason = describe(exc)
        log.warning("worker: %s message %s to clinic %s's recipient not sent (attempt %s%s): %s",
                    message.channel, message.pk, message.clinic_id, attempts,
                    ", giving up" if final else "", _without(reason, message.to))
        OutboxMessage.objects.filter(pk=message.pk, status=Status.SENDING).update(
            status=Status.FAILED if final else Status.RETRYING, last_error=reason,
            next_attempt_at=timezone.now() + wait_after(attempts),
            **({"pending_body": ""} if final else {}))
        return 0
    OutboxMessage.objects.filter(pk=message.pk, status=Status.SENDING).update(
        status=Status.SENT, sent_at=timezone.now(), pending_body="", last_error="")
    return 1


def _due(now: datetime):
    due = OutboxMessage.objects.filter(status__in=WAITING, next_attempt_at__lte=now)
    if not email_configured():
        due = due.exclude(channel="email")  # kept queued until KAPCLINIC_EMAIL_URL is set
    return due


def _send(message: OutboxMessage) -> None:
    body = message.pending_body or message.body
    if message.channel == "sms":
        notifications.sms_backend().send(message.to, body)
        return
    email = EmailMessage(message.subject, body, settings.DEFAULT_FROM_EMAIL, [message.to],
                         connection=get_connection(fail_silently=False))
    if email.send() != 1:
        raise ConnectionError("the mail server did not accept the message")


def _give_up_stale_claims(now: datetime, clinic_id: int) -> None:
    stale = for_clinic(OutboxMessage.objects.filter(status=Status.SENDING,
                                                    claimed_at__lt=now - STALE_CLAIM), clinic_id)
    for pk in list(stale.values_list("pk", flat=True)):
        if OutboxMessage.objects.filter(pk=pk, status=Status.SENDING,
                                        claimed_at__lt=now - STALE_CLAIM).update(
                status=Status.FAILED, pending_body="",
                last_error="The worker stopped while sending: it may or may not have arrived. "
                           "Check with the recipient."):
            log.warning("worker: outbox message %s was being sent when a worker stopped; "
                        "marked failed (it may or may not have arrived)", pk)
