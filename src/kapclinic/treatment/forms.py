"""The session pages' forms: scheduling, a step, the checklists, the dose and a reading.

Times typed on a page are read in the clinic's zone (the request activates it). The forms only
check what a form can (a number is a number, a required answer is given); the actions decide
everything clinical and their refusals are put back on the field they name.
"""

from __future__ import annotations

from django import forms

from kapclinic.clinical import protocols as core
from kapclinic.platform import text
from kapclinic.treatment.infusion import device_mg
from kapclinic.treatment.models import AdministrationEventKind, Answer, ChecklistItem, State

NUMERIC = {"inputmode": "numeric", "autocomplete": "off"}
DECIMAL = {"inputmode": "decimal", "autocomplete": "off"}
WHEN_HELP = "Leave empty for now."
LATE_HELP = "Only when this is recorded long after it happened."


def _when(label: str) -> forms.DateTimeField:
    return forms.DateTimeField(label=label, required=False, help_text=WHEN_HELP,
                               widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


def _late_reason() -> forms.CharField:
    return forms.CharField(label="Why it is recorded late", required=False, max_length=4000,
                           help_text=LATE_HELP, widget=forms.TextInput())


class ScheduleForm(forms.Form):
    protocol = forms.ChoiceField(label="Protocol")
    scheduled_at = forms.DateTimeField(label="Date and time",
                                       widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    room = forms.CharField(label="Room", max_length=60, required=False)
    chair = forms.CharField(label="Chair", max_length=60, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["protocol"].choices = [(p.id, p.label) for p in core.load_all().values()]
        text.guard(self, free_text=("room", "chair"))


class StepForm(forms.Form):
    to = forms.ChoiceField(choices=State.choices, widget=forms.HiddenInput)
    version = forms.IntegerField(min_value=1, max_value=2**31, widget=forms.HiddenInput)
    at = _when("When it happened")
    reason = forms.CharField(label="Reason", required=False, max_length=4000,
                             widget=forms.Textarea(attrs={"rows": 2}))
    late_reason = _late_reason()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, free_text=("reason", "late_reason"))


YES_NO = [(Answer.YES, "Yes"), (Answer.NO, "No")]
CHOICES = {
    ChecklistItem.PREGNANCY_TEST: [(Answer.NEGATIVE, "Negative today"), (Answer.POSITIVE, "Positive"),
                                   (Answer.NOT_APPLICABLE, "Does not apply")],
    ChecklistItem.NASAL_TIMING: [(Answer.YES, "Yes, at least 1 hour before"),
                                 (Answer.NOT_APPLICABLE, "None taken"), (Answer.NO, "No")],
}
# the items answered with a number or a note rather than a choice
WEIGHT, SCORE, NOTE = ChecklistItem.WEIGHT_TODAY, ChecklistItem.DISCHARGE_SCORE, ChecklistItem.INTENTION_NOTE
PRE_DOSE_ITEMS = (ChecklistItem.FASTING, ChecklistItem.RIDE_HOME, ChecklistItem.PREGNANCY_TEST,
                  ChecklistItem.WEIGHT_TODAY, ChecklistItem.PREDOSE_MEASURES, ChecklistItem.NASAL_TIMING,
                  ChecklistItem.INTENTION_NOTE)
DISCHARGE_ITEMS = (ChecklistItem.SEDATION_RESOLVED, ChecklistItem.DISSOCIATION_RESOLVED,
                   ChecklistItem.RESPIRATORY_DEPRESSION_RESOLVED, ChecklistItem.DISCHARGE_SCORE,
                   ChecklistItem.JUDGED_STABLE)


class ChecklistForm(forms.Form):
    """The items of one checklist (before the dose, or before discharge) the page offers;
    an item left unanswered is not recorded, so nurses can answer as they go."""

    late_reason = _late_reason()

    def __init__(self, *args, items: tuple[str, ...], score_words: str = "Discharge score",
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.items = items
        for item in items:
            label = ChecklistItem(item).label
            if item == WEIGHT:
                field = forms.FloatField(label="Today's weight (kg)", required=False, min_value=0.1,
                                         max_value=1000, widget=forms.NumberInput(
                                             attrs={**DECIMAL, "step": "0.1"}))
            elif item == SCORE:
                field = forms.FloatField(label=f"{score_words} (0-10)", required=False,
                                         min_value=0, max_value=10,
                                         widget=forms.NumberInput(attrs={**NUMERIC, "step": "1"}))
            elif item == NOTE:
                field = forms.CharField(label=label, required=False, max_length=4000,
                                        widget=forms.Textarea(attrs={"rows": 3}))
            else:
                field = forms.ChoiceField(label=label, required=False,
                                          choices=CHOICES.get(item, YES_NO),
                                          widget=forms.RadioSelect)
            self.fields[item] = field
        self.order_fields([*items, "late_reason"])
        text.guard(self, free_text=(NOTE, "late_reason"))

    def answers(self) -> dict[str, tuple[str, float | None, str]]:
        """{item: (answer, value, note)} for every item given."""
        out = {}
        for item in self.items:
            given = self.cleaned_data.get(item)
            if given in (None, ""):
                continue
            if item in (WEIGHT, SCORE):
                out[item] = (Answer.RECORDED, given, "")
            elif item == NOTE:
                out[item] = (Answer.RECORDED, None, given)
            else:
                out[item] = (given, None, "")
        return out


class DoseForm(forms.Form):
    """The dose to give, in the protocol's unit or the other; outside the protocol it needs
    the reason and a second clinician who types their own password (and code) here, now."""

    dose = forms.FloatField(label="Dose", min_value=0.001, max_value=100000,
                            widget=forms.NumberInput(attrs={**DECIMAL, "step": "any"}))
    unit = forms.ChoiceField(label="Unit", choices=[("mg_per_kg", "mg/kg"), ("mg", "mg")])
    product_ndc = forms.CharField(label="Product (NDC)", max_length=20, required=False)
    concentration_mg_per_ml = forms.FloatField(label="Concentration (mg/mL)", required=False,
                                               min_value=0.001, max_value=1000,
                                               widget=forms.NumberInput(attrs={**DECIMAL, "step": "any"}))
    lot = forms.CharField(label="Lot", max_length=60, required=False)
    rate_mg_per_min = forms.FloatField(label="Rate (mg/min)", required=False, min_value=0.001,
                                       max_value=1000,
                                       widget=forms.NumberInput(attrs={**DECIMAL, "step": "any"}))
    at = _when("Dose started at")
    override_reason = forms.CharField(label="Why this dose (outside the protocol)", required=False,
                                      max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
    second_clinician = forms.CharField(label="Second clinician's username", required=False,
                                       max_length=150,
                                       widget=forms.TextInput(attrs={"autocomplete": "off"}))
    second_password = forms.CharField(label="Second clinician's password", required=False,
                                      max_length=200, strip=False, widget=forms.PasswordInput(
                                          attrs={"autocomplete": "off"}))
    second_code = forms.CharField(label="Their authenticator code (if enrolled)", required=False,
                                  max_length=20, widget=forms.TextInput(
                                      attrs={**NUMERIC, "autocomplete": "one-time-code"}))
    late_reason = _late_reason()

    # an infusion's fields a nasal spray dose does not have
    INFUSION_ONLY = ("concentration_mg_per_ml", "rate_mg_per_min")

    def __init__(self, *args, protocol: core.Protocol | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, free_text=("override_reason", "late_reason", "lot", "product_ndc"))
        self.per_device = None if protocol is None else device_mg(protocol)
        if self.per_device is not None:
            self._shape_for_devices(protocol, self.per_device)

    def _shape_for_devices(self, protocol: core.Protocol, per_device: float) -> None:
        """A nasal spray dose is whole devices (esketamine: 28 mg each, clinical.md 3.4 Device
        row): the dose is chosen in mg with its device count, no infusion rate or concentration."""
        highest = max(protocol.cap, protocol.dose_range[1])
        count = max(1, int(highest // per_device + 1e-9))
        choices = [(f"{n * per_device:g}", f"{n * per_device:g} mg · {n} device{'s' if n > 1 else ''}")
                   for n in range(1, count + 1)]
        self.fields["dose"] = forms.TypedChoiceField(
            label="Dose (mg)", choices=choices, coerce=float, widget=forms.RadioSelect,
            help_text=f"Each device gives {per_device:g} mg (two sprays, one per nostril); "
                      "record each device as it is given.")
        self.fields["unit"] = forms.ChoiceField(choices=[("mg", "mg")], initial="mg",
                                                widget=forms.HiddenInput, required=False)
        for name in self.INFUSION_ONLY:
            del self.fields[name]

    @property
    def devices(self) -> bool:
        return self.per_device is not None

    def clean(self):
        data = super().clean()
        if self.devices:
            data["unit"] = "mg"
            for name in self.INFUSION_ONLY:
                data[name] = None
        return data

    def dose_fields(self) -> dict[str, float | None]:
        per_kg = self.cleaned_data["unit"] == "mg_per_kg"
        dose = self.cleaned_data["dose"]
        return {"dose_mg_per_kg": dose if per_kg else None, "dose_mg": None if per_kg else dose}


VITAL_LABELS = {  # the field, its label with the unit, and the keyboard it needs
    "sbp_mmhg": ("Systolic BP (mmHg)", NUMERIC), "dbp_mmhg": ("Diastolic BP (mmHg)", NUMERIC),
    "heart_rate_bpm": ("Heart rate (/min)", NUMERIC), "spo2_pct": ("SpO2 (%)", NUMERIC),
    "resp_rate_per_min": ("Breathing rate (/min)", NUMERIC),
    "temp_c": ("Temperature (°C)", DECIMAL),
}


class VitalsForm(forms.Form):
    """A reading: any of the vital signs; the action refuses an impossible value naming it."""

    observed_at = _when("Taken at")
    late_reason = _late_reason()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, (label, keyboard) in VITAL_LABELS.items():
            # no min/max here: the plausibility limits (clinical.md 4.4) are the action's
            self.fields[name] = forms.FloatField(
                label=label, required=False,
                widget=forms.NumberInput(attrs={**keyboard, "step": "any", "class": "vital-input"}))
        self.fields["moaas"] = forms.IntegerField(
            label="MOAA/S (0-5)", required=False,
            widget=forms.NumberInput(attrs={**NUMERIC, "step": "1", "class": "vital-input"}))
        self.order_fields([*VITAL_LABELS, "moaas", "observed_at", "late_reason"])
        text.guard(self, free_text=("late_reason",))

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not any(cleaned.get(n) is not None for n in self.values_names()):
            raise forms.ValidationError("Enter at least one vital sign.")
        return cleaned

    @staticmethod
    def values_names() -> tuple[str, ...]:
        return (*VITAL_LABELS, "moaas")

    def values(self) -> dict[str, float | None]:
        return {n: self.cleaned_data.get(n) for n in self.values_names()
                if self.cleaned_data.get(n) is not None}


class DoseEventForm(forms.Form):
    """What happened to the dose after it started (pause, resume, stop; a nasal spray device),
    from the session page's buttons. The action says what is allowed now and refuses the rest
    naming the field (a pause or a stop without its reason)."""

    kind = forms.ChoiceField(choices=AdministrationEventKind.choices, widget=forms.HiddenInput)
    device_number = forms.IntegerField(required=False, min_value=1, max_value=20,
                                       widget=forms.HiddenInput)
    reason = forms.CharField(label="Reason", required=False, max_length=4000,
                             widget=forms.Textarea(attrs={"rows": 2}))
    at = _when("When it happened")
    late_reason = _late_reason()

    def __init__(self, *args, kind: str, **kwargs):
        # several of these forms share the page: the kind keeps their ids apart
        kwargs["initial"] = {"kind": kind, **kwargs.get("initial", {})}
        super().__init__(*args, auto_id=f"{kind}-%s", **kwargs)
        text.guard(self, free_text=("reason", "late_reason"))


def _observation_choices(infusion: bool) -> list[tuple[str, list[tuple[str, str]]]]:
    """The lists, grouped; pausing an infusion only where the protocol infuses."""
    from kapclinic.clinical.sessions.observations import INTERVENTIONS, SIDE_EFFECTS

    given = [i for i in INTERVENTIONS if infusion or i.code != "pause_infusion"]
    return [("Side effect seen", [(f"side_effect:{i.code}", i.words) for i in SIDE_EFFECTS]),
            ("Intervention given", [(f"intervention:{i.code}", i.words) for i in given])]


class ObservationForm(forms.Form):
    """A side effect or an intervention (the action checks the rest)."""

    item = forms.ChoiceField(label="What")
    note = forms.CharField(label="Note", required=False, max_length=4000,
                           help_text="Needed for \u201cOther\u201d: say what it was.",
                           widget=forms.TextInput(attrs={"autocomplete": "off"}))
    at = _when("When")
    late_reason = _late_reason()

    def __init__(self, *args, infusion: bool = True, **kwargs):
        # its own ids: the vitals form beside it has fields of the same names
        kwargs.setdefault("auto_id", "seen_%s")
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = _observation_choices(infusion)
        text.guard(self, free_text=("note", "late_reason"))
