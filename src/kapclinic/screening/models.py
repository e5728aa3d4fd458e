"""Intake, eligibility decisions with prescriber sign-off, and informed consent.

Decisions, sign-offs, consent documents and intake revisions are append-only: a
new evaluation, a new version or a withdrawal is a new fact, never an edit.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.accounts.models import Clinic
from kapclinic.audit.models import AppendOnlyRecord, CorrectableRecord, HealthRecord
from kapclinic.clinical.screening.schema import HISTORY_KEYS
from kapclinic.patients.models import Patient, paired
from kapclinic.privacy import classify

USER = settings.AUTH_USER_MODEL

# The keys of an intake by what they say about the patient. ``data`` (the validated intake the
# rules read) holds the rules' INPUT_FIELDS (clinical/screening/schema.py, history answers
# nested under "history"); ``draft`` holds the intake form's answers as typed, under the form's
# field names, with the narrative questions (screening/forms.py NARRATIVE) that only the draft
# keeps. tests/test_field_classification.py keeps both tables in step with the schema and form.
INTAKE_DATA_KEY_CLASSES = {
    **classify(
        date=("date_of_birth",),
        free_text=("medications", "hypersensitivities"),
        quasi_identifier=("sex_at_birth",),
        coded=("diagnoses",),
        none=("weight_kg", "height_cm", "sbp_mmhg", "dbp_mmhg", "heart_rate_bpm", "spo2_pct",
              "resp_rate_per_min", "temp_c", "adequate_antidepressant_trials", "pregnant",
              "breastfeeding", "audit_total"),
    ),
    **classify(none=[f"history.{key}" for key in HISTORY_KEYS]),
}
INTAKE_DRAFT_KEY_CLASSES = {
    **{name.replace(".", "_"): cls for name, cls in INTAKE_DATA_KEY_CLASSES.items()
       # the first three come from the patient record; the form does not ask the last two
       if name not in ("date_of_birth", "sex_at_birth", "diagnoses", "resp_rate_per_min", "temp_c")},
    **classify(
        free_text=("prior_treatments", "ect", "prior_ketamine", "allergies_notes", "goals"),
        none=("no_medications", "no_hypersensitivities"),
    ),
}
INTAKE_JSON_KEY_CLASSES = {"draft": INTAKE_DRAFT_KEY_CLASSES, "data": INTAKE_DATA_KEY_CLASSES}


class Intake(HealthRecord):
    """The patient's current intake: the draft as typed, and the last validated version."""

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="intake")
    draft = models.JSONField(default=dict)        # form values as typed (autosaved)
    data = models.JSONField(null=True, blank=True)  # the validated intake the rules read
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")

    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("updated_at",),
        free_text=("draft", "data"),
        none=("id", "patient", "version", "updated_by"),
    )
    JSON_KEY_CLASSES = INTAKE_JSON_KEY_CLASSES

    def __str__(self) -> str:
        return f"intake of patient {self.patient_id} v{self.version}"


class IntakeRevision(AppendOnlyRecord):
    """Every save of an intake, so nothing typed is ever lost or silently replaced."""

    intake = models.ForeignKey(Intake, on_delete=models.PROTECT, related_name="revisions")
    version = models.PositiveIntegerField()
    draft = models.JSONField()
    data = models.JSONField(null=True)
    saved_at = models.DateTimeField(default=timezone.now)
    saved_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=20, default="clinic")  # clinic | link

    clinic_path = "intake__patient__clinic"
    FIELD_CLASSES = classify(
        date=("saved_at",),
        free_text=("draft", "data"),
        coded=("source",),
        none=("id", "intake", "version", "saved_by"),
    )
    JSON_KEY_CLASSES = INTAKE_JSON_KEY_CLASSES

    class Meta:
        constraints = [models.UniqueConstraint(fields=["intake", "version"],
                                               name="one_revision_per_intake_version")]

    def __str__(self) -> str:
        return f"intake {self.intake_id} revision {self.version}"


