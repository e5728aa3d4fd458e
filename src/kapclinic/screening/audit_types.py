"""What screening writes to the audit trail (declared by the audit app, see audit.types)."""

from django.db import models


class AuditRecords(models.TextChoices):
    INTAKE = "intake", "Intake"
    INTAKE_REVISION = "intake_revision", "Intake revision"
    ELIGIBILITY_DECISION = "eligibility_decision", "Eligibility decision"
    SIGNOFF = "signoff", "Sign-off"
    SIGN_OFF = "sign_off", "Sign-off (opened)"  # the scoped lookup's name for the model
    CONSENT_DOCUMENT = "consent_document", "Consent document"
    CONSENT = "consent", "Consent"
