"""Email (Django's backends) and SMS (a small backend interface), every message kept in the outbox.

The outbox is what a clinic admin reads on a development install; in production it is the
record of what was sent. The SMS backend is chosen by KAPCLINIC_SMS_BACKEND (a dotted path);
the default only records the message.
"""

from __future__ import annotations

import logging
import os
from typing import Protocol

from django.core.mail import send_mail
from django.utils.module_loading import import_string

from kapclinic.measures.models import OutboxMessage
from kapclinic.patients.models import Patient

log = logging.getLogger(__name__)
FROM_ADDRESS = os.environ.get("KAPCLINIC_FROM_EMAIL", "care@kapclinic.invalid")


class SmsBackend(Protocol):
    def send(self, to: str, body: str) -> None: ...


class OutboxSmsBackend:
    """Records the SMS in the outbox only (development, tests)."""

    def send(self, to: str, body: str) -> None:
        log.info("SMS to %s recorded in the outbox", to)


def sms_backend() -> SmsBackend:
    path = os.environ.get("KAPCLINIC_SMS_BACKEND", "kapclinic.measures.messaging.OutboxSmsBackend")
    return import_string(path)()


def can_reach(patient: Patient) -> bool:
    return bool(patient.email or patient.phone)


def send_to_patient(patient: Patient, *, subject: str, body: str,
                    secret: str = "") -> list[OutboxMessage]:
    """Send ``body``; the outbox keeps it with ``secret`` (a link's token) blanked out."""
    kept = body.replace(secret, "[link token not stored]") if secret else body
    sent = []
    if patient.email:
        send_mail(subject, body, FROM_ADDRESS, [patient.email])
        sent.append(OutboxMessage(clinic_id=patient.clinic_id, channel="email", to=patient.email,
                                  subject=subject, body=kept, patient=patient))
    if patient.phone:
        sms_backend().send(patient.phone, body)
        sent.append(OutboxMessage(clinic_id=patient.clinic_id, channel="sms", to=patient.phone,
                                  body=kept, patient=patient))
    return OutboxMessage.objects.bulk_create(sent)


def send_to_staff(clinic_id: int, to: str, *, subject: str, body: str,
                  secret: str = "") -> OutboxMessage:
    """Email a member of staff; the outbox keeps it with ``secret`` (a link) blanked out."""
    send_mail(subject, body, FROM_ADDRESS, [to])
    kept = body.replace(secret, "[link not stored]") if secret else body
    return OutboxMessage.objects.create(clinic_id=clinic_id, channel="email", to=to,
                                        subject=subject, body=kept)
