"""Questionnaire responses, measurement schedules, self-report links and outcomes.

The alerts a response raises and the messages sent live in the alerts app (alerts.models).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from kapclinic.accounts.models import Clinic
from kapclinic.alerts.models import Alert
from kapclinic.audit.models import CorrectableRecord
from kapclinic.clinical import instruments, outcomes
from kapclinic.clinical.instruments.crisis import is_crisis
from kapclinic.patients.models import Patient, PatientLink, paired
from kapclinic.privacy import classify

USER = settings.AUTH_USER_MODEL

DEFAULT_CRISIS_TEXT = (
    "If you are thinking about harming yourself, or feel unsafe right now, call your local "
    "emergency number or go to the nearest emergency department. In the US you can call or "
    "text 988 (Suicide & Crisis Lifeline). Your care team has been told and will contact you."
)


def instrument_name(instrument_id: str) -> str:
    """What people see for an instrument: its short name (PHQ-9), not its id (phq9); the id
    only when the clinic has removed the definition (the records stay on file)."""
    try:
        return instruments.get_instrument(instrument_id).short_name
    except instruments.UnknownInstrumentError:
        return instrument_id


# Bounds on the clinic's settings: engineering limits (what the software handles sensibly),
# not clinical facts. Checked by the model, the settings form (shown as the allowed range)
# and the save action; a value stored before the bounds existed is read through bounded().
ESCALATION_MINUTES = (1, 24 * 60)  # an urgent alert waits at most a day for escalation
LINK_DAYS = (1, 30)                # a link open longer than a month is not a current answer
INTERVAL_DAYS = (1, 365)           # at least daily, at most yearly
# the self-reports anchored to a dose: 0 turns one off; at most three days, and two months
FOLLOWUP_HOURS = (0, 72)
FOLLOWUP_DAYS = (0, 60)
CRISIS_TEXT_MAX = 4000             # characters: a page of text shown at once


def _range(bounds: tuple[int, int]) -> list:
    return [MinValueValidator(bounds[0]), MaxValueValidator(bounds[1])]


def clamp(value: int | None, bounds: tuple[int, int], default: int) -> int:
    """``value`` pulled into ``bounds`` (``default`` if missing): what the worker uses when a
    value was stored out of range (before the bounds, or by hand), so it never overflows."""
    if value is None:
        return default
    return min(max(int(value), bounds[0]), bounds[1])


def _allowed_by_definition(instrument: str, setting: str, value: int) -> None:
    spec = instruments.get_instrument(instrument).settings[setting]
    if value not in spec.allowed:
        raise ValidationError(f"Choose one of {', '.join(map(str, spec.allowed))}.")


def validate_qids_threshold(value: int) -> None:
    _allowed_by_definition("qids_sr16", "suicide_item_threshold", value)


def validate_madrs_threshold(value: int) -> None:
    _allowed_by_definition("madrs", "suicide_item_threshold", value)


class MeasureSettings(models.Model):
    """A clinic's measurement settings; every default is a labelled policy choice."""

    clinic = models.OneToOneField(Clinic, on_delete=models.PROTECT, related_name="measure_settings")
    # [policy] text the patient sees at once when an answer raises a suicidality alert.
    crisis_text = models.TextField(default=DEFAULT_CRISIS_TEXT,
                                   validators=[MaxLengthValidator(CRISIS_TEXT_MAX)])
    # [policy] an unacknowledged urgent alert goes to the clinic admin after this long.
    escalation_minutes = models.PositiveIntegerField(default=60,
                                                     validators=_range(ESCALATION_MINUTES))
    # [policy] how long a self-report link stays open.
    link_days = models.PositiveIntegerField(default=3, validators=_range(LINK_DAYS))
    # [policy] clinic default schedule: instrument ids and the interval between them.
    default_instruments = models.CharField(max_length=200, default="phq9,gad7")
    # empty: the PCL-5 (the obvious choice) has no shipped wording, so no link can carry it
    ptsd_instruments = models.CharField(max_length=200, default="", blank=True)
    default_interval_days = models.PositiveIntegerField(default=7, validators=_range(INTERVAL_DAYS))
    # [policy] QIDS-SR16 item 12 alert threshold (clinical.md 1.1 lets the clinic choose 1 or 2).
    qids_suicide_item_threshold = models.PositiveSmallIntegerField(
        default=1, validators=[validate_qids_threshold])
    prorate = models.BooleanField(default=False, help_text="Prorate PHQ-9 with 1-2 missing items")
    # [policy] how a fractional prorated total is rounded before banding and cut-offs
    # (phq9.json prorate.rounding: default half up, 4.5 -> 5; a test holds them equal).
    prorate_rounding = models.CharField(
        max_length=10, default="half_up",
        choices=[("half_up", "Half up (4.5 becomes 5)"), ("up", "Any fraction up (4.1 becomes 5)")])
    # [policy] MADRS item 10 alert threshold (madrs.json setting, default 4).
    madrs_suicide_item_threshold = models.PositiveSmallIntegerField(
        default=4, validators=[validate_madrs_threshold])
    # [policy] the self-reports anchored to each dose (issue 12: "24 h and day 7"), in the
    # patient's depression questionnaire; the reference gives no time for them (clinical.md
    # and sessions.md time only the in-session readings), so each is a clinic setting. 0: none.
    followup_hours = models.PositiveIntegerField(default=24, validators=_range(FOLLOWUP_HOURS))
    followup_days = models.PositiveIntegerField(default=7, validators=_range(FOLLOWUP_DAYS))
    # Compare-and-swap version of the fields the measurement settings page saves (the outcome
    # rules page has its own, outcome_version): two admins saving at once, the second is told.
    version = models.PositiveIntegerField(default=1)

    # Outcome rules (kapclinic.clinical.outcomes). Defaults are outcomes.json's and
    # madrs.json's labelled defaults (a test holds them equal). Changing any of them bumps
    # ``outcome_version``; snapshots computed under an older version are recomputed.
    relapse_after = models.CharField(max_length=30, default="response_or_remission")
    relapse_date = models.CharField(max_length=20, default="first_of_run")
    fading_fraction = models.FloatField(default=0.5)
    madrs_remission_max = models.PositiveSmallIntegerField(default=10)
    # The clinic's relapse rules for instruments clinical.md 2 gives none for:
    # {instrument: {"threshold": n, "consecutive": k, "spacing_days": [lo, hi] | null,
    #  "version": v}}; a retired rule keeps {"threshold": null, "version": v}.
    relapse_rules = models.JSONField(default=dict, blank=True)
    # The clinic's response rules for instruments the reference gives none for (PCL-5):
    # {instrument: {"kind": "point_reduction" | "percent_reduction", "at_least": n}}. No default.
    response_rules = models.JSONField(default=dict, blank=True)
    outcome_version = models.PositiveIntegerField(default=1)

    clinic_path = "clinic"
    # clinic settings: crisis_text is the clinic's text, about no patient
    FIELD_CLASSES = classify(
        coded=("default_instruments", "ptsd_instruments", "prorate_rounding", "relapse_after",
            "relapse_date"),
        none=("id", "clinic", "crisis_text", "escalation_minutes", "link_days", "default_interval_days",
            "qids_suicide_item_threshold", "prorate", "madrs_suicide_item_threshold", "version",
            "fading_fraction", "madrs_remission_max", "relapse_rules", "response_rules", "outcome_version",
            "followup_hours", "followup_days"),
    )

    def __str__(self) -> str:
        return f"measurement settings of {self.clinic}"

    @classmethod
    def for_clinic(cls, clinic_id: int) -> MeasureSettings:
        """The clinic's settings; before its first save (actions.save_settings), the labelled
        defaults, unsaved: reading them never writes."""
        from kapclinic.accounts.scoping import clinic_settings

        return clinic_settings(cls, clinic_id)

    def bounded(self, name: str) -> int:
        """A numeric setting within its bounds, whatever was stored (see clamp)."""
        bounds = {"escalation_minutes": ESCALATION_MINUTES, "link_days": LINK_DAYS,
                  "default_interval_days": INTERVAL_DAYS, "followup_hours": FOLLOWUP_HOURS,
                  "followup_days": FOLLOWUP_DAYS}[name]
        return clamp(getattr(self, name), bounds, self._meta.get_field(name).default)

    def outcome_settings(self) -> outcomes.OutcomeSettings:
        """The clinic's choices as the outcomes core takes them."""
        rules = {}
        for instrument, rule in (self.relapse_rules or {}).items():
            if rule.get("threshold") is None:
                continue  # retired: kept only for its version number
            spacing = rule.get("spacing_days")
            rules[instrument] = outcomes.clinic_relapse_rule(
                instrument, threshold=rule["threshold"], consecutive=rule["consecutive"],
                spacing_days=tuple(spacing) if spacing else None,
                version=str(rule.get("version", 1)))
        changes = {instrument: instruments.clinic_change_rule(
            instrument, kind=rule["kind"], at_least=rule["at_least"])
            for instrument, rule in (self.response_rules or {}).items() if rule}
        return outcomes.OutcomeSettings(
            relapse_after=self.relapse_after, relapse_date=self.relapse_date,
            fading_fraction=self.fading_fraction, relapse_rules=rules,
            instrument_settings={"madrs": {"remission_max": self.madrs_remission_max}},
            change_rules=changes)


