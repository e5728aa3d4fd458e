"""The intake form: what the coordinator (or the patient) types, and the intake the rules read.

Demographics and diagnoses come from the patient's record, not the form, so the
two can never disagree. Narrative answers (goals, prior treatments) are kept in
the draft for the prescriber; the rules read only the fields they understand.
"""

from __future__ import annotations

from typing import Any

from django import forms

from kapclinic.clinical import screening as rules
from kapclinic.clinical.screening import DRUGS, ROUTES
from kapclinic.clinical.screening.intake import MAX_COUNT
from kapclinic.clinical.screening.schema import FIELD_WORDS, HISTORY_KEYS, HISTORY_LABELS, field_label
from kapclinic.patients.models import Patient
from kapclinic.platform import text
from kapclinic.platform.labels import DRUG_LABELS, ROUTE_LABELS

# Engineering limits on what an intake answer may hold (not clinical facts): a narrative or
# list answer, and a whole draft (each autosave keeps a revision of it).
FIELD_MAX_CHARS = 5_000
DRAFT_MAX_CHARS = 50_000

TRI_STATE = [("", "Not asked yet"), ("no", "No"), ("yes", "Yes"), ("unknown", "Not known")]
MEDICAL = ("aneurysmal_vascular_disease", "arteriovenous_malformation", "intracerebral_hemorrhage",
           "hypertension", "uncontrolled_hypertension", "cardiovascular_disease",
           "raised_intracranial_pressure",
           "raised_intraocular_pressure", "seizures", "liver_disease", "bladder_symptoms",
           "sleep_apnea")
PSYCHIATRIC = ("psychosis", "mania", "suicide_attempt_past_year", "acute_suicidal_ideation_or_behaviour")
SUBSTANCE = ("ketamine_misuse", "substance_use_disorder")
NUMBERS = {name: field_label(name)
           for name in ("weight_kg", "height_cm", "sbp_mmhg", "dbp_mmhg", "heart_rate_bpm", "spo2_pct")}
NARRATIVE = {
    "prior_treatments": "Prior treatments (medications, psychotherapy) and how they went",
    "ect": "ECT: when and how it went", "prior_ketamine": "Prior ketamine: when and how it went",
    "allergies_notes": "Other allergy details", "goals": "Goals for therapy",
}


def history_field(key: str) -> str:
    return f"history_{key}"


def intake_field_label(name: str) -> str:
    """The question a clinician reads for an intake field the rules name ('history.mania')."""
    other = {"date_of_birth": "Date of birth", "sex_at_birth": "Sex at birth", "diagnoses": "Diagnoses",
             "pregnant": "Pregnant", "breastfeeding": "Breastfeeding",
             "medications": "Current medications", "hypersensitivities": "Allergies and hypersensitivities"}
    key = name.removeprefix("history.")
    return (HISTORY_LABELS.get(key) or NUMBERS.get(name) or other.get(name)
            or (FIELD_WORDS[name][0] if name in FIELD_WORDS else key.replace("_", " ").capitalize()))


