"""What measurement-based care writes to the audit trail (declared from MeasuresConfig.ready)."""

from django.db import models


class AuditRecords(models.TextChoices):
    RESPONSE = "response", "Questionnaire"
    SCHEDULE = "schedule", "Questionnaire schedule"
    MEASURE_REQUEST = "measure_request", "Questionnaire request"
    MEASURE_SETTINGS = "measure_settings", "Measurement settings"
    OUTCOME_SETTINGS = "outcome_settings", "Outcome rules"
    OUTCOME = "outcome", "Outcome"
    OUTCOME_SNAPSHOT = "outcome_snapshot", "Outcome snapshot"
    CLINICAL_EVENT = "clinical_event", "Clinical event"
    DOSE_FOLLOW_UP = "dose_follow_up", "Follow-up after a dose"
