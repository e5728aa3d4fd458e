"""Bedside monitors (imported by treatment/models.py): the devices a clinic registered to a room
or chair, and every HL7 message a monitor sent, kept as received whatever became of it: stored
as a session's readings, waiting in the unmatched queue for a nurse to assign it, or assigned."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.accounts.models import Clinic
from kapclinic.audit.models import HealthRecord
from kapclinic.patients.models import Patient, paired
from kapclinic.privacy import classify

USER = settings.AUTH_USER_MODEL


class MonitorDevice(models.Model):
    """A monitor the clinic knows by the id it sends (MSH-3 or OBX-18: an EUI-64 or a name),
    placed at a room and chair: its messages belong to the session in progress there."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    device_id = models.CharField(max_length=100)
    label = models.CharField(max_length=80, blank=True)
    room = models.CharField(max_length=60)
    chair = models.CharField(max_length=60, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")

    clinic_path = "clinic"
    FIELD_CLASSES = classify(none=("id", "clinic", "device_id", "label", "room", "chair", "active",
                                   "created_at", "created_by"))

    class Meta:
        ordering = ["room", "chair", "device_id"]
        constraints = [models.UniqueConstraint(fields=["clinic", "device_id"],
                                               name="treatment_monitor_device_once")]

    def __str__(self) -> str:
        return f"monitor {self.device_id} at {self.room} {self.chair}".strip()


class MessageStatus(models.TextChoices):
    STORED = "stored", "Stored as the session's readings"
    UNMATCHED = "unmatched", "Waiting to be assigned to a session"
    ASSIGNED = "assigned", "Assigned to a session by a nurse"
    NOTHING = "nothing", "Held no vital sign to record"


class MonitorMessage(HealthRecord):
    """One ORU^R01 as received (never deleted, never rewritten: its status moves on once, from
    unmatched to assigned). A resent message (same sender and control id) is stored once."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    sender = models.CharField(max_length=200)       # MSH-3 (and MSH-4) as sent
    control_id = models.CharField(max_length=64)    # MSH-10
    received_at = models.DateTimeField(default=timezone.now)
    peer = models.CharField(max_length=64, blank=True)  # the sending address
    raw = models.TextField()
    status = models.CharField(max_length=12, choices=MessageStatus.choices)
    reason = models.CharField(max_length=300, blank=True)  # why unmatched, or what was not kept
    patient_ref = models.CharField(max_length=100, blank=True)  # PID-3 as sent
    device_ids = models.JSONField(default=list, blank=True)     # MSH-3 and OBX-18 ids
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    session = models.ForeignKey("treatment.Session", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    # observations not stored as vitals, each with why (implausible, invalid, unknown unit)
    not_stored = models.JSONField(default=list, blank=True)
    readings = models.PositiveIntegerField(default=0)
    assigned_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")

    clinic_path = "clinic"
    FIELD_CLASSES = classify(
        date=("received_at", "assigned_at"),
        direct_identifier=("patient_ref", "peer"),
        free_text=("raw", "reason", "not_stored"),
        none=("id", "clinic", "sender", "control_id", "status", "device_ids", "patient",
              "session", "readings", "assigned_by"),
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["clinic", "status", "received_at"])]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "sender", "control_id"],
                                    name="treatment_monitor_message_once"),
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values),
                                   name="treatment_monitor_message_status_known"),
            paired("assigned_at", "assigned_by", "treatment_monitor_assigned_who_when"),
        ]

    def __str__(self) -> str:
        return f"message {self.control_id} from {self.sender}"