class IntakeForm(forms.Form):
    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient
        for name, label in NUMBERS.items():
            self.fields[name] = forms.FloatField(
                label=label, required=False,
                widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
        self.fields["adequate_antidepressant_trials"] = forms.IntegerField(
            label=field_label("adequate_antidepressant_trials"), required=False, min_value=0,
            max_value=MAX_COUNT,
            help_text=f"Courses at an adequate dose and duration that did not work "
                      f"(0 to {MAX_COUNT}).")
        for key in HISTORY_KEYS:
            self.fields[history_field(key)] = forms.ChoiceField(
                label=HISTORY_LABELS.get(key, key.replace("_", " ").capitalize()),
                choices=TRI_STATE, required=False)
        if self.asks_pregnancy:
            for key, label in (("pregnant", "Pregnant"), ("breastfeeding", "Breastfeeding")):
                self.fields[key] = forms.ChoiceField(label=label, choices=TRI_STATE,
                                                     required=False)
        self.fields["audit_total"] = forms.IntegerField(
            label=field_label("audit_total"), required=False, min_value=0, max_value=40,
            help_text="Alcohol Use Disorders Identification Test, 0 to 40.")
        self.fields["medications"] = forms.CharField(
            label="Current medications", required=False, widget=forms.Textarea(attrs={"rows": 4}),
            max_length=FIELD_MAX_CHARS,
            help_text="One per line, generic or brand name.")
        self.fields["hypersensitivities"] = forms.CharField(
            label="Allergies and hypersensitivities", required=False, max_length=FIELD_MAX_CHARS,
            widget=forms.Textarea(attrs={"rows": 2}), help_text="One per line; leave empty if none.")
        self.fields["no_hypersensitivities"] = forms.BooleanField(
            label="No known allergies or hypersensitivities", required=False)
        self.fields["no_medications"] = forms.BooleanField(
            label="Takes no medications", required=False)
        for name, label in NARRATIVE.items():
            self.fields[name] = forms.CharField(label=label, required=False,
                                                max_length=FIELD_MAX_CHARS,
                                                widget=forms.Textarea(attrs={"rows": 2}))
        text.guard(self, free_text=(*NARRATIVE, "medications", "hypersensitivities"))

    @property
    def asks_pregnancy(self) -> bool:
        """Not for a patient male at birth: the intake then answers no for them."""
        return self.patient.sex_at_birth != "male"

    def section(self, names) -> list:
        return [self[name] for name in names]

    @property
    def medical_fields(self):
        return self.section([history_field(k) for k in MEDICAL])

    @property
    def psychiatric_fields(self):
        return self.section(["adequate_antidepressant_trials",
                             *[history_field(k) for k in PSYCHIATRIC], "prior_treatments",
                             "ect", "prior_ketamine"])

    @property
    def body_fields(self):
        return self.section(list(NUMBERS))

    @property
    def substance_fields(self):
        return self.section(["audit_total", *[history_field(k) for k in SUBSTANCE]])

    def to_intake(self) -> dict[str, Any]:
        """The intake the rules read; an unanswered question is absent (missing), 'not known' null."""
        data = self.cleaned_data
        patient = self.patient
        intake: dict[str, Any] = {
            "date_of_birth": patient.date_of_birth.isoformat(),
            "sex_at_birth": patient.sex_at_birth,
            "diagnoses": sorted({c.code for c in patient.conditions.all() if c.is_active}),
        }
        for name in (*NUMBERS, "adequate_antidepressant_trials", "audit_total"):
            if data.get(name) is not None:
                intake[name] = data[name]
        history = {}
        for key in HISTORY_KEYS:
            answer = data.get(history_field(key), "")
            if answer:
                history[key] = {"yes": True, "no": False, "unknown": None}[answer]
        intake["history"] = history
        for key in ("pregnant", "breastfeeding"):
            if not self.asks_pregnancy:
                intake[key] = False
            elif data.get(key):
                intake[key] = {"yes": True, "no": False, "unknown": None}[data[key]]
        for key, none_box in (("medications", "no_medications"),
                              ("hypersensitivities", "no_hypersensitivities")):
            items = [line.strip() for line in data.get(key, "").splitlines() if line.strip()]
            if items or data.get(none_box):
                intake[key] = items
        return intake

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            rules.evaluate(self.to_intake())  # validates types and plausibility (clinical.md 4.4)
        except rules.IntakeError as exc:
            field = exc.field.replace("history.", "history_")
            self.add_error(field if field in self.fields else None, exc.message)
        return cleaned


class EvaluateForm(forms.Form):
    drug = forms.ChoiceField(choices=[(d, DRUG_LABELS[d]) for d in DRUGS])
    route = forms.ChoiceField(required=False, choices=[("", "Route not chosen yet")]
                              + [(r, ROUTE_LABELS[r]) for r in ROUTES])


class SignOffForm(forms.Form):
    decision = forms.ChoiceField(widget=forms.RadioSelect, choices=[
        ("accept", "Accept the decision"), ("eligible", "Override: eligible"),
        ("ineligible", "Override: ineligible")], label="Your decision")
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                             label="Reason", help_text="Required when you override.")

    def clean(self):
        data = super().clean()
        if data.get("decision") in ("eligible", "ineligible") and not data.get("reason", "").strip():
            self.add_error("reason", "Give the reason for overriding the decision.")
        return data


class ConsentSignForm(forms.Form):
    signed_name = forms.CharField(label="Full name, typed as signature", max_length=200)
    guardian_name = forms.CharField(label="Parent or guardian's full name", max_length=200,
                                    required=False, help_text="Required for patients under 18.")
    agree = forms.BooleanField(label="I have read and understood this consent and agree to it")


class ConsentWithdrawForm(forms.Form):
    reason = forms.CharField(label="Reason for withdrawal", widget=forms.Textarea(attrs={"rows": 2}),
                             required=False)


CONSENT_TEXT_MAX = 50_000  # characters (an engineering limit: about 20 printed pages)


class ConsentDocumentForm(forms.Form):
    title = forms.CharField(max_length=200, help_text="Up to 200 characters.")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 14}), max_length=CONSENT_TEXT_MAX,
                           help_text=f"Up to {CONSENT_TEXT_MAX:,} characters.")
