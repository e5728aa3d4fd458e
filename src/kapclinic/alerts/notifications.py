"""Email (Django's backends) and SMS (a small backend interface), through the outbox.

``send_to_patient`` and ``send_to_staff`` only write the message into the outbox, in the
caller's transaction: it exists if and only if what caused it was saved. The worker sends it
after commit (alerts/sending.py), outside any transaction and away from the audit chain's
lock, so a slow mail server never holds a clinical write. The SMS backend is chosen by
KAPCLINIC_SMS_BACKEND (a dotted path); the default only records the message.
"""

from __future__ import annotations

import logging
import os
from typing import Protocol

from django.utils.module_loading import import_string

from kapclinic.alerts.models import OutboxMessage
from kapclinic.patients.models import Patient

log = logging.getLogger(__name__)


class SmsBackend(Protocol):
    def send(self, to: str, body: str) -> None: ...


class OutboxSmsBackend:
    """Records the SMS in the outbox only (development, tests)."""

    def send(self, to: str, body: str) -> None:
        # never the number: a log holds no recipient's address (alerts/sending.py neither)
        log.info("SMS recorded in the outbox only (no SMS backend is configured)")


DEFAULT_SMS_BACKEND = "kapclinic.alerts.notifications.OutboxSmsBackend"
# where the default lived before the outbox left measures: a server configured with it works on
MOVED = {"kapclinic.measures.messaging.OutboxSmsBackend": DEFAULT_SMS_BACKEND}


def sms_backend() -> SmsBackend:
    path = os.environ.get("KAPCLINIC_SMS_BACKEND", DEFAULT_SMS_BACKEND)
    return import_string(MOVED.get(path, path))()


def can_reach(patient: Patient) -> bool:
    return bool(patient.email or patient.phone)


def send_to_patient(patient: Patient, *, subject: str, body: str,
                    secret: str = "") -> list[OutboxMessage]:
    """Queue ``body`` by email and SMS; the outbox page shows it with ``secret`` (a link's
    token) blanked out, and the full text is kept only until it is sent."""
    kept = body.replace(secret, "[link token not stored]") if secret else body
    queued = []
    if patient.email:
        queued.append(OutboxMessage(clinic_id=patient.clinic_id, channel="email", to=patient.email,
                                    subject=subject, body=kept, pending_body=body,
                                    patient=patient))
    if patient.phone:
        queued.append(OutboxMessage(clinic_id=patient.clinic_id, channel="sms", to=patient.phone,
                                    body=kept, pending_body=body, patient=patient))
    return OutboxMessage.objects.bulk_create(queued)


def send_to_staff(clinic_id: int, to: str, *, subject: str, body: str,
                  secret: str = "") -> OutboxMessage:
    """Queue an email to a member of staff; the page shows it with ``secret`` blanked out."""
    kept = body.replace(secret, "[link not stored]") if secret else body
    return OutboxMessage.objects.create(clinic_id=clinic_id, channel="email", to=to,
                                        subject=subject, body=kept, pending_body=body)
