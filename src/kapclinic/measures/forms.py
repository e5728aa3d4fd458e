"""A questionnaire as a form, built from its definition (items, answer options)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from kapclinic.clinical import instruments, outcomes
from kapclinic.measures import models as bounds
from kapclinic.platform import text


def item_label(item) -> str:
    return item.text or item.label or f"Item {item.link_id}"


def option_label(option) -> str:
    return f"{option.value} · {option.label}" if option.label else str(option.value)


class QuestionnaireForm(forms.Form):
    """One radio group per item; items with a skip rule (enableWhen) may be left empty."""

    def __init__(self, *args, instrument: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.definition = instruments.get_instrument(instrument)
        for item in self.definition.items:
            self.fields[f"item_{item.link_id}"] = forms.TypedChoiceField(
                label=item_label(item), coerce=int, empty_value=None,
                required=item.scored and not item.enable_when,
                choices=[(o.value, option_label(o)) for o in item.options],
                widget=forms.RadioSelect)

    def answers(self) -> dict[str, Any]:
        return {item.link_id: self.cleaned_data.get(f"item_{item.link_id}")
                for item in self.definition.items}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # an answer to a question the skip rules did not ask (C-SSRS 5 when 2 is No) makes
        # the form inconsistent: it is refused, to be corrected, never scored
        for link_id, problem in instruments.not_asked_answers(self.definition, self.answers()):
            self.add_error(f"item_{link_id}", problem)
        return cleaned


class ClinicalEventForm(forms.Form):
    """An event that can define relapse (clinical.md 2, SUSTAIN-1 row)."""

    kind = forms.ChoiceField(label="What happened", choices=[])
    occurred_at = forms.DateTimeField(
        label="When (the start of the hospitalisation if hospitalised)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    note = forms.CharField(label="Note", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from kapclinic.measures.models import ClinicalEvent

        self.fields["kind"].choices = list(ClinicalEvent.KINDS.items())
        text.guard(self, free_text=("note",))

    def clean_occurred_at(self):
        from kapclinic.measures.actions import WhenError, check_when

        value = self.cleaned_data["occurred_at"]
        try:
            check_when(value, "occurred_at")
        except WhenError as exc:
            raise forms.ValidationError(f"The time {exc}.") from exc
        return value


def link_choices() -> tuple[list[tuple[str, str]], list[str]]:
    """The questionnaires a patient can answer by a link (self-report, wording shipped),
    and why each other one is not offered."""
    offered, missing = [], []
    for row in instruments.list_instruments():
        refusal = instruments.get_instrument(row["id"]).self_report_refusal
        if refusal is None:
            offered.append((row["id"], row["name"]))
        else:
            missing.append(refusal)
    return offered, missing


class SendForm(forms.Form):
    """Only questionnaires a patient can read and answer alone are offered;
    ``not_offered`` says why each other one is missing."""

    instrument = forms.ChoiceField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices, self.not_offered = link_choices()

    def problem(self) -> str:
        """What to tell staff when the form is refused."""
        from kapclinic.measures.actions import self_report_refusal

        wanted = str(self.data.get("instrument", ""))
        if wanted in {row["id"] for row in instruments.list_instruments()}:
            refusal = self_report_refusal(wanted)
            if refusal:
                return f"Not sent. {refusal}"
        return "Choose a questionnaire the patient fills in themselves."


def _bounded_field(label: str, limits: tuple[int, int], unit: str) -> forms.IntegerField:
    """A whole number with its allowed range checked and shown (help text and min/max)."""
    lo, hi = limits
    message = f"Between {lo} and {hi} {unit}."
    return forms.IntegerField(label=label, min_value=lo, max_value=hi,
                              help_text=f"Allowed: {lo} to {hi} {unit}.",
                              error_messages={"min_value": message, "max_value": message})


class MeasureSettingsForm(forms.ModelForm):
    escalation_minutes = _bounded_field("Escalate an unacknowledged alert after (minutes)",
                                        bounds.ESCALATION_MINUTES, "minutes")
    link_days = _bounded_field("Self-report links stay open (days)", bounds.LINK_DAYS, "days")
    default_interval_days = _bounded_field("Every (days)", bounds.INTERVAL_DAYS, "days")
    followup_hours = _bounded_field("First self-report after each dose (hours; 0: none)",
                                    bounds.FOLLOWUP_HOURS, "hours")
    followup_days = _bounded_field("Second self-report after each dose (days; 0: none)",
                                   bounds.FOLLOWUP_DAYS, "days")
    crisis_text = forms.CharField(
        label="Crisis text shown to a patient at once", max_length=bounds.CRISIS_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 9}),
        help_text=f"Up to {bounds.CRISIS_TEXT_MAX} characters.")
    # The settings as this form was loaded: a save from an older copy is refused (409).
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31,
                                 error_messages={"required": "This form has no version: reload "
                                                             "the page and save again."})

    class Meta:
        from kapclinic.measures.models import MeasureSettings

        model = MeasureSettings
        fields = ["crisis_text", "escalation_minutes", "link_days", "default_instruments",
                  "ptsd_instruments", "default_interval_days", "qids_suicide_item_threshold",
                  "madrs_suicide_item_threshold", "prorate", "prorate_rounding",
                  "followup_hours", "followup_days"]
        # crisis_text and the bounded numbers are declared above, with their labels
        labels = {
            "default_instruments": "Default schedule (instrument ids, comma-separated)",
            "ptsd_instruments": "Added for PTSD (instrument ids)",
            "qids_suicide_item_threshold": "QIDS-SR16 item 12 alert at or above",
            "madrs_suicide_item_threshold": "MADRS item 10 alert at or above",
            "prorate": "Prorate a PHQ-9 with 1 or 2 missing items (marked prorated)",
            "prorate_rounding": "Round a prorated total with a fraction (before severity and "
                                "remission are read from it)",
        }
        help_texts = {
            "default_instruments": "Only questionnaires a patient can read and answer alone "
                                   "(self-report, with their questions shipped), such as the "
                                   "PHQ-9 and GAD-7. Others are entered in clinic.",
            "ptsd_instruments": "Empty by default: the PCL-5's questions are not shipped, so "
                                "it is entered in clinic from the clinic's copy.",
            "prorate_rounding": "Default: half up (4.5 becomes 5), the common convention. The "
                                "PHQ-9 prorating rule (NHS Data Dictionary) does not say.",
        }

    def _instrument_list(self, name: str) -> str:
        ids = [i.strip() for i in self.cleaned_data[name].split(",") if i.strip()]
        known = {row["id"] for row in instruments.list_instruments()}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise forms.ValidationError(
                f"Unknown instrument id(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}")
        from kapclinic.measures.actions import self_report_refusal

        refused = [refusal for i in ids if (refusal := self_report_refusal(i))]
        if refused:
            raise forms.ValidationError(
                "Only questionnaires a patient can read and answer alone are sent. "
                + " ".join(refused))
        return ",".join(ids)

    def clean_default_instruments(self) -> str:
        return self._instrument_list("default_instruments")

    def clean_ptsd_instruments(self) -> str:
        return self._instrument_list("ptsd_instruments")

    def _definition_allows(self, field: str, instrument: str, setting: str) -> int:
        """A threshold the instrument's definition allows (its values come from the reference);
        the message says the choices and the default, never the definition's source note."""
        value = self.cleaned_data[field]
        spec = instruments.get_instrument(instrument).settings[setting]
        if value not in spec.allowed:
            raise forms.ValidationError(f"Choose one of {', '.join(map(str, spec.allowed))} "
                                        f"(the clinic default is {spec.default}).")
        return value

    def clean_qids_suicide_item_threshold(self) -> int:
        return self._definition_allows("qids_suicide_item_threshold", "qids_sr16",
                                       "suicide_item_threshold")

    def clean_madrs_suicide_item_threshold(self) -> int:
        return self._definition_allows("madrs_suicide_item_threshold", "madrs",
                                       "suicide_item_threshold")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # an older settings form (or API client) that does not send it keeps the current value
        for name in ("prorate_rounding", "followup_hours", "followup_days"):
            self.fields[name].required = False
        for name in ("followup_hours", "followup_days"):
            self.fields[name].help_text += (" Defaults 24 hours and 7 days: a clinic "
                                            "choice, no published timing. Sent in the patient's "
                                            "depression questionnaire: the PHQ-9, unless their "
                                            "schedule uses another a patient answers alone.")
        self.initial.setdefault("version", self.instance.version)
        # shown to a patient in crisis: it must read as it was typed
        text.guard(self, free_text=("crisis_text",))

    def clean_prorate_rounding(self) -> str:
        return self.cleaned_data.get("prorate_rounding") or self.instance.prorate_rounding

    def clean_followup_hours(self) -> int:
        value = self.cleaned_data.get("followup_hours")
        return self.instance.followup_hours if value is None else value

    def clean_followup_days(self) -> int:
        value = self.cleaned_data.get("followup_days")
        return self.instance.followup_days if value is None else value

    def values(self) -> dict:
        """The cleaned settings, for actions.save_settings (the version travels apart)."""
        return {name: self.cleaned_data[name] for name in self.Meta.fields}



