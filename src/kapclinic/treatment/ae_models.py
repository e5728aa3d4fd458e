"""Adverse events (imported by treatment/models.py): what happened to a patient, recorded from
a session, the chart or the patient's own report, and what the prescriber made of it.

The event as recorded is never edited: a wrong one is marked entered in error. What follows
is written as its own record: the prescriber's review (causality; a later review stands over
an earlier one), the report to the Spravato REMS, and the closing with the outcome. A serious
event (any ICH E2A criterion) cannot be closed before the prescriber has reviewed it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.accounts import scoping
from kapclinic.accounts.models import Clinic
from kapclinic.audit.models import AppendOnlyRecord, CorrectableRecord
from kapclinic.patients.models import Patient, paired
from kapclinic.privacy import classify

USER = settings.AUTH_USER_MODEL
ADVERSE_EVENT_RECORD = "treatment.adverse_event"  # what an alert about an event names


class AdverseEventSettings(models.Model):
    """A clinic's own lists (terms, action taken, outcome, causality); an empty list means the
    labelled default of clinical/safety/adverse_events.json."""

    clinic = models.OneToOneField(Clinic, on_delete=models.PROTECT, related_name="+")
    lists = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(none=("id", "clinic", "lists", "version"))

    def __str__(self) -> str:
        return f"adverse-event lists of {self.clinic}"

    @classmethod
    def for_clinic(cls, clinic_id: int) -> AdverseEventSettings:
        return scoping.clinic_settings(cls, clinic_id)


class Reporter(models.TextChoices):
    SESSION = "session", "Recorded during or after a session"
    CHART = "chart", "Recorded from the chart"
    PATIENT = "patient", "Reported by the patient"


class Severity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class AdverseEvent(CorrectableRecord):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="adverse_events")
    session = models.ForeignKey("treatment.Session", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="adverse_events")
    term = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    onset_at = models.DateTimeField(null=True, blank=True)  # none: not known (a patient's report)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    grade = models.PositiveSmallIntegerField(null=True, blank=True)  # none: reported by the patient
    # ICH E2A criteria met (keys of clinical/safety); none: not serious
    serious_criteria = models.JSONField(default=list, blank=True)
    action_taken = models.CharField(max_length=80, blank=True)
    reported_by = models.CharField(max_length=10, choices=Reporter.choices)
    key = models.CharField(max_length=64)  # the form's one-time key: a retry records nothing more
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="+")
    entered_in_error_reason = models.CharField(max_length=500, blank=True)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(
        date=("onset_at", "recorded_at", "entered_in_error_at"),
        free_text=("description", "entered_in_error_reason"),
        coded=("term", "severity", "grade", "serious_criteria", "action_taken", "reported_by"),
        none=("id", "clinic", "patient", "session", "key", "recorded_by", "entered_in_error_by"),
    )

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["clinic", "onset_at"]),
                   models.Index(fields=["clinic", "recorded_at"])]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "key"], name="treatment_ae_recorded_once"),
            models.CheckConstraint(condition=Q(grade__isnull=True) | Q(grade__gte=1, grade__lte=5),
                                   name="treatment_ae_grade_1_to_5"),
            # only what the patient reports goes without a clinician's grade or a known onset
            models.CheckConstraint(condition=Q(grade__isnull=False) | Q(reported_by="patient"),
                                   name="treatment_ae_graded_unless_patient_reported"),
            models.CheckConstraint(condition=Q(onset_at__isnull=False) | Q(reported_by="patient"),
                                   name="treatment_ae_onset_known_unless_patient_reported"),
            models.CheckConstraint(condition=Q(severity__in=Severity.values),
                                   name="treatment_ae_severity_known"),
            paired("entered_in_error_at", "entered_in_error_by", "treatment_ae_error_who_when"),
        ]

    def __str__(self) -> str:
        return f"{self.term} ({self.patient_id})"

    @property
    def serious(self) -> bool:
        return bool(self.serious_criteria)

    @property
    def when(self):
        """When it started, or (a patient's report) when it was reported."""
        return self.onset_at or self.recorded_at


class AdverseEventReview(AppendOnlyRecord):
    """The prescriber's review of an event: how likely the drug caused it; the latest stands."""

    event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="reviews")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    causality = models.CharField(max_length=80)
    note = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    clinic_path = "clinic"
    FIELD_CLASSES = classify(date=("reviewed_at",), free_text=("note",), coded=("causality",),
                             none=("id", "event", "clinic", "reviewed_by"))

    class Meta:
        ordering = ["-reviewed_at", "-id"]

    def __str__(self) -> str:
        return f"review of adverse event {self.event_id}"


class AdverseEventRemsReport(AppendOnlyRecord):
    """An esketamine event reported to the Spravato REMS: when, and its reference."""

    event = models.OneToOneField(AdverseEvent, on_delete=models.PROTECT, related_name="rems_report")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    reported_on = models.DateField()
    reference = models.CharField(max_length=100, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    clinic_path = "clinic"
    FIELD_CLASSES = classify(date=("reported_on", "recorded_at"),
                             none=("id", "event", "clinic", "reference", "recorded_by"))

    def __str__(self) -> str:
        return f"REMS report of adverse event {self.event_id}"


class AdverseEventClosure(AppendOnlyRecord):
    """An event closed, with its outcome (once)."""

    event = models.OneToOneField(AdverseEvent, on_delete=models.PROTECT, related_name="closure")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=80)
    note = models.TextField(blank=True)
    closed_at = models.DateTimeField(default=timezone.now)
    closed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    clinic_path = "clinic"
    FIELD_CLASSES = classify(date=("closed_at",), free_text=("note",), coded=("outcome",),
                             none=("id", "event", "clinic", "closed_by"))

    def __str__(self) -> str:
        return f"closure of adverse event {self.event_id}"


class Feeling(models.TextChoices):
    FINE = "fine", "I feel fine"
    EFFECTS = "effects", "I have had effects since the session"


class AfterSessionCheckIn(AppendOnlyRecord):
    """The patient's answer, on the portal, to "how are you since your session?" (once per
    session); effects they report become patient-reported adverse events for review."""

    session = models.OneToOneField("treatment.Session", on_delete=models.PROTECT,
                                   related_name="after_check_in")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    feeling = models.CharField(max_length=10, choices=Feeling.choices)
    note = models.TextField(blank=True)
    answered_at = models.DateTimeField(default=timezone.now)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(date=("answered_at",), free_text=("note",), coded=("feeling",),
                             none=("id", "session", "clinic", "patient"))

    def __str__(self) -> str:
        return f"after-session check-in of session {self.session_id}"
