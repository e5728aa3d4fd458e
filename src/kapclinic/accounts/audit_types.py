"""What the accounts app writes to the audit trail (declared by the audit app, see audit.types)."""

from django.db import models


class AuditActions(models.TextChoices):
    MFA_VERIFIED = "mfa_verified", "Two-factor check passed"
    MFA_FAILED = "mfa_failed", "Two-factor check failed"
    TOKEN_CREATED = "token_created", "API token created"
    TOKEN_REVOKED = "token_revoked", "API token revoked"


class AuditRecords(models.TextChoices):
    CLINIC = "clinic", "Clinic"
    MEMBERSHIP = "membership", "Membership"
    INVITATION = "invitation", "Invitation"
    API_TOKEN = "api_token", "API token"
    PERMISSION = "permission", "Permission"
