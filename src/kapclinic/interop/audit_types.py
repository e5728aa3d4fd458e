"""What the interop app writes to the audit trail (declared from the audit app's ready); its
action, "export", is the treatment app's."""

from django.db import models


class AuditRecords(models.TextChoices):
    FHIR_EXPORT = "fhir_export", "FHIR bulk export"
