"""A FHIR Bulk Data export asked for over the API, run in the background, its files kept a while."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from kapclinic.accounts.models import ApiToken, Clinic
from kapclinic.privacy import classify

USER = settings.AUTH_USER_MODEL

# [policy: labelled default] How long an export's files stay on the server for the client to
# fetch. The reference is silent: a clinic setting, 24 hours by default, within engineering bounds.
EXPORT_HOURS_DEFAULT = 24
EXPORT_HOURS_BOUNDS = (1, 24 * 14)
# [policy: labelled default] The research export's disclosure check: no combination of the
# quasi-identifiers may describe fewer patients than this (k-anonymity). The default, 5.
K_ANONYMITY_DEFAULT = 5
K_ANONYMITY_BOUNDS = (2, 100)
# [policy: labelled default] Each patient's dates are shifted by a secret offset within this many
# days either way. The reference is silent: half a year by default, a clinic setting.
DATE_SHIFT_DAYS_DEFAULT = 182
DATE_SHIFT_DAYS_BOUNDS = (30, 366)


class ResearchDates(models.TextChoices):
    # Safe Harbor keeps no date element but the year (clinical.md 7, item 3): the default
    YEAR = "year", "The year only (HIPAA Safe Harbor)"
    # shifted days keep intervals exact; beyond Safe Harbor, so only with an expert determination
    SHIFTED = "shifted", "Shifted days (only with an expert determination on file)"


class InteropSettings(models.Model):
    """The clinic's settings for what leaves it: how long bulk export files are kept, and the
    research export's disclosure threshold and date shift."""

    clinic = models.OneToOneField(Clinic, on_delete=models.PROTECT, related_name="+")
    export_hours = models.PositiveIntegerField(
        "Keep bulk export files for (hours)", default=EXPORT_HOURS_DEFAULT,
        validators=[MinValueValidator(EXPORT_HOURS_BOUNDS[0]), MaxValueValidator(EXPORT_HOURS_BOUNDS[1])],
        help_text="A FHIR bulk export's files are deleted this long after they are ready (24 by default).")
    k_anonymity = models.PositiveIntegerField(
        "Smallest group in the research data set (k)", default=K_ANONYMITY_DEFAULT,
        validators=[MinValueValidator(K_ANONYMITY_BOUNDS[0]), MaxValueValidator(K_ANONYMITY_BOUNDS[1])],
        help_text="No combination of sex, age, diagnosis group and date may describe fewer patients "
                  "(5 by default).")
    date_shift_days = models.PositiveIntegerField(
        "Shift each patient's dates by up to (days)", default=DATE_SHIFT_DAYS_DEFAULT,
        validators=[MinValueValidator(DATE_SHIFT_DAYS_BOUNDS[0]),
                    MaxValueValidator(DATE_SHIFT_DAYS_BOUNDS[1])],
        help_text="A secret offset per patient, either way (182 by default).")
    research_dates = models.CharField(
        "Dates in the research data set", max_length=10, choices=ResearchDates.choices,
        default=ResearchDates.YEAR,
        help_text="Safe Harbor allows only the year of a date. Keep shifted days only if an expert "
                  "has determined the data set is de-identified with them.")
    version = models.PositiveIntegerField(default=1)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(coded=("research_dates",),
                             none=("id", "clinic", "export_hours", "k_anonymity", "date_shift_days",
                                   "version"))

    def __str__(self) -> str:
        return f"interop settings of clinic {self.clinic_id}"


class ExportState(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Running"
    DONE = "done", "Ready to download"
    FAILED = "failed", "Failed"
    DELETED = "deleted", "Files deleted"


class BulkExport(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    token = models.ForeignKey(ApiToken, on_delete=models.PROTECT, related_name="+")  # files: it only
    request = models.CharField(max_length=2000)  # the kick-off request, for the manifest
    types = models.JSONField(default=list)
    since = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=ExportState.choices, default=ExportState.QUEUED)
    progress = models.JSONField(default=dict, blank=True)  # resources written, by type
    manifest = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(
        free_text=("request", "error"),
        coded=("types", "state"),
        none=("id", "clinic", "requested_by", "token", "since", "progress", "manifest", "created_at",
              "started_at", "finished_at", "expires_at"),
    )

    class Meta:
        indexes = [models.Index(fields=["clinic", "state"])]

    def __str__(self) -> str:
        return f"bulk export {self.pk} ({self.state})"