# how an alert raised by an answer names the app, and the response that raised it
ALERT_SOURCE = "measures"
RESPONSE_RECORD = "measures.response"


class Response(CorrectableRecord):
    """One completed questionnaire. Never edited: a wrong one is marked entered-in-error."""

    class Source(models.TextChoices):
        CLINIC = "clinic", "Entered in clinic"
        LINK = "link", "Patient self-report link"
        PORTAL = "portal", "Patient portal"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="responses")
    instrument = models.CharField(max_length=40)
    definition_version = models.CharField(max_length=20)
    answers = models.JSONField()
    total = models.FloatField(null=True)
    severity = models.CharField(max_length=40, blank=True)
    flags = models.JSONField(default=list)
    result = models.JSONField()
    taken_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=10, choices=Source.choices)
    entered_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    link = models.OneToOneField(PatientLink, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="response")
    # The dosing session it belongs to (the treatment app's session id, a plain reference like
    # an alert's record_id): taken in that session (CADSS-6 at ~40 min), or the follow-up
    # sent after its dose. Set only once the patient's own dose in that session was checked.
    session_id = models.PositiveBigIntegerField(null=True, blank=True)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="+")
    entered_in_error_reason = models.CharField(max_length=500, blank=True)

    clinic_path = "patient__clinic"
    # answers/flags/result: item scores and rule codes
    FIELD_CLASSES = classify(
        date=("taken_at", "entered_in_error_at"),
        free_text=("entered_in_error_reason",),
        coded=("instrument", "answers", "severity", "flags", "result", "source"),
        none=("id", "patient", "definition_version", "total", "entered_by", "link", "entered_in_error_by",
              "session_id"),
    )

    class Meta:
        ordering = ["-taken_at", "-id"]
        indexes = [models.Index(fields=["patient", "instrument", "taken_at"]),
                   models.Index(fields=["session_id"], condition=models.Q(session_id__isnull=False),
                                name="response_by_session")]
        constraints = [paired("entered_in_error_at", "entered_in_error_by",
                              "response_error_who_when")]

    def __str__(self) -> str:
        return f"{self.instrument} {self.total} for patient {self.patient_id}"

    @property
    def instrument_name(self) -> str:
        return instrument_name(self.instrument)

    @property
    def crisis(self) -> bool:
        """Whether the answers called for crisis resources: any alert they raised, including
        one that could not be ruled out because an answer was missing."""
        return is_crisis(Alert.objects.filter(record_type=RESPONSE_RECORD, record_id=self.pk)
                         .values_list("kind", flat=True))

