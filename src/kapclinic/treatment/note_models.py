"""Therapy notes (imported by treatment/models.py): drafts that save as the author types, signed
notes that never change, addenda, co-signatures, psychotherapy notes kept apart with the
patient's written authorizations, and emergency access to a patient outside one's care team.

- A **draft** is its author's alone (nobody else reads it) and changes under a version number.
- A **signed note** (``Note``) is written once with its content hash; a correction is an
  **addendum**; a trainee's note waits for its supervisor's **co-signature**. Notes are read by
  the patient's care team only (``care_team_path``: accounts.scoping's second dimension).
- A **psychotherapy note** (45 CFR 164.501) is its own table: only its author reads it, and
  whoever the patient authorised in writing (``PsychotherapyAuthorization``, with scope and
  expiry). It appears in no chart, portal, API or export.
- An **emergency access** opens a patient's notes to a clinician outside the care team for a
  clinic-set time, with a reason; each one waits for the admin's review.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.accounts import scoping
from kapclinic.accounts.models import Clinic
from kapclinic.audit.models import AppendOnlyRecord, CorrectableRecord, HealthRecord
from kapclinic.patients.models import Patient, paired
from kapclinic.privacy import classify

USER = settings.AUTH_USER_MODEL


class NoteKind(models.TextChoices):
    PREPARATION = "preparation", "Preparation"
    DOSING = "dosing", "Dosing session"
    INTEGRATION = "integration", "Integration"
    PROGRESS = "progress", "Progress note"
    PSYCHOTHERAPY = "psychotherapy", "Psychotherapy note (kept apart)"


RECORD_KINDS = [kind for kind in NoteKind.values if kind != NoteKind.PSYCHOTHERAPY]


class NoteSettings(models.Model):
    """A clinic's note templates (empty: the labelled defaults of clinical/notes) and its
    emergency-access rules (how long one lasts, the reasons offered)."""

    clinic = models.OneToOneField(Clinic, on_delete=models.PROTECT, related_name="+")
    templates = models.JSONField(default=dict, blank=True)      # kind -> {title, sections}
    emergency_minutes = models.PositiveIntegerField(null=True, blank=True)  # none: the default
    emergency_reasons = models.JSONField(default=list, blank=True)          # empty: the default
    version = models.PositiveIntegerField(default=1)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(none=("id", "clinic", "templates", "emergency_minutes",
                                   "emergency_reasons", "version"))

    def __str__(self) -> str:
        return f"note settings of {self.clinic}"

    @classmethod
    def for_clinic(cls, clinic_id: int) -> NoteSettings:
        return scoping.clinic_settings(cls, clinic_id)


class Supervision(models.Model):
    """A trainee whose signed notes wait for a supervisor's co-signature, while it lasts."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    trainee = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    supervisor = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")

    clinic_path = "clinic"
    FIELD_CLASSES = classify(none=("id", "clinic", "trainee", "supervisor", "started_at",
                                   "started_by", "ended_at", "ended_by"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "trainee"], condition=Q(ended_at__isnull=True),
                                    name="treatment_one_supervisor_at_a_time"),
            models.CheckConstraint(condition=~Q(trainee=models.F("supervisor")),
                                   name="treatment_no_self_supervision"),
            paired("ended_at", "ended_by", "treatment_supervision_end_who_when"),
        ]

    def __str__(self) -> str:
        return f"supervision of {self.trainee_id} by {self.supervisor_id}"


