"""Forms of the therapy-note pages (a draft's sections are the draft's own template, read in
the view; these are the fixed ones)."""

from __future__ import annotations

from django import forms

from kapclinic.accounts.models import Membership
from kapclinic.accounts.permissions import Action, role_can
from kapclinic.accounts.scoping import for_clinic
from kapclinic.treatment import emergency_access

DATE = forms.DateInput(attrs={"type": "date"})


def clinicians(clinic_id: int, action: Action, *, but=None) -> list[tuple[int, str]]:
    """The clinic's active staff whose role may do ``action``, for a chooser."""
    rows = for_clinic(Membership.objects.select_related("user"), clinic_id).order_by(
        "user__last_name", "user__first_name", "user__username")
    seen: dict[int, str] = {}
    for membership in rows:
        user = membership.user
        if user.is_active and role_can(membership.role, action) and user.pk != getattr(but, "pk", None):
            seen.setdefault(user.pk, f"{user.display_name} ({membership.get_role_display().lower()})")
    return list(seen.items())


class AddendumForm(forms.Form):
    text = forms.CharField(label="Addendum", widget=forms.Textarea(attrs={"rows": 4}), max_length=20_000,
                           help_text="A correction or addition. The note stays as it was signed.")


class CosignForm(forms.Form):
    comment = forms.CharField(label="Comment (optional)", required=False, max_length=500,
                              widget=forms.Textarea(attrs={"rows": 2}))


class AuthorizationForm(forms.Form):
    granted_to = forms.TypedChoiceField(label="Who may read them", coerce=int)
    purpose = forms.CharField(label="Purpose, as the authorization states it", max_length=300)
    notes_from = forms.DateField(label="Notes signed from", widget=DATE)
    notes_to = forms.DateField(label="to", widget=DATE)
    signed_on = forms.DateField(label="Signed by the patient on", widget=DATE)
    expires_on = forms.DateField(label="Expires on", widget=DATE,
                                 help_text="The last day it may be used, as written on it.")

    def __init__(self, *args, clinic_id: int, author, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["granted_to"].choices = [("", "Choose…"),
                                             *clinicians(clinic_id, Action.NOTE_READ, but=author)]


class RevokeForm(forms.Form):
    reason = forms.CharField(label="How the patient revoked it", max_length=500,
                             help_text="e.g. “Written revocation received 3 Dec 2026”.")


class EmergencyAccessForm(forms.Form):
    reason = forms.ChoiceField(label="Reason", widget=forms.RadioSelect)
    explanation = forms.CharField(label="Why now, in a sentence", max_length=1000,
                                  widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, clinic_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [(r, r) for r in emergency_access.reasons_for(clinic_id)]


class ReviewForm(forms.Form):
    note = forms.CharField(label="Review note (optional)", required=False, max_length=500)


class EmergencyRulesForm(forms.Form):
    minutes = forms.IntegerField(label="An emergency access lasts (minutes)", min_value=5, max_value=720)
    reasons = forms.CharField(label="Reasons offered, one per line", widget=forms.Textarea(attrs={"rows": 5}),
                              max_length=3000)

    def clean_reasons(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["reasons"].splitlines() if line.strip()]


class SupervisionForm(forms.Form):
    trainee = forms.TypedChoiceField(label="Trainee", coerce=int)
    supervisor = forms.TypedChoiceField(label="Supervisor who co-signs", coerce=int)

    def __init__(self, *args, clinic_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trainee"].choices = [("", "Choose…"), *clinicians(clinic_id, Action.NOTE_WRITE)]
        self.fields["supervisor"].choices = [("", "Choose…"), *clinicians(clinic_id, Action.NOTE_COSIGN)]


class TemplateForm(forms.Form):
    """One template as text: its title, and a section per line as ``Label | hint`` (a line
    starting with ``[ ]`` is a tick box)."""

    title = forms.CharField(label="Title", max_length=80)
    sections = forms.CharField(label="Sections, one per line: Label | hint (start with [ ] for a tick box)",
                               widget=forms.Textarea(attrs={"rows": 6}), max_length=10_000)

    def as_template(self) -> dict:
        sections = []
        for line in self.cleaned_data["sections"].splitlines():
            if not line.strip():
                continue
            check = line.strip().startswith("[ ]")
            label, _, hint = line.strip().removeprefix("[ ]").partition("|")
            sections.append({"label": label.strip(), "hint": hint.strip(),
                             "type": "check" if check else "text"})
        return {"title": self.cleaned_data["title"], "sections": sections}

    @staticmethod
    def initial_for(template) -> dict:
        lines = [("[ ] " if s.type == "check" else "") + s.label + (f" | {s.hint}" if s.hint else "")
                 for s in template.sections]
        return {"title": template.title, "sections": "\n".join(lines)}