class DecisionStatus(models.TextChoices):
    ELIGIBLE = "eligible", "Eligible"
    CAUTIONS = "eligible_with_cautions", "Eligible with cautions"
    REVIEW = "needs_review", "Needs review"
    NOT_ELIGIBLE = "not_eligible", "Not eligible"


class EligibilityDecision(AppendOnlyRecord):
    """What the rules said about one intake version, with the rule-set version that said it."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="decisions")
    intake_version = models.PositiveIntegerField()
    drug = models.CharField(max_length=20)
    route = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=30, choices=DecisionStatus.choices)
    result = models.JSONField()
    ruleset_version = models.CharField(max_length=40)
    evaluated_at = models.DateTimeField(default=timezone.now)
    evaluated_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")

    clinic_path = "patient__clinic"
    # result: reasons that may quote intake values (an age)
    FIELD_CLASSES = classify(
        date=("evaluated_at",),
        free_text=("result",),
        coded=("drug", "route", "status"),
        none=("id", "patient", "intake_version", "ruleset_version", "evaluated_by"),
    )

    class Meta:
        ordering = ["-evaluated_at", "-id"]

    def __str__(self) -> str:
        return f"{self.status} for patient {self.patient_id} ({self.ruleset_version})"


class SignOff(AppendOnlyRecord):
    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted the decision"
        OVERRIDDEN = "overridden", "Overrode the decision"

    class FinalStatus(models.TextChoices):
        ELIGIBLE = "eligible", "Eligible"
        INELIGIBLE = "ineligible", "Ineligible"

    decision = models.OneToOneField(EligibilityDecision, on_delete=models.PROTECT,
                                    related_name="signoff")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    final_status = models.CharField(max_length=12, choices=FinalStatus.choices)
    reason = models.TextField(blank=True)
    ruleset_version = models.CharField(max_length=40)
    signed_at = models.DateTimeField(default=timezone.now)
    signed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    clinic_path = "decision__patient__clinic"
    FIELD_CLASSES = classify(
        date=("signed_at",),
        free_text=("reason",),
        coded=("outcome", "final_status"),
        none=("id", "decision", "ruleset_version", "signed_by"),
    )

    class Meta:
        constraints = [models.CheckConstraint(
            condition=Q(outcome="accepted") | ~Q(reason=""), name="override_needs_reason")]

    def __str__(self) -> str:
        return f"{self.outcome}: {self.final_status}"


class ConsentDocument(AppendOnlyRecord):
    """One version of the clinic's consent text; editing makes a new version."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="consent_documents")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")

    clinic_path = "clinic"
    # the clinic's own form, the same for every patient
    FIELD_CLASSES = classify(
        none=("id", "clinic", "version", "title", "text", "created_at", "created_by"),
    )

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["clinic", "version"],
                                               name="one_consent_text_per_version")]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class Consent(CorrectableRecord):
    """A signature on one document version. Only a withdrawal may be added later."""

    class Method(models.TextChoices):
        PORTAL = "portal", "Signed in the patient portal"
        IN_CLINIC = "in_clinic", "Signed in clinic"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consents")
    document = models.ForeignKey(ConsentDocument, on_delete=models.PROTECT, related_name="+")
    signed_name = models.CharField(max_length=200)
    signed_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=12, choices=Method.choices)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    client_addr = models.CharField(max_length=64, blank=True)
    guardian_name = models.CharField(max_length=200, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    withdrawal_reason = models.TextField(blank=True)

    correction_fields = ("withdrawn_at", "withdrawn_by", "withdrawal_reason")  # its correction
    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        direct_identifier=("signed_name", "client_addr", "guardian_name"),
        date=("signed_at", "withdrawn_at"),
        free_text=("withdrawal_reason",),
        coded=("method",),
        none=("id", "patient", "document", "recorded_by", "withdrawn_by"),
    )

    class Meta:
        ordering = ["-signed_at", "-id"]
        constraints = [paired("withdrawn_at", "withdrawn_by", "consent_withdrawal_who_when")]

    def __str__(self) -> str:
        return f"consent of patient {self.patient_id} to {self.document}"