class NoteDraft(HealthRecord):
    """A note as its author types it: saved at each pause, read by nobody else, closed (never
    deleted) when it is signed. ``version`` guards against a second window overwriting."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey("treatment.Session", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=NoteKind.choices)
    title = models.CharField(max_length=80)
    sections = models.JSONField(default=list)   # the template as it was when the draft began
    content = models.JSONField(default=dict, blank=True)  # section key -> text (or a tick)
    part2 = models.BooleanField(default=False)  # a 42 CFR Part 2 record
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=64)  # the form's one-time key: a retry starts nothing more
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)
    signed_at = models.DateTimeField(null=True, blank=True)  # closed: the note it became

    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("created_at", "updated_at", "signed_at"),
        free_text=("content",),
        coded=("kind", "part2"),
        none=("id", "patient", "session", "title", "sections", "author", "key", "version"),
    )

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["author", "patient"])]
        constraints = [
            models.UniqueConstraint(fields=["author", "key"], name="treatment_draft_started_once"),
            models.CheckConstraint(condition=Q(kind__in=NoteKind.values),
                                   name="treatment_draft_kind_known"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} draft {self.pk} of patient {self.patient_id}"

    @property
    def is_psychotherapy(self) -> bool:
        return self.kind == NoteKind.PSYCHOTHERAPY


class Note(AppendOnlyRecord):
    """A signed note of the record: what was written, sealed with its content hash; it never
    changes (addenda correct it). Read by the patient's care team."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey("treatment.Session", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=NoteKind.choices)
    title = models.CharField(max_length=80)
    sections = models.JSONField()  # [{key, label, type, text}] in the template's order
    part2 = models.BooleanField(default=False)
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    content_sha256 = models.CharField(max_length=64)
    draft = models.OneToOneField(NoteDraft, on_delete=models.PROTECT, related_name="+")
    # a trainee's note: the supervisor who must co-sign it (none: no co-signature needed)
    cosigner = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")

    clinic_path = "patient__clinic"
    care_team_path = "patient"
    FIELD_CLASSES = classify(
        date=("signed_at",),
        free_text=("sections",),
        coded=("kind", "part2"),
        none=("id", "patient", "session", "title", "author", "content_sha256", "draft",
              "cosigner"),
    )

    class Meta:
        ordering = ["-signed_at", "-id"]
        indexes = [models.Index(fields=["patient", "signed_at"])]
        constraints = [
            models.CheckConstraint(condition=~Q(kind="psychotherapy"),
                                   name="treatment_note_not_psychotherapy"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} note {self.pk} of patient {self.patient_id}"

    def signed_content(self) -> dict:
        """What the content hash seals (clinical/notes.content_hash of it)."""
        return {"patient": self.patient_id, "session": self.session_id, "kind": self.kind,
                "title": self.title, "sections": self.sections, "part2": self.part2,
                "author": self.author_id, "signed_at": self.signed_at.isoformat()}


class NoteAddendum(AppendOnlyRecord):
    """A later word on a signed note (a correction or an addition); the note stays as signed."""

    note = models.ForeignKey(Note, on_delete=models.PROTECT, related_name="addenda")
    text = models.TextField()
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    content_sha256 = models.CharField(max_length=64)
    key = models.CharField(max_length=64)

    clinic_path = "note__patient__clinic"
    care_team_path = "note__patient"
    FIELD_CLASSES = classify(date=("signed_at",), free_text=("text",),
                             none=("id", "note", "author", "content_sha256", "key"))

    class Meta:
        ordering = ["signed_at", "id"]
        constraints = [models.UniqueConstraint(fields=["author", "key"],
                                               name="treatment_addendum_once")]

    def __str__(self) -> str:
        return f"addendum {self.pk} to note {self.note_id}"

    def signed_content(self) -> dict:
        return {"note": self.note_id, "text": self.text, "author": self.author_id,
                "signed_at": self.signed_at.isoformat()}


class NoteCosignature(AppendOnlyRecord):
    """The supervisor's co-signature of a trainee's note (once)."""

    note = models.OneToOneField(Note, on_delete=models.PROTECT, related_name="cosignature")
    cosigned_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    cosigned_at = models.DateTimeField(default=timezone.now)
    comment = models.TextField(blank=True)

    clinic_path = "note__patient__clinic"
    care_team_path = "note__patient"
    FIELD_CLASSES = classify(date=("cosigned_at",), free_text=("comment",),
                             none=("id", "note", "cosigned_by"))

    def __str__(self) -> str:
        return f"co-signature of note {self.note_id}"


class PsychotherapyNote(AppendOnlyRecord):
    """A psychotherapy note (45 CFR 164.501), kept apart: only its author reads it, and whoever
    the patient authorised in writing. Never in the chart for others, the portal, the API or
    an export; each read is audited."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey("treatment.Session", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    content_sha256 = models.CharField(max_length=64)
    draft = models.OneToOneField(NoteDraft, on_delete=models.PROTECT, related_name="+")

    clinic_path = "patient__clinic"
    # kept apart: read only through treatment.psychotherapy (tests/test_note_isolation.py sweeps it)
    FIELD_CLASSES = classify(date=("signed_at",), free_text=("text",),
                             none=("id", "patient", "session", "author", "content_sha256", "draft"))

    class Meta:
        ordering = ["-signed_at", "-id"]

    def __str__(self) -> str:
        return f"psychotherapy note {self.pk}"

    def signed_content(self) -> dict:
        return {"patient": self.patient_id, "session": self.session_id, "text": self.text,
                "author": self.author_id, "signed_at": self.signed_at.isoformat()}


class PsychotherapyAuthorization(CorrectableRecord):
    """The patient's written authorization (45 CFR 164.508) for one person to read one author's
    psychotherapy notes of a period, until it expires or the patient revokes it."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    notes_of = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")  # the author
    granted_to = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=300)
    notes_from = models.DateField()   # the notes signed from this day...
    notes_to = models.DateField()     # ...to this day, inclusive
    expires_on = models.DateField()   # readable through this day
    signed_on = models.DateField()    # when the patient signed it
    key = models.CharField(max_length=64)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    revoked_reason = models.CharField(max_length=500, blank=True)

    correction_fields = ("revoked_at", "revoked_by", "revoked_reason")
    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("notes_from", "notes_to", "expires_on", "signed_on", "recorded_at", "revoked_at"),
        free_text=("purpose", "revoked_reason"),
        none=("id", "patient", "notes_of", "granted_to", "key", "recorded_by", "revoked_by"),
    )

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recorded_by", "key"], name="treatment_authorization_once"),
            models.CheckConstraint(condition=Q(notes_from__lte=models.F("notes_to")),
                                   name="treatment_authorization_period_in_order"),
            paired("revoked_at", "revoked_by", "treatment_authorization_revoked_who_when"),
        ]

    def __str__(self) -> str:
        return f"authorization {self.pk} for patient {self.patient_id}"

    def in_force(self, today) -> bool:
        return self.revoked_at is None and today <= self.expires_on


class EmergencyAccess(CorrectableRecord):
    """A clinician outside the care team opened a patient's notes, with a reason, for a clinic-set
    time. The admin reviews each one (the review is its only change)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=120)
    explanation = models.TextField()
    started_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    key = models.CharField(max_length=64)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    review_note = models.CharField(max_length=500, blank=True)

    correction_fields = ("reviewed_at", "reviewed_by", "review_note")
    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("started_at", "expires_at", "reviewed_at"),
        free_text=("explanation", "review_note"),
        coded=("reason",),
        none=("id", "patient", "user", "key", "reviewed_by"),
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["user", "expires_at"])]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="treatment_emergency_access_once"),
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("started_at")),
                                   name="treatment_emergency_access_ends_after_start"),
            paired("reviewed_at", "reviewed_by", "treatment_emergency_review_who_when"),
        ]

    def __str__(self) -> str:
        return f"emergency access {self.pk} to patient {self.patient_id}"

    @property
    def running(self) -> bool:
        return self.expires_at > timezone.now()
