"""Supervised dosing sessions and what is recorded in them.

A ``Session`` moves through the states of ``kapclinic.clinical.sessions`` only by
``actions.transition`` (one compare-and-set on ``state`` and ``version``); each step taken is a
``SessionEvent``. The checklist answers, the administration and the vital signs are health
records written only by the actions, never deleted: a wrong one is marked entered in error.
Times: ``at``/``observed_at`` is when it happened (clinical time), ``recorded_at`` when it was
written down.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kapclinic.accounts import scoping
from kapclinic.accounts.models import Clinic
from kapclinic.audit.models import AppendOnlyRecord, CorrectableRecord, HealthRecord
from kapclinic.clinical.sessions import STATE_WORDS
from kapclinic.clinical.sessions import State as CoreState
from kapclinic.patients.models import Patient, paired
from kapclinic.privacy import classify
from kapclinic.treatment.course_models import (
    INTEGRATION_DAYS_AFTER_DEFAULT,
    OPEN_WEEKS_DEFAULT,
    PREPARATION_DAYS_BEFORE_DEFAULT,
)

USER = settings.AUTH_USER_MODEL

# Alerts this app raises name the reading that raised them (alerts.Alert.record_type).
ALERT_SOURCE = "treatment"
READING_RECORD = "treatment.vital_reading"


class State(models.TextChoices):
    """The core's states (clinical/sessions/transitions.py), as the database stores them."""

    SCHEDULED = CoreState.SCHEDULED.value, STATE_WORDS[CoreState.SCHEDULED].capitalize()
    CHECKED_IN = CoreState.CHECKED_IN.value, STATE_WORDS[CoreState.CHECKED_IN].capitalize()
    CLEARED = CoreState.CLEARED.value, STATE_WORDS[CoreState.CLEARED].capitalize()
    DOSING = CoreState.DOSING.value, STATE_WORDS[CoreState.DOSING].capitalize()
    MONITORING = CoreState.MONITORING.value, STATE_WORDS[CoreState.MONITORING].capitalize()
    DISCHARGED = CoreState.DISCHARGED.value, STATE_WORDS[CoreState.DISCHARGED].capitalize()
    CANCELLED = CoreState.CANCELLED.value, STATE_WORDS[CoreState.CANCELLED].capitalize()
    STOPPED = CoreState.STOPPED.value, STATE_WORDS[CoreState.STOPPED].capitalize()


IN_PROGRESS = (State.CHECKED_IN, State.CLEARED, State.DOSING, State.MONITORING)
ENDED = (State.DISCHARGED, State.CANCELLED, State.STOPPED)

# [policy: labelled default] An entry made more than this long after what it records needs a
# reason (a late entry is normal at a busy bedside, but an hour late should say why). The
# reference is silent on the allowance: a clinic setting, 60 minutes by default.
LATE_ENTRY_MINUTES_DEFAULT = 60
LATE_ENTRY_MINUTES_BOUNDS = (5, 24 * 60)  # engineering bounds


class TreatmentSettings(models.Model):
    """A clinic's choices for sessions; before its first save, the labelled defaults."""

    clinic = models.OneToOneField(Clinic, on_delete=models.PROTECT,
                                  related_name="treatment_settings")
    late_entry_minutes = models.PositiveIntegerField(default=LATE_ENTRY_MINUTES_DEFAULT)
    # {protocol id: {setting name: value}} and a named preset per protocol (protocol files)
    protocol_settings = models.JSONField(default=dict, blank=True)
    protocol_presets = models.JSONField(default=dict, blank=True)
    # the monitoring rules' settings (clinical/monitoring/rules.json) and preset
    monitoring_values = models.JSONField(default=dict, blank=True)
    monitoring_preset = models.CharField(max_length=60, blank=True)
    # free-text rooms and chairs the clinic uses (the session form offers them)
    rooms = models.JSONField(default=list, blank=True)
    # courses: therapy around the doses and how far ahead maintenance is planned (see
    # course_models for the labelled defaults; clinical/protocols/course.py for the bounds)
    preparation_days_before = models.PositiveIntegerField(default=PREPARATION_DAYS_BEFORE_DEFAULT)
    integration_days_after = models.PositiveIntegerField(default=INTEGRATION_DAYS_AFTER_DEFAULT)
    course_open_weeks = models.PositiveIntegerField(default=OPEN_WEEKS_DEFAULT)
    version = models.PositiveIntegerField(default=1)

    clinic_path = "clinic"
    FIELD_CLASSES = classify(
        coded=("monitoring_preset",),
        none=("id", "clinic", "late_entry_minutes", "protocol_settings", "protocol_presets",
              "monitoring_values", "rooms", "preparation_days_before", "integration_days_after",
              "course_open_weeks", "version"),
    )

    def __str__(self) -> str:
        return f"session settings of {self.clinic}"

    @classmethod
    def for_clinic(cls, clinic_id: int) -> TreatmentSettings:
        """Stored settings, or the defaults unsaved (reading never writes)."""
        return scoping.clinic_settings(cls, clinic_id)


