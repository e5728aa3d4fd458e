"""What the alerts app writes to the audit trail (declared from AlertsConfig.ready)."""

from django.db import models


class AuditRecords(models.TextChoices):
    ALERT = "alert", "Alert"
    OUTBOX_MESSAGE = "outbox_message", "Outbox message"
