"""Validation of patient data, shared by the web forms and the JSON API."""

from __future__ import annotations

from datetime import date

from django import forms

from kapclinic.accounts.models import Clinic, Membership, User
from kapclinic.accounts.roles import Role
from kapclinic.accounts.scoping import for_clinic
from kapclinic.clinical.codes import diagnoses
from kapclinic.patients import status as status_rules
from kapclinic.patients.models import Patient, Status
from kapclinic.patients.queries import MAX_QUERY_CHARS
from kapclinic.platform import text

EDITABLE_FIELDS = [
    "mrn", "given_name", "family_name", "date_of_birth", "sex_at_birth", "status",
    "phone", "email", "address", "emergency_contact_name", "emergency_contact_relationship",
    "emergency_contact_phone", "prescriber", "therapist",
]
OLDEST_PLAUSIBLE_AGE_YEARS = 120  # data-entry check only: catches a mistyped year


def clinic_staff(clinic: Clinic, role: Role):
    ids = for_clinic(Membership.objects.filter(role=role), clinic.pk).values("user_id")
    return User.objects.filter(pk__in=ids, is_active=True).order_by("last_name", "first_name")


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = EDITABLE_FIELDS
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "address": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {"mrn": "Medical record number, unique in this clinic."}

    def __init__(self, *args, clinic: Clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        self.fields["prescriber"].queryset = clinic_staff(clinic, Role.PRESCRIBER)
        self.fields["therapist"].queryset = clinic_staff(clinic, Role.THERAPIST)
        self.fields["prescriber"].label_from_instance = lambda user: user.display_name
        self.fields["therapist"].label_from_instance = lambda user: user.display_name
        self.fields["prescriber"].empty_label = "Not assigned"
        self.fields["therapist"].empty_label = "Not assigned"
        for name in ("phone", "emergency_contact_phone"):
            self.fields[name].widget.attrs["inputmode"] = "tel"
        self.fields["email"].widget.attrs["autocomplete"] = "off"
        current = self.instance.status if self.instance.pk else None
        offered = set(status_rules.MANUAL_MOVES.get(current, ())) | ({current} if current else set())
        # Every status validates (so a refused move gets clean_status's reason); only the moves
        # allowed from here are offered.
        self.fields["status"].widget.choices = [(v, label) for v, label in Status.choices if v in offered]
        self.fields["status"].help_text = (
            "Eligible and ineligible come from the prescriber's sign-off on the screening page; "
            "treatment starts after that sign-off and a current consent.")
        text.guard(self, names=("mrn", "given_name", "family_name", "phone", "email",
                                "emergency_contact_name", "emergency_contact_relationship",
                                "emergency_contact_phone"),
                   free_text=("address",))

    def clean_mrn(self) -> str:
        mrn = self.cleaned_data["mrn"].strip()
        taken = for_clinic(Patient.objects.filter(mrn__iexact=mrn), self.clinic.pk)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("Another patient in this clinic already has this MRN.")
        return mrn

    def clean_date_of_birth(self) -> date:
        born = self.cleaned_data["date_of_birth"]
        today = date.today()
        if born > today:
            raise forms.ValidationError("Date of birth is in the future: check the year.")
        if today.year - born.year > OLDEST_PLAUSIBLE_AGE_YEARS:
            raise forms.ValidationError(
                f"Date of birth is more than {OLDEST_PLAUSIBLE_AGE_YEARS} years ago: check the year."
            )
        return born

    def clean_status(self) -> str:
        """Only the moves patients.status allows by hand (never eligible or ineligible)."""
        status = self.cleaned_data["status"]
        reason = status_rules.refusal(self.instance if self.instance.pk else None, status)
        if reason:
            raise forms.ValidationError(reason)
        return status

    def validate_unique(self) -> None:
        # The clinic is not a form field, so MRN uniqueness is checked in clean_mrn.
        pass

    def changed_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.changed_data}


class ConditionForm(forms.Form):
    code = forms.CharField(
        label="Diagnosis (ICD-10-CM code)", max_length=12,
        widget=forms.TextInput(attrs={"list": "diagnosis-codes", "autocomplete": "off",
                                      "placeholder": "e.g. F33.1", "spellcheck": "false"}),
        help_text="Any ICD-10-CM code. The diagnoses the clinic treats most are suggested as you type.",
    )
    treatment_resistant = forms.BooleanField(
        required=False, label="Treatment-resistant",
        help_text="Major depression only: at least two adequate antidepressant trials have failed.",
    )
    note = forms.CharField(required=False, max_length=500)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, free_text=("note",))

    @property
    def suggestions(self) -> list[tuple[str, str]]:
        """(code, 'code description') for the codes the reference lists, for the datalist."""
        return [(d.code, f"{d.code} {d.display}") for d in diagnoses().listed()]

    def clean_code(self) -> str:
        written = self.cleaned_data["code"]
        diagnosis = diagnoses().get(written)
        if diagnosis is None:
            raise forms.ValidationError(
                f"“{written}” is not an ICD-10-CM code ({diagnoses().code_set}). Write it as a letter, "
                "two digits, a dot and up to four more characters, e.g. F33.1.")
        if not diagnosis.billable:
            raise forms.ValidationError(diagnosis.heading_message())
        return diagnosis.code

    def clean(self):
        data = super().clean()
        diagnosis = diagnoses().get(data.get("code", ""))
        if diagnosis and data.get("treatment_resistant") and not diagnosis.is_depression:
            self.add_error("treatment_resistant",
                           "Only a major depressive disorder diagnosis (F32.x or F33.x) can be "
                           "treatment-resistant.")
        return data


class EnteredInErrorForm(forms.Form):
    reason = forms.CharField(max_length=500, label="Why was this entered in error?")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        text.guard(self, free_text=("reason",))


class PatientSearchForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=MAX_QUERY_CHARS,
                        help_text="Name, MRN or date of birth (YYYY-MM-DD)")
    status = forms.ChoiceField(required=False)
    member = forms.TypedChoiceField(required=False, coerce=int, empty_value=None,
                                    label="Care team member")

    def __init__(self, *args, clinic: Clinic, **kwargs):
        super().__init__(*args, **kwargs)
        from kapclinic.patients.models import Status

        self.fields["status"].choices = [("", "Any status"), *Status.choices]
        staff = (clinic_staff(clinic, Role.PRESCRIBER) | clinic_staff(clinic, Role.THERAPIST))
        self.fields["member"].choices = [("", "Anyone")] + [
            (user.pk, user.display_name) for user in staff.distinct()
        ]
