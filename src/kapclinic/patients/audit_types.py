"""What the patient registry writes to the audit trail (declared by the audit app, see audit.types)."""

from django.db import models


class AuditRecords(models.TextChoices):
    PATIENT = "patient", "Patient"
    STATUS_CHANGE = "status_change", "Status change"
    CONDITION = "condition", "Condition"
    PATIENT_LINK = "patient_link", "Patient link"
