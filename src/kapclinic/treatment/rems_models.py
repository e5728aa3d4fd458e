"""The Spravato REMS Patient Monitoring Form of a session: when it was submitted and how, and
the clinic's details the form asks for (imported by treatment/models.py).

A form is generated from the session each time it is opened (``treatment.rems``); marking it
submitted keeps the content as it was filed, the date and the method. A submission marked by
mistake is marked entered in error (never deleted); then the form can be marked again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.accounts import scoping
from kapclinic.accounts.models import Clinic
from kapclinic.audit.models import CorrectableRecord
from kapclinic.clinical import rems
from kapclinic.patients.models import Patient, paired
from kapclinic.privacy import classify

USER = settings.AUTH_USER_MODEL


class SubmissionMethod(models.TextChoices):
    # sessions.md 1 Patient Monitoring Form row: submitted online or by fax
    ONLINE = "online", "Online"
    FAX = "fax", "Fax"


class RemsFormDetails(models.Model):
    """A clinic's details for the form (its healthcare setting's address) and its reminder
    day; before its first save, the labelled defaults of the form file."""

    clinic = models.OneToOneField(Clinic, on_delete=models.PROTECT, related_name="rems_details")
    setting_name = models.CharField(max_length=200, blank=True)  # blank: the clinic's name
    address = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=40, blank=True)
    zip_code = models.CharField(max_length=20, blank=True)
    form_version = models.CharField(max_length=20, default=rems.DEFAULT_VERSION)
    remind_after_days = models.PositiveSmallIntegerField(
        default=rems.get_form().remind_after_days.default)

    clinic_path = "clinic"
    # the clinic's own address, nothing about a person
    FIELD_CLASSES = classify(
        coded=("form_version",),
        none=("id", "clinic", "setting_name", "address", "city", "state", "zip_code",
              "remind_after_days"),
    )

    def __str__(self) -> str:
        return f"REMS form details of {self.clinic}"

    @classmethod
    def for_clinic(cls, clinic_id: int) -> RemsFormDetails:
        """Stored details, or the defaults unsaved (reading never writes)."""
        return scoping.clinic_settings(cls, clinic_id)


class RemsSubmission(CorrectableRecord):
    """The session's form marked submitted: on which day, how, and what it said."""

    session = models.ForeignKey("treatment.Session", on_delete=models.PROTECT,
                                related_name="rems_submissions")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    form_version = models.CharField(max_length=20)
    submitted_on = models.DateField()
    method = models.CharField(max_length=10, choices=SubmissionMethod.choices)
    content = models.JSONField(default=dict)  # the form's content when it was marked
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="+")
    entered_in_error_reason = models.CharField(max_length=500, blank=True)

    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("submitted_on", "recorded_at", "entered_in_error_at"),
        free_text=("content", "entered_in_error_reason"),  # names the patient and clinician
        coded=("form_version", "method"),
        none=("id", "session", "patient", "recorded_by", "entered_in_error_by"),
    )

    class Meta:
        ordering = ["recorded_at", "id"]
        constraints = [
            # one standing submission per session: marking twice stores it once
            models.UniqueConstraint(fields=["session"], condition=Q(entered_in_error_at__isnull=True),
                                    name="one_rems_submission_per_session"),
            models.CheckConstraint(condition=Q(method__in=SubmissionMethod.values),
                                   name="rems_submission_method_known"),
            paired("entered_in_error_at", "entered_in_error_by", "rems_submission_error_who_when"),
        ]

    def __str__(self) -> str:
        return f"REMS form of session {self.session_id} submitted {self.submitted_on} ({self.method})"
