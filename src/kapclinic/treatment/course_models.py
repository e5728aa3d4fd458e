"""Treatment courses: a series of dosing sessions planned from a protocol with the therapy
around them (imported by treatment/models.py).

A ``Course`` keeps the plan as it was first made; its sessions (``Session.course``) and its
therapy visits carry the current times. Every move, cancellation and addition is a
``ScheduleChange`` with its reason, so the calendar's history is never overwritten.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.audit.models import AppendOnlyRecord, HealthRecord
from kapclinic.patients.models import Patient
from kapclinic.privacy import classify

USER = settings.AUTH_USER_MODEL

# [policy: labelled defaults] The reference gives no timing for preparation and integration
# therapy, nor how far ahead open-ended maintenance is planned: clinic settings.
PREPARATION_DAYS_BEFORE_DEFAULT = 7
INTEGRATION_DAYS_AFTER_DEFAULT = 1
OPEN_WEEKS_DEFAULT = 8


class CourseState(models.TextChoices):
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"


class Course(HealthRecord):
    """A patient's series of sessions under one protocol."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
    protocol = models.CharField(max_length=80)
    protocol_version = models.CharField(max_length=100)
    protocol_settings = models.JSONField(default=dict, blank=True)
    first_dose_on = models.DateField()
    # the plan as first made: [{"kind", "phase", "number", "on"}]
    plan = models.JSONField(default=list)
    clinician = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")  # who supervises the doses
    therapist = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    state = models.CharField(max_length=10, choices=CourseState.choices, default=CourseState.ACTIVE)
    end_reason = models.TextField(blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)

    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("first_dose_on", "ended_at", "created_at"),
        free_text=("end_reason",),
        coded=("protocol", "state", "plan"),
        none=("id", "patient", "protocol_version", "protocol_settings", "clinician", "therapist",
              "created_by", "version"),
    )

    class Meta:
        ordering = ["-first_dose_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["patient"], condition=Q(state="active"),
                                    name="one_active_course_per_patient"),
            models.CheckConstraint(condition=Q(state="active") | ~Q(end_reason=""),
                                   name="course_end_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.protocol} course {self.pk} of patient {self.patient_id}"

    @property
    def protocol_label(self) -> str:
        from kapclinic.clinical import protocols

        try:
            return protocols.resolve(self.protocol).label
        except protocols.UnknownProtocolError:
            return self.protocol.replace("_", " ")


class TherapyKind(models.TextChoices):
    PREPARATION = "preparation", "Preparation"
    INTEGRATION = "integration", "Integration"


class VisitState(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    ATTENDED = "attended", "Attended"
    CANCELLED = "cancelled", "Cancelled"


class TherapyVisit(HealthRecord):
    """A psychotherapy appointment around the doses: preparing for the course, or integrating
    one dosing session."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="therapy_visits")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="therapy_visits")
    dose_session = models.ForeignKey("treatment.Session", null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="therapy_visits")
    kind = models.CharField(max_length=12, choices=TherapyKind.choices)
    scheduled_at = models.DateTimeField()
    therapist = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    room = models.CharField(max_length=60, blank=True)
    state = models.CharField(max_length=10, choices=VisitState.choices, default=VisitState.SCHEDULED)
    end_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("scheduled_at", "created_at"),
        free_text=("room", "end_reason"),
        coded=("kind", "state"),
        none=("id", "patient", "course", "dose_session", "therapist", "version"),
    )

    class Meta:
        ordering = ["scheduled_at", "id"]
        indexes = [models.Index(fields=["scheduled_at"])]
        constraints = [
            models.CheckConstraint(condition=~Q(state="cancelled") | ~Q(end_reason=""),
                                   name="therapy_visit_cancel_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} visit {self.pk} of patient {self.patient_id}"


class ChangeKind(models.TextChoices):
    MOVED = "moved", "Moved"
    CANCELLED = "cancelled", "Cancelled"
    ADDED = "added", "Added"
    BOOSTER = "booster", "Booster added"
    ENDED = "ended", "Course ended"


class ScheduleChange(AppendOnlyRecord):
    """One change to a course's calendar, with why: the times before and after are kept."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="changes")
    session = models.ForeignKey("treatment.Session", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    therapy_visit = models.ForeignKey(TherapyVisit, null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=10, choices=ChangeKind.choices)
    from_at = models.DateTimeField(null=True, blank=True)
    to_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField()
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")

    clinic_path = "course__patient__clinic"
    FIELD_CLASSES = classify(
        date=("from_at", "to_at", "recorded_at"),
        free_text=("reason",),
        coded=("kind",),
        none=("id", "course", "session", "therapy_visit", "recorded_by"),
    )

    class Meta:
        ordering = ["recorded_at", "id"]
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="schedule_change_has_reason")]

    def __str__(self) -> str:
        return f"{self.kind} in course {self.course_id}"