class Schedule(models.Model):
    """One instrument a patient is asked to complete every ``interval_days``."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="schedules")
    instrument = models.CharField(max_length=40)
    interval_days = models.PositiveIntegerField(validators=_range(INTERVAL_DAYS))
    next_due_at = models.DateTimeField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("next_due_at", "created_at"),
        coded=("instrument",),
        none=("id", "patient", "interval_days", "active"),
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["patient", "instrument"],
                                               name="one_schedule_per_instrument")]
        indexes = [models.Index(fields=["active", "next_due_at"])]

    def __str__(self) -> str:
        return f"{self.instrument} every {self.interval_days} d for patient {self.patient_id}"

    @property
    def instrument_name(self) -> str:
        return instrument_name(self.instrument)


class MeasureRequest(models.Model):
    """A questionnaire sent to the patient: its link, when it is due and whether it came back."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="measure_requests")
    instrument = models.CharField(max_length=40)
    link = models.OneToOneField(PatientLink, on_delete=models.PROTECT, related_name="request")
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    # the dosing session whose dose this follow-up is anchored to (None: a scheduled or
    # hand-sent questionnaire); the answer carries it on (Response.session_id)
    session_id = models.PositiveBigIntegerField(null=True, blank=True)

    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("due_at", "sent_at", "reminded_at"),
        coded=("instrument",),
        none=("id", "patient", "link", "session_id"),
    )

    def __str__(self) -> str:
        return f"{self.instrument} due {self.due_at:%Y-%m-%d} for patient {self.patient_id}"

    @property
    def instrument_name(self) -> str:
        return instrument_name(self.instrument)