class Session(HealthRecord):
    """One supervised dosing session of a patient under a protocol."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="dosing_sessions")
    protocol = models.CharField(max_length=80)           # the protocol's id
    protocol_version = models.CharField(max_length=100)  # id@version when scheduled
    protocol_hash = models.CharField(max_length=64)      # sha-256 of the file and settings used
    # the clinic's protocol settings when scheduled: the session keeps its rules
    protocol_settings = models.JSONField(default=dict, blank=True)
    drug = models.CharField(max_length=40)
    route = models.CharField(max_length=40)
    scheduled_at = models.DateTimeField()
    room = models.CharField(max_length=60, blank=True)
    chair = models.CharField(max_length=60, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.SCHEDULED)
    state_at = models.DateTimeField()  # clinical time of the latest step
    version = models.PositiveIntegerField(default=1)
    # set on the step into cancelled or stopped: why it ended early
    end_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    # the course it belongs to (none: a single session) and its place there
    course = models.ForeignKey("treatment.Course", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="sessions")
    course_phase = models.CharField(max_length=40, blank=True)  # induction, booster, added...
    clinician = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")  # who supervises it (the calendar's column)

    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("scheduled_at", "state_at", "created_at"),
        free_text=("end_reason", "room", "chair"),
        coded=("protocol", "drug", "route", "state", "course_phase"),
        none=("id", "patient", "protocol_version", "protocol_hash", "protocol_settings",
              "version", "created_by", "course", "clinician"),
    )

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        indexes = [models.Index(fields=["patient", "scheduled_at"]),
                   models.Index(fields=["state", "scheduled_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=State.values), name="session_state_known"),
            # a session that ended early says why
            models.CheckConstraint(condition=~Q(state__in=(State.CANCELLED, State.STOPPED))
                                   | ~Q(end_reason=""), name="session_end_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.protocol} session {self.pk} for patient {self.patient_id} ({self.state})"

    @property
    def state_words(self) -> str:
        return STATE_WORDS[CoreState(self.state)]

    @property
    def protocol_label(self) -> str:
        """What people read: the protocol's label, not its id (the id if the clinic has
        removed the file; the session stays on record)."""
        from kapclinic.clinical import protocols

        try:
            return protocols.resolve(self.protocol).label
        except protocols.UnknownProtocolError:
            return self.protocol.replace("_", " ")

    @property
    def in_progress(self) -> bool:
        return self.state in IN_PROGRESS

    @property
    def ended(self) -> bool:
        return self.state in ENDED


class SessionEvent(AppendOnlyRecord):
    """One step a session took: from, to, when it happened, who recorded it and the facts
    the guards were checked against."""

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="events")
    from_state = models.CharField(max_length=20, choices=State.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=State.choices)
    at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    late_reason = models.TextField(blank=True)  # why it was recorded long after it happened
    facts = models.JSONField(default=dict)

    clinic_path = "session__patient__clinic"
    FIELD_CLASSES = classify(
        date=("at", "recorded_at"),
        free_text=("reason", "late_reason"),
        coded=("from_state", "to_state", "facts"),
        none=("id", "session", "recorded_by"),
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["session", "at"])]
        constraints = [
            # one step out of each state: a retried or raced step is never stored twice
            models.UniqueConstraint(fields=["session", "from_state"], name="one_step_from_each_state"),
        ]

    def __str__(self) -> str:
        return f"session {self.session_id}: {self.from_state or 'new'} -> {self.to_state}"


class ChecklistItem(models.TextChoices):
    """What the checklist asks (the protocol's items, clinical/sessions/transitions.py) and
    what discharge asks."""

    FASTING = "fasting", "Fasting confirmed"
    RIDE_HOME = "ride_home", "Ride home confirmed; no driving until the next day"
    PREGNANCY_TEST = "pregnancy_test", "Pregnancy test"
    WEIGHT_TODAY = "weight_today", "Today's weight"
    PREDOSE_MEASURES = "predose_measures", "Pre-dose measures done"
    INTENTION_NOTE = "intention_note", "Therapist's note of intention"
    NASAL_TIMING = ("nasal_steroid_decongestant_timing",
                    "Nasal corticosteroid or decongestant at least 1 hour before (or none)")
    SEDATION_RESOLVED = "sedation_resolved", "Sedation resolved"
    DISSOCIATION_RESOLVED = "dissociation_resolved", "Dissociation resolved"
    RESPIRATORY_DEPRESSION_RESOLVED = ("respiratory_depression_resolved",
                                       "Respiratory depression resolved")
    DISCHARGE_SCORE = "discharge_score", "Discharge score"
    JUDGED_STABLE = "judged_stable", "Clinician judged clinically stable to leave"


class Answer(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    NEGATIVE = "negative", "Negative"
    POSITIVE = "positive", "Positive"
    NOT_APPLICABLE = "not_applicable", "Does not apply"
    RECORDED = "recorded", "Recorded"  # a value (weight, score) or a note


class ChecklistEntry(AppendOnlyRecord):
    """One answer to one checklist item; the latest answer to an item is the one that counts
    (an earlier one stays on file)."""

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="checklist")
    item = models.CharField(max_length=40, choices=ChecklistItem.choices)
    answer = models.CharField(max_length=20, choices=Answer.choices)
    value = models.FloatField(null=True, blank=True)  # weight_kg, discharge score
    note = models.TextField(blank=True)                # the intention note, a comment
    at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    late_reason = models.TextField(blank=True)

    clinic_path = "session__patient__clinic"
    FIELD_CLASSES = classify(
        date=("at", "recorded_at"),
        free_text=("note", "late_reason"),
        coded=("item", "answer"),
        none=("id", "session", "value", "recorded_by"),
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["session", "item", "at"])]

    def __str__(self) -> str:
        return f"{self.item}: {self.answer} (session {self.session_id})"


class Administration(CorrectableRecord):
    """The dose given in a session: what, how much (mg and mg/kg with the weight and its
    date), when, and, outside the protocol, the reason and the second clinician."""

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="administrations")
    drug = models.CharField(max_length=40)
    product_ndc = models.CharField(max_length=20, blank=True)
    concentration_mg_per_ml = models.FloatField(null=True, blank=True)
    lot = models.CharField(max_length=60, blank=True)
    route = models.CharField(max_length=40)
    dose_mg = models.FloatField()
    dose_mg_per_kg = models.FloatField(null=True, blank=True)
    weight_kg = models.FloatField(null=True, blank=True)
    weight_measured_on = models.DateField(null=True, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    rate_mg_per_min = models.FloatField(null=True, blank=True)
    within_protocol = models.BooleanField()
    calculation = models.JSONField(default=dict)  # calculate_dose's result and messages
    override_reason = models.TextField(blank=True)
    second_clinician = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+")
    second_clinician_confirmed_at = models.DateTimeField(null=True, blank=True)
    administered_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    late_reason = models.TextField(blank=True)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="+")
    entered_in_error_reason = models.CharField(max_length=500, blank=True)

    # the infusion's end is written when the session moves on from dosing
    mutable_fields = ("ended_at",)
    clinic_path = "session__patient__clinic"
    FIELD_CLASSES = classify(
        date=("weight_measured_on", "started_at", "ended_at", "second_clinician_confirmed_at",
              "recorded_at", "entered_in_error_at"),
        free_text=("override_reason", "late_reason", "entered_in_error_reason", "lot"),
        coded=("drug", "product_ndc", "route", "calculation"),
        none=("id", "session", "concentration_mg_per_ml", "dose_mg", "dose_mg_per_kg",
              "weight_kg", "rate_mg_per_min", "within_protocol", "second_clinician",
              "administered_by", "entered_in_error_by"),
    )

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            paired("second_clinician_confirmed_at", "second_clinician", "administration_second_who_when"),
            paired("entered_in_error_at", "entered_in_error_by", "administration_error_who_when"),
            # outside the protocol only with a written reason and a second clinician
            models.CheckConstraint(
                condition=Q(within_protocol=True)
                | (~Q(override_reason="") & Q(second_clinician_confirmed_at__isnull=False)),
                name="administration_override_reason_and_second"),
            models.CheckConstraint(condition=Q(dose_mg__gt=0), name="administration_dose_positive"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="administration_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.dose_mg:g} mg {self.drug} (session {self.session_id})"


class Phase(models.TextChoices):
    PRE_DOSE = "pre_dose", "Before the dose"
    DOSING = "dosing", "During dosing"
    AFTER_DOSE = "after_dose", "After the dose"


VITAL_FIELDS = ("sbp_mmhg", "dbp_mmhg", "heart_rate_bpm", "spo2_pct", "resp_rate_per_min",
                "temp_c", "moaas")


class VitalReading(CorrectableRecord):
    """One set of vital signs (any subset) taken at ``observed_at`` in a session."""

    # no index of their own: the (session, ...) and (patient, observed_at) indexes below serve
    # every lookup by either, and each index more is written with every monitor's reading
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="vitals", db_index=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="vital_readings",
                                db_index=False)
    observed_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    phase = models.CharField(max_length=12, choices=Phase.choices)
    sbp_mmhg = models.FloatField(null=True, blank=True)
    dbp_mmhg = models.FloatField(null=True, blank=True)
    heart_rate_bpm = models.FloatField(null=True, blank=True)
    spo2_pct = models.FloatField(null=True, blank=True)
    resp_rate_per_min = models.FloatField(null=True, blank=True)
    temp_c = models.FloatField(null=True, blank=True)
    moaas = models.PositiveSmallIntegerField(null=True, blank=True)  # MOAA/S 0-5
    # typed by a clinician, or sent by a bedside monitor (issue 15): which one
    source = models.CharField(max_length=10, choices=[("manual", "Typed"), ("device", "Monitor")],
                              default="manual", db_default="manual")
    device = models.CharField(max_length=100, blank=True, default="", db_default="")
    # a monitor's reading: the ISO/IEEE 11073 (MDC) code each value was sent with, by field
    mdc_codes = models.JSONField(default=dict, blank=True, db_default={})
    # the same reading sent twice (a retry, a double tap) is stored once: time and values
    fingerprint = models.CharField(max_length=64)
    late_reason = models.TextField(blank=True)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="+")
    entered_in_error_reason = models.CharField(max_length=500, blank=True)

    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("observed_at", "recorded_at", "entered_in_error_at"),
        free_text=("late_reason", "entered_in_error_reason"),
        coded=("phase", "source", "mdc_codes"),
        none=("id", "session", "patient", "recorded_by", "device", "sbp_mmhg", "dbp_mmhg", "heart_rate_bpm",
              "spo2_pct", "resp_rate_per_min", "temp_c", "moaas", "fingerprint",
              "entered_in_error_by"),
    )

    class Meta:
        ordering = ["observed_at", "id"]
        indexes = [models.Index(fields=["session", "observed_at"]),
                   models.Index(fields=["patient", "observed_at"]),
                   # the baseline (the latest pre-dose reading) without walking every reading after it
                   models.Index(fields=["session", "phase", "observed_at"],
                                name="treatment_reading_baseline")]
        constraints = [
            models.UniqueConstraint(fields=["session", "fingerprint"], name="one_reading_per_fingerprint"),
            paired("entered_in_error_at", "entered_in_error_by", "vital_error_who_when"),
            models.CheckConstraint(
                condition=Q(sbp_mmhg__isnull=False) | Q(dbp_mmhg__isnull=False)
                | Q(heart_rate_bpm__isnull=False) | Q(spo2_pct__isnull=False)
                | Q(resp_rate_per_min__isnull=False) | Q(temp_c__isnull=False)
                | Q(moaas__isnull=False), name="vital_reading_has_a_value"),
        ]

    def __str__(self) -> str:
        return f"reading {self.pk} at {self.observed_at:%H:%M} (session {self.session_id})"

    def values(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in VITAL_FIELDS if getattr(self, name) is not None}


class AdministrationEventKind(models.TextChoices):
    PAUSE = "pause", "Infusion paused"
    RESUME = "resume", "Infusion resumed"
    STOP = "stop", "Infusion stopped"
    DEVICE = "device", "Nasal spray device given"


class AdministrationEvent(AppendOnlyRecord):
    """What happened to a dose after it started, appended in order: an infusion paused,
    resumed or stopped (with why), or each esketamine device given with its time.

    ``alert_id`` names the alert a pause answered (a plain reference, like alerts' own
    ``record_id``). A stop writes the administration's ``ended_at``.
    """

    administration = models.ForeignKey(Administration, on_delete=models.PROTECT, related_name="events")
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="administration_events")
    kind = models.CharField(max_length=10, choices=AdministrationEventKind.choices)
    at = models.DateTimeField()
    device_number = models.PositiveSmallIntegerField(null=True, blank=True)  # 1, 2, 3
    device_mg = models.FloatField(null=True, blank=True)  # the protocol's mg per device
    reason = models.TextField(blank=True)
    alert_id = models.PositiveBigIntegerField(null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    late_reason = models.TextField(blank=True)

    clinic_path = "session__patient__clinic"
    FIELD_CLASSES = classify(
        date=("at", "recorded_at"),
        free_text=("reason", "late_reason"),
        coded=("kind",),
        none=("id", "administration", "session", "device_number", "device_mg", "alert_id",
              "recorded_by"),
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["session", "at"])]
        constraints = [
            # a device, and a pause, resume or stop at one time, is stored once however often sent
            models.UniqueConstraint(fields=["administration", "device_number"],
                                    condition=Q(device_number__isnull=False),
                                    name="one_record_per_device"),
            models.UniqueConstraint(fields=["administration", "kind", "at"],
                                    condition=Q(device_number__isnull=True),
                                    name="one_infusion_event_per_time"),
            models.CheckConstraint(
                condition=Q(kind="device", device_number__gte=1, device_mg__gt=0)
                | (~Q(kind="device") & Q(device_number__isnull=True)),
                name="administration_event_device_numbered"),
            # a pause or a stop says why
            models.CheckConstraint(condition=~Q(kind__in=("pause", "stop")) | ~Q(reason=""),
                                   name="administration_event_pause_stop_reason"),
        ]

    def __str__(self) -> str:
        which = f" {self.device_number}" if self.device_number else ""
        return f"{self.kind}{which} at {self.at:%H:%M} (session {self.session_id})"
from kapclinic.treatment.course_models import (  # noqa: E402,F401 (issue 12: courses)
    ChangeKind,
    Course,
    CourseState,
    ScheduleChange,
    TherapyKind,
    TherapyVisit,
    VisitState,
)
from kapclinic.treatment.rems_models import RemsFormDetails, RemsSubmission  # noqa: E402,F401 (issue 12: the REMS form)


class SessionObservation(AppendOnlyRecord):
    """A side effect seen or an intervention given during a session, at a clinical time
    (the lists: clinical/sessions/observations.py). A wrong one stays on file; a later entry
    says so in its note."""

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="observations")
    kind = models.CharField(max_length=20)   # "side_effect" or "intervention"
    code = models.CharField(max_length=40)
    note = models.TextField(blank=True)
    at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    late_reason = models.TextField(blank=True)

    clinic_path = "session__patient__clinic"
    FIELD_CLASSES = classify(
        date=("at", "recorded_at"),
        free_text=("note", "late_reason"),
        coded=("kind", "code"),
        none=("id", "session", "recorded_by"),
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["session", "at"])]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=("side_effect", "intervention")),
                                   name="session_observation_kind_known"),
            # "other" says what
            models.CheckConstraint(condition=~Q(code="other") | ~Q(note=""),
                                   name="session_observation_other_described"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.code} at {self.at:%H:%M} (session {self.session_id})"

    @property
    def words(self) -> str:
        from kapclinic.clinical.sessions.observations import words_of

        try:
            return words_of(self.kind, self.code)
        except KeyError:
            return self.code.replace("_", " ")
from kapclinic.treatment.ae_models import (  # noqa: E402,F401 (issue 13: adverse events)
    AdverseEvent,
    AdverseEventClosure,
    AdverseEventRemsReport,
    AdverseEventReview,
    AdverseEventSettings,
    AfterSessionCheckIn,
)
from kapclinic.treatment.monitor_models import (  # noqa: E402,F401 (issue 15: bedside monitors)
    MessageStatus,
    MonitorDevice,
    MonitorMessage,
)
from kapclinic.treatment.note_models import (  # noqa: E402,F401 (issue 13: therapy notes)
    EmergencyAccess,
    Note,
    NoteAddendum,
    NoteCosignature,
    NoteDraft,
    NoteSettings,
    PsychotherapyAuthorization,
    PsychotherapyNote,
    Supervision,
)
