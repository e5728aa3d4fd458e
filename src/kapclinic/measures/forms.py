"""A questionnaire as a form, built from its definition (items, answer options)."""

from __future__ import annotations

from typing import Any

from django import forms

from kapclinic.clinical import instruments


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


class AcknowledgeForm(forms.Form):
    note = forms.CharField(label="What you did", widget=forms.Textarea(attrs={"rows": 2}),
                           max_length=2000)


class SendForm(forms.Form):
    instrument = forms.ChoiceField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = [
            (row["id"], row["name"]) for row in instruments.list_instruments()
            if row.get("rater") in ("self", "mixed")]


class MeasureSettingsForm(forms.ModelForm):
    class Meta:
        from kapclinic.measures.models import MeasureSettings

        model = MeasureSettings
        fields = ["crisis_text", "escalation_minutes", "link_days", "default_instruments",
                  "ptsd_instruments", "default_interval_days", "qids_suicide_item_threshold",
                  "prorate"]
        labels = {
            "crisis_text": "Crisis text shown to a patient at once",
            "escalation_minutes": "Escalate an unacknowledged alert after (minutes)",
            "link_days": "Self-report links stay open (days)",
            "default_instruments": "Default schedule (instrument ids, comma-separated)",
            "ptsd_instruments": "Added for PTSD (instrument ids)",
            "default_interval_days": "Every (days)",
            "qids_suicide_item_threshold": "QIDS-SR16 item 12 alert at or above",
            "prorate": "Prorate a PHQ-9 with 1 or 2 missing items (marked prorated)",
        }
        widgets = {"crisis_text": forms.Textarea(attrs={"rows": 9})}

    def _instrument_list(self, name: str) -> str:
        ids = [i.strip() for i in self.cleaned_data[name].split(",") if i.strip()]
        known = {row["id"] for row in instruments.list_instruments()}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise forms.ValidationError(
                f"Unknown instrument id(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}")
        return ",".join(ids)

    def clean_default_instruments(self) -> str:
        return self._instrument_list("default_instruments")

    def clean_ptsd_instruments(self) -> str:
        return self._instrument_list("ptsd_instruments")

    def clean_qids_suicide_item_threshold(self) -> int:
        value = self.cleaned_data["qids_suicide_item_threshold"]
        if value not in (1, 2):  # the choices clinical.md 1.1 gives
            raise forms.ValidationError("Choose 1 or 2 (clinical.md 1.1).")
        return value

    def clean_escalation_minutes(self) -> int:
        value = self.cleaned_data["escalation_minutes"]
        if not 1 <= value <= 24 * 60:
            raise forms.ValidationError("Between 1 minute and 24 hours.")
        return value
