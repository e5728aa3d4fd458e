"""What reached the mail server: the worker's sending step runs first, as it does after the
write that queued a message (Django's test mailbox stands in for the SMTP server)."""

from __future__ import annotations

from django.core import mail

from kapclinic.alerts import sending


def delivered() -> list[mail.EmailMessage]:
    sending.deliver_due()
    return mail.outbox