class DoseFollowUp(models.Model):
    """A self-report due a set time after a dose (the clinic's follow-up hours or days): made
    when the dose is recorded, sent by the worker when due (a MeasureRequest), or skipped with
    the reason. One per session and anchor, however often the dose is reported."""

    class Anchor(models.TextChoices):
        HOURS = "hours", "Hours after the dose"
        DAYS = "days", "Days after the dose"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="dose_followups")
    session_id = models.PositiveBigIntegerField()
    anchor = models.CharField(max_length=10, choices=Anchor.choices)
    instrument = models.CharField(max_length=40)
    dose_given_at = models.DateTimeField()
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    request = models.OneToOneField(MeasureRequest, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="followup")
    sent_at = models.DateTimeField(null=True, blank=True)
    skipped_at = models.DateTimeField(null=True, blank=True)
    skipped_reason = models.CharField(max_length=200, blank=True)

    clinic_path = "patient__clinic"
    # skipped_reason: the software's own words (dose entered in error...), never typed
    FIELD_CLASSES = classify(
        date=("dose_given_at", "due_at", "created_at", "sent_at", "skipped_at"),
        coded=("anchor", "instrument", "skipped_reason"),
        none=("id", "patient", "session_id", "request"),
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["patient", "session_id", "anchor"],
                                               name="one_followup_per_dose_and_anchor")]
        indexes = [models.Index(fields=["due_at"], name="followup_waiting",
                                condition=models.Q(sent_at__isnull=True, skipped_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.instrument} {self.anchor} after session {self.session_id}"

    @property
    def instrument_name(self) -> str:
        return instrument_name(self.instrument)

    @property
    def after_words(self) -> str:
        """"24 h", "7 days": how long after the dose it is due."""
        from kapclinic.measures.since_dose import span_words

        return span_words(self.due_at - self.dose_given_at)


class OutcomeSnapshot(models.Model):
    """A patient's outcome on one instrument, as kapclinic.clinical.outcomes computed it.

    Derived data, recomputed whenever a response is saved, so the clinic dashboard can
    aggregate in SQL without recomputing (or re-deciding) any clinical rule.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="outcomes")
    instrument = models.CharField(max_length=40)
    condition_group = models.CharField(max_length=200, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)
    baseline_total = models.FloatField(null=True)
    latest_total = models.FloatField(null=True)
    latest_at = models.DateTimeField(null=True)
    reduction_pct = models.FloatField(null=True)
    response_now = models.BooleanField(default=False)
    remission_now = models.BooleanField(default=False)
    ever_responded = models.BooleanField(default=False)
    time_to_response_days = models.FloatField(null=True)
    has_relapse_rule = models.BooleanField(default=False)
    relapsed = models.BooleanField(default=False)
    durability_days = models.FloatField(null=True)
    relief_fading = models.BooleanField(default=False)
    # What the outcome is attributed to on the dashboard: the protocol and route of the
    # patient's latest dose (blank: no dose on record), and, when that dose belongs to a
    # course, the course's first dose, the start its episode baseline is read from.
    protocol_label = models.CharField(max_length=200, blank=True)
    route = models.CharField(max_length=40, blank=True)
    episode_start = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField()
    # The clinic's outcome_version this was computed under (0: before versions existed).
    settings_version = models.PositiveIntegerField(default=0)

    clinic_path = "patient__clinic"
    # summary holds the dated score series
    FIELD_CLASSES = classify(
        date=("computed_at", "latest_at", "summary", "episode_start"),
        coded=("instrument", "condition_group", "protocol_label", "route"),
        none=("id", "patient", "baseline_total", "latest_total", "reduction_pct", "response_now",
            "remission_now", "ever_responded", "time_to_response_days", "has_relapse_rule", "relapsed",
            "durability_days", "relief_fading", "settings_version"),
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["patient", "instrument"],
                                               name="one_outcome_per_instrument")]
        indexes = [models.Index(fields=["instrument", "condition_group"]),
                   models.Index(fields=["settings_version"])]

    def __str__(self) -> str:
        return f"{self.instrument} outcome of patient {self.patient_id}"


class ClinicalEvent(CorrectableRecord):
    """An event that can define relapse (clinical.md 2, SUSTAIN-1 row): hospitalisation for
    worsening depression, a suicide attempt... ``occurred_at`` is the start of the
    hospitalisation if hospitalised, otherwise when the event happened (the row's relapse
    date). Never edited: a wrong one is marked entered in error."""

    KINDS = {
        "hospitalisation_worsening_depression": "Hospitalisation for worsening depression",
        "suicide_attempt": "Suicide attempt",
        "completed_suicide": "Completed suicide",
        "hospitalisation_suicide_prevention": "Hospitalisation for suicide prevention",
        "other_clinically_relevant_event": "Other clinically relevant event suggestive of relapse",
    }

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="clinical_events")
    kind = models.CharField(max_length=60, choices=list(KINDS.items()))
    occurred_at = models.DateTimeField()
    note = models.TextField()
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="+")
    entered_in_error_reason = models.CharField(max_length=500, blank=True)

    clinic_path = "patient__clinic"
    FIELD_CLASSES = classify(
        date=("occurred_at", "recorded_at", "entered_in_error_at"),
        free_text=("note", "entered_in_error_reason"),
        coded=("kind",),
        none=("id", "patient", "recorded_by", "entered_in_error_by"),
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [paired("entered_in_error_at", "entered_in_error_by", "event_error_who_when")]

    def __str__(self) -> str:
        return f"{self.kind} for patient {self.patient_id}"
