"""Forms of adverse events. The choices come from the clinic's lists (treatment.ae_actions.
vocabulary_for); the actions check them again."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from kapclinic.clinical import safety
from kapclinic.platform import text
from kapclinic.treatment.ae_models import Severity

DATETIME = {"type": "datetime-local"}


def _choices(values, blank: str | None = None) -> list[tuple[str, str]]:
    return ([("", blank)] if blank is not None else []) + [(v, v) for v in values]


class EventForm(forms.Form):
    term = forms.ChoiceField(label="What happened")
    description = forms.CharField(label="Description", required=False, max_length=4000,
                                  widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="Required for Other; what was seen, how long it lasted.")
    onset_at = forms.DateTimeField(label="Started at", widget=forms.DateTimeInput(attrs=DATETIME))
    severity = forms.ChoiceField(label="Severity", choices=Severity.choices, widget=forms.RadioSelect)
    grade = forms.TypedChoiceField(label="Grade (1 mild to 5 death)", coerce=int,
                                   choices=[(g, str(g)) for g in range(1, 6)])
    serious_criteria = forms.MultipleChoiceField(
        label="Serious? Tick each that applies (none: not serious)", required=False,
        widget=forms.CheckboxSelectMultiple)
    action_taken = forms.ChoiceField(label="Action taken with the drug", required=False)

    def __init__(self, *args, vocabulary: safety.Vocabulary, zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["term"].choices = _choices(vocabulary.terms, "Choose…")
        self.fields["serious_criteria"].choices = list(vocabulary.seriousness)
        self.fields["action_taken"].choices = _choices(vocabulary.action_taken, "Not recorded")
        self.fields["onset_at"].initial = timezone.localtime(timezone.now(), zone).strftime("%Y-%m-%dT%H:%M")
        text.guard(self, free_text=("description",))


class ReviewForm(forms.Form):
    causality = forms.ChoiceField(label="Caused by the drug?")
    note = forms.CharField(label="Note (optional)", required=False, max_length=4000,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, vocabulary: safety.Vocabulary, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["causality"].choices = _choices(vocabulary.causality, "Choose…")
        text.guard(self, free_text=("note",))


class RemsReportForm(forms.Form):
    reported_on = forms.DateField(label="Reported to the REMS on",
                                  widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(label="Reference (optional)", required=False, max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, names=("reference",))


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(label="Outcome")
    note = forms.CharField(label="Note (optional)", required=False, max_length=4000,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, vocabulary: safety.Vocabulary, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = _choices(vocabulary.outcome, "Choose…")
        text.guard(self, free_text=("note",))


class ErrorForm(forms.Form):
    reason = forms.CharField(label="Why it was entered in error", max_length=500)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, free_text=("reason",))


class ListsForm(forms.Form):
    """One entry per line; an empty box goes back to the labelled default."""

    terms = forms.CharField(label="Adverse-event terms", required=False,
                            widget=forms.Textarea(attrs={"rows": 10}))
    action_taken = forms.CharField(label="Actions taken with the drug", required=False,
                                   widget=forms.Textarea(attrs={"rows": 6}))
    outcome = forms.CharField(label="Outcomes", required=False, widget=forms.Textarea(attrs={"rows": 6}))
    causality = forms.CharField(label="Causality scale", required=False,
                                widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, free_text=tuple(self.fields))

    def lists(self) -> dict[str, list[str]]:
        return {name: [line for line in self.cleaned_data[name].splitlines() if line.strip()]
                for name in safety.CLINIC_LISTS}


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))


class AfterSessionForm(forms.Form):
    """What the portal asks the day after a session, in the patient's words."""

    session = forms.IntegerField(widget=forms.HiddenInput)
    feeling = forms.ChoiceField(label="How have you been since your session?", widget=forms.RadioSelect,
                                choices=[("fine", "I feel fine"),
                                         ("effects", "I have had effects since the session")])
    effects = forms.MultipleChoiceField(label="Which effects? Tick any you had", required=False,
                                        widget=forms.CheckboxSelectMultiple)
    severity = forms.ChoiceField(label="How strong were they?", required=False, widget=forms.RadioSelect,
                                 choices=Severity.choices)
    note = forms.CharField(label="Anything else you want your care team to know", required=False,
                           max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, terms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["effects"].choices = terms  # (term, the patient's words)
        text.guard(self, free_text=("note",))
