"""What the patient registry writes to the audit trail (declared from PatientsConfig.ready)."""

from django.db import models


class AuditRecords(models.TextChoices):
    PATIENT = "patient", "Patient"
    STATUS_CHANGE = "status_change", "Status change"
    CONDITION = "condition", "Condition"
    PATIENT_LINK = "patient_link", "Patient link"
