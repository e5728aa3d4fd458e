"""The patient registry: who the clinic treats, their conditions and care team."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.accounts.models import Clinic
from kapclinic.audit.models import AppendOnlyRecord, CorrectableRecord, HealthRecord
from kapclinic.privacy import classify


class Status(models.TextChoices):
    REFERRED = "referred", "Referred"
    SCREENING = "screening", "Screening"
    ELIGIBLE = "eligible", "Eligible"
    INELIGIBLE = "ineligible", "Ineligible"
    IN_TREATMENT = "in_treatment", "In treatment"
    MAINTENANCE = "maintenance", "Maintenance"
    DISCHARGED = "discharged", "Discharged"


class SexAtBirth(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    INTERSEX = "intersex", "Intersex"
    UNKNOWN = "unknown", "Unknown"


def paired(prefix_at: str, prefix_by: str, name: str) -> models.CheckConstraint:
    """Who and when travel together: both set or both empty."""
    return models.CheckConstraint(
        condition=Q(**{f"{prefix_at}__isnull": True, f"{prefix_by}__isnull": True})
        | Q(**{f"{prefix_at}__isnull": False, f"{prefix_by}__isnull": False}),
        name=name,
    )


class Patient(HealthRecord):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("MRN", max_length=32)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex_at_birth = models.CharField(max_length=10, choices=SexAtBirth.choices)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    address = models.TextField(blank=True)
    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_relationship = models.CharField(max_length=100, blank=True)
    emergency_contact_phone = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REFERRED)
    prescriber = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    therapist = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    # The patient's own login for the portal, when they have one.
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True,
                                on_delete=models.PROTECT, related_name="patient_record")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(
        direct_identifier=("mrn", "given_name", "family_name", "phone", "email", "address",
            "emergency_contact_name", "emergency_contact_phone"),
        date=("date_of_birth", "created_at", "updated_at"),
        quasi_identifier=("sex_at_birth", "emergency_contact_relationship"),
        coded=("status",),
        none=("id", "clinic", "prescriber", "therapist", "user", "version", "created_by"),
    )

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "mrn"], name="mrn_unique_per_clinic"),
            models.CheckConstraint(condition=Q(version__gte=1), name="patient_version_positive"),
        ]
        indexes = [
            models.Index(fields=["clinic", "family_name", "given_name"]),
            models.Index(fields=["clinic", "status"]),
            models.Index(fields=["clinic", "date_of_birth"]),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age_on(self, day) -> int:
        years = day.year - self.date_of_birth.year
        return years - ((day.month, day.day) < (self.date_of_birth.month, self.date_of_birth.day))


class StatusChange(AppendOnlyRecord):
    """Every change of a patient's status, kept for the timeline. Append-only."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.PROTECT, related_name="+")

    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("changed_at",),
        coded=("from_status", "to_status"),
        none=("id", "patient", "changed_by"),
    )

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} -> {self.to_status}"


class Condition(CorrectableRecord):
    """A diagnosis on the patient's problem list (ICD-10-CM, clinical.md 6.1).

    Never deleted: a wrong entry is marked entered-in-error with a reason.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="conditions")
    code = models.CharField(max_length=10)
    display = models.CharField(max_length=200)
    code_system = models.CharField(max_length=100)
    # TRD has no ICD-10-CM code: it is recorded on the depression code (clinical.md 6.1).
    treatment_resistant = models.BooleanField(default=False)
    note = models.CharField(max_length=500, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                    on_delete=models.PROTECT, related_name="+")
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                            on_delete=models.PROTECT, related_name="+")
    entered_in_error_reason = models.CharField(max_length=500, blank=True)

    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("recorded_at", "entered_in_error_at"),
        free_text=("note", "entered_in_error_reason"),
        coded=("code", "display", "code_system"),
        none=("id", "patient", "treatment_resistant", "recorded_by", "entered_in_error_by"),
    )

    class Meta:
        ordering = ["recorded_at", "id"]
        constraints = [
            paired("entered_in_error_at", "entered_in_error_by", "condition_error_who_when"),
            models.CheckConstraint(
                condition=Q(entered_in_error_at__isnull=True) | ~Q(entered_in_error_reason=""),
                name="condition_error_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.display}"


    @property
    def is_active(self) -> bool:
        return self.entered_in_error_at is None


class PatientLink(models.Model):
    """A single-use, expiring link a patient opens without logging in (intake, questionnaires).

    Only the SHA-256 of the token is stored; the link is shown once when issued.
    """

    class Purpose(models.TextChoices):
        INTAKE = "intake", "Intake form"
        MEASURE = "measure", "Questionnaire"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="links")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("created_at", "expires_at", "used_at"),
        coded=("purpose",),
        none=("id", "patient", "token_hash", "created_by"),
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.purpose} link for patient {self.patient_id}"

    @property
    def is_open(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()
