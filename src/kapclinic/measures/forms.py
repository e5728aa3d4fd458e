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
