"""What the interop app writes to the audit trail (declared from the audit app's ready); the
"export" action is the treatment app's."""

from django.db import models


class AuditActions(models.TextChoices):
    IMPORT = "import", "Imported from another system"


class AuditRecords(models.TextChoices):
    FHIR_EXPORT = "fhir_export", "FHIR bulk export (the records sent)"
    BULK_EXPORT = "bulk_export", "FHIR bulk export asked for over the API"
    INTEROP_SETTINGS = "interop_settings", "Export settings"
    RESEARCH_EXPORT = "research_export", "De-identified research data set"
