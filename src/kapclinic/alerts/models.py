"""Alerts and the notification outbox: shared by every app, owned by none.

Both tables keep the names they had when they belonged to measures (``measures_alert``,
``measures_outboxmessage``): the rows, their ids, the audit entries naming them and the
database guards on them stay as they were (docs/adr/0007-generic-alerts-and-outbox.md).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.accounts.models import Clinic
from kapclinic.audit.models import CorrectableRecord, NoDeleteQuerySet
from kapclinic.patients.models import Patient, paired
from kapclinic.privacy import classify

USER = settings.AUTH_USER_MODEL


class AlertQuerySet(NoDeleteQuerySet):
    def open(self) -> AlertQuerySet:
        """Nobody has acknowledged them yet, and they were not raised in error."""
        return self.filter(acknowledged_at__isnull=True, entered_in_error_at__isnull=True)


class Alert(CorrectableRecord):
    """Something a clinician must look at; it stays until one acknowledges it with a note.

    ``source`` is the app that raised it and ``kind`` its rule there (measures +
    ``suicidal_ideation``); ``record_type``/``record_id`` name the record that caused it
    (``measures.response`` 12), a plain reference so this app imports no feature app.
    ``priority``: ``urgent`` is shown as urgent and escalated when not acknowledged within the
    clinic's time; ``follow_up`` is for follow-up by the clinic's protocol, not escalated.
    ``patient`` is empty for an alert about no one patient (a stock discrepancy)."""

    class Priority(models.TextChoices):
        URGENT = "urgent", "Urgent"
        FOLLOW_UP = "follow_up", "Follow-up"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="alerts")
    source = models.CharField(max_length=40)
    kind = models.CharField(max_length=60)
    record_type = models.CharField(max_length=60, blank=True)
    record_id = models.PositiveBigIntegerField(null=True, blank=True)
    label = models.CharField(max_length=300)
    recommended_action = models.CharField(max_length=500, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.URGENT)
    raised_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    acknowledgement_note = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # how many staff the escalation emailed: 0 when nobody in its roles had an address
    # (empty: not escalated, or escalated before this was kept)
    escalation_emailed = models.PositiveSmallIntegerField(null=True, blank=True)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="+")
    entered_in_error_reason = models.CharField(max_length=500, blank=True)
    # a bedside monitor's stream: its rule fired again for the same session while this alert was
    # open (the record it names is the first reading): how many times, when last, and that
    # reading's words, rather than a new alert for every reading
    repeats = models.PositiveIntegerField(default=0)
    repeated_at = models.DateTimeField(null=True, blank=True)
    repeated_label = models.CharField(max_length=300, blank=True)

    objects = AlertQuerySet.as_manager()

    # an alert's life after it is raised: fired again while open, acknowledged (with a note),
    # escalated
    mutable_fields = ("acknowledged_at", "acknowledged_by", "acknowledgement_note", "escalated_at",
                      "escalation_emailed", "repeats", "repeated_at", "repeated_label")
    clinic_path = "clinic"
    FIELD_CLASSES = classify(
        date=("raised_at", "acknowledged_at", "escalated_at", "entered_in_error_at", "repeated_at"),
        free_text=("acknowledgement_note", "entered_in_error_reason"),
        coded=("source", "kind", "record_type", "label", "recommended_action", "priority",
               "repeated_label"),
        none=("id", "clinic", "patient", "record_id", "acknowledged_by", "entered_in_error_by",
              "escalation_emailed", "repeats"),
    )

    class Meta:
        db_table = "measures_alert"
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["acknowledged_at", "raised_at"],
                                name="measures_al_acknowl_0075ab_idx"),
                   models.Index(fields=["clinic", "acknowledged_at"], name="alert_clinic_open_idx"),
                   # a patient's open alerts (a monitor's batch weighs its sessions' against each
                   # reading) without the clinic's others or the patient's acknowledged ones
                   models.Index(fields=["patient", "kind"], name="alert_patient_open_idx",
                                condition=Q(acknowledged_at__isnull=True, entered_in_error_at__isnull=True))]
        constraints = [
            paired("acknowledged_at", "acknowledged_by", "alert_ack_who_when"),
            models.CheckConstraint(condition=Q(acknowledged_at__isnull=True)
                                   | ~Q(acknowledgement_note=""), name="alert_ack_has_note"),
            paired("entered_in_error_at", "entered_in_error_by", "alert_error_who_when"),
            # raising the same rule for the same record again (a retry) finds the first alert
            models.UniqueConstraint(fields=["source", "kind", "record_type", "record_id"],
                                    condition=Q(record_id__isnull=False),
                                    name="one_alert_per_rule_and_record"),
        ]

    def __str__(self) -> str:
        about = f"patient {self.patient_id}" if self.patient_id else f"clinic {self.clinic_id}"
        return f"{self.source}.{self.kind} for {about}"

    @property
    def rule(self) -> str:
        """The app and rule together, e.g. ``measures.suicidal_ideation``."""
        return f"{self.source}.{self.kind}"


class OutboxMessage(models.Model):
    """Every email and SMS the clinic sends: written in the transaction that causes it, sent
    by the worker after commit (alerts/sending.py), shown to admins on the outbox page.

    ``body`` is what the page shows (a link's token blanked out); ``pending_body`` is the
    message as the recipient gets it, kept only until it is sent or has failed for good.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        RETRYING = "retrying", "Retrying"
        FAILED = "failed", "Failed"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=10)  # email | sms
    to = models.CharField(max_length=200)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    patient = models.ForeignKey(Patient, null=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    pending_body = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)  # never the password or the body

    clinic_path = "clinic"
    # last_error may quote the address
    FIELD_CLASSES = classify(
        direct_identifier=("to",),
        date=("created_at", "next_attempt_at", "claimed_at", "sent_at"),
        free_text=("subject", "body", "pending_body", "last_error"),
        coded=("channel", "status"),
        none=("id", "clinic", "patient", "attempts"),
    )

    class Meta:
        db_table = "measures_outboxmessage"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"],
                                name="measures_ou_status_aa04c5_idx")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to}"