def _setting_choices(name: str) -> list[tuple[str, str]]:
    spec = outcomes.load_rules().settings[name]
    return [(value, value.replace("_", " ")) for value in spec.allowed or ()]


def _clinic_choice(default: object) -> str:
    shown = str(default).replace("_", " ")
    return f"Clinic choice (no published rule); default {shown}."


class OutcomeSettingsForm(forms.ModelForm):
    """The clinic's outcome rules: the reference's open choices, each with its label and
    source, and relapse rules for instruments the reference gives none for."""

    relapse_after = forms.ChoiceField(choices=_setting_choices("relapse_after"))
    relapse_date = forms.ChoiceField(choices=_setting_choices("relapse_date"))
    fading_fraction = forms.FloatField()
    madrs_remission_max = forms.TypedChoiceField(coerce=int)

    class Meta:
        from kapclinic.measures.models import MeasureSettings

        model = MeasureSettings
        fields = ["relapse_after", "relapse_date", "fading_fraction", "madrs_remission_max"]

    CHANGE_KINDS = [("point_reduction", "a drop of at least N points"),
                    ("percent_reduction", "a reduction of at least N% from baseline")]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        specs = outcomes.load_rules().settings
        for name in ("relapse_after", "relapse_date", "fading_fraction"):
            self.fields[name].label = specs[name].label
            self.fields[name].help_text = _clinic_choice(specs[name].default)
        fading = specs["fading_fraction"]
        self.fields["fading_fraction"].validators += [
            MinValueValidator(fading.minimum), MaxValueValidator(fading.maximum)]
        remission = instruments.get_instrument("madrs").settings["remission_max"]
        self.fields["madrs_remission_max"].choices = [(v, f"≤ {v}") for v in remission.allowed]
        self.fields["madrs_remission_max"].label = remission.label
        self.fields["madrs_remission_max"].help_text = (
            "MADRS remission is defined as 10 or less in some esketamine trials and 12 or less "
            f"in others (SUSTAIN-3); {_clinic_choice(remission.default).lower()}")
        self._response_fields()
        current = self.instance.relapse_rules or {}
        self.relapse_rows = []
        for instrument in outcomes.relapse_rule_instruments():
            d = instruments.get_instrument(instrument)
            lo, hi = d.total_range
            rule = current.get(instrument) or {}
            spacing = rule.get("spacing_days") or [None, None]
            prefix = f"relapse_{instrument}_"
            self.fields[prefix + "threshold"] = forms.IntegerField(
                label="Relapse at a total of at least",
                required=False, min_value=lo + 1, max_value=hi, initial=rule.get("threshold"),
                help_text=f"{lo + 1}-{hi}; empty = no relapse rule")
            self.fields[prefix + "consecutive"] = forms.IntegerField(
                label="On this many assessments in a row", required=False,
                min_value=1, max_value=6, initial=rule.get("consecutive") or 2,
                help_text="1-6 (default 2)")
            self.fields[prefix + "min_days"] = forms.IntegerField(
                label="Days apart, at least", required=False, min_value=0,
                max_value=365, initial=spacing[0])
            self.fields[prefix + "max_days"] = forms.IntegerField(
                label="Days apart, at most", required=False, min_value=0,
                max_value=365, initial=spacing[1])
            self.relapse_rows.append({
                "definition": d,
                "fields": [self[prefix + k] for k in ("threshold", "consecutive", "min_days",
                                                      "max_days")]})

    def _response_fields(self) -> None:
        current = self.instance.response_rules or {}
        self.response_rows = []
        for instrument in outcomes.response_rule_instruments():
            d = instruments.get_instrument(instrument)
            rule = current.get(instrument) or {}
            prefix = f"response_{instrument}_"
            self.fields[prefix + "kind"] = forms.ChoiceField(
                label="Response is", choices=self.CHANGE_KINDS, required=False,
                initial=rule.get("kind", "point_reduction"))
            self.fields[prefix + "at_least"] = forms.FloatField(
                label="N", required=False, min_value=0.5, initial=rule.get("at_least"),
                help_text="empty = no response rule (no default)")
            self.response_rows.append({"definition": d, "fields": [
                self[prefix + "kind"], self[prefix + "at_least"]]})

    def _clean_response_rules(self, cleaned: dict[str, Any]) -> None:
        rules = {}
        for instrument in outcomes.response_rule_instruments():
            prefix = f"response_{instrument}_"
            at_least = cleaned.get(prefix + "at_least")
            if at_least is None:
                continue
            kind = cleaned.get(prefix + "kind") or "point_reduction"
            try:
                instruments.clinic_change_rule(instrument, kind=kind, at_least=at_least)
            except ValueError as exc:
                self.add_error(prefix + "at_least", str(exc).split(": ", 1)[-1].capitalize() + ".")
                continue
            rules[instrument] = {"kind": kind, "at_least": at_least}
        self.instance.response_rules = rules

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self._clean_response_rules(cleaned)
        rules = {}
        for instrument in outcomes.relapse_rule_instruments():
            prefix = f"relapse_{instrument}_"
            threshold = cleaned.get(prefix + "threshold")
            lo, hi = cleaned.get(prefix + "min_days"), cleaned.get(prefix + "max_days")
            if (lo is None) != (hi is None):
                self.add_error(prefix + "max_days" if hi is None else prefix + "min_days",
                               "Give both spacing limits (at least and at most) or neither.")
                continue
            if lo is not None and hi is not None and lo > hi:
                self.add_error(prefix + "max_days", f"At most ({hi}) must not be below at "
                                                    f"least ({lo}).")
                continue
            previous = (self.instance.relapse_rules or {}).get(instrument) or {}
            if threshold is None:
                if lo is not None:
                    self.add_error(prefix + "threshold", "Give the total that counts as relapse, "
                                                         "or clear the spacing too.")
                elif previous:  # a retired rule keeps its version, so ids never repeat
                    rules[instrument] = {"threshold": None, "version": previous.get("version", 0)}
                continue
            consecutive = cleaned.get(prefix + "consecutive") or 2
            if lo is not None and consecutive < 2:
                self.add_error(prefix + "consecutive", "Spacing between assessments needs 2 or "
                                                       "more assessments in a row.")
                continue
            rule = {"threshold": threshold, "consecutive": consecutive,
                    "spacing_days": [lo, hi] if lo is not None else None}
            changed = {k: previous.get(k) for k in rule} != rule
            # A changed rule is a new version of the clinic's rule (stored with results).
            version = previous.get("version", 0)
            rule["version"] = version + 1 if changed else version
            rules[instrument] = rule
        self.instance.relapse_rules = rules
        return cleaned

    def values(self) -> dict:
        """The cleaned outcome rules, for actions.save_outcome_settings."""
        return {**{name: self.cleaned_data[name] for name in self.Meta.fields},
                "relapse_rules": self.instance.relapse_rules,
                "response_rules": self.instance.response_rules}
