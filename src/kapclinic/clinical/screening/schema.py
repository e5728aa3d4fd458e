"""The intake fields the screening core understands, with their kinds.

Dotted names (``history.psychosis``) are keys of the nested ``history`` object. ``age_years``
is not an intake key: rules compare it, and it is computed from ``date_of_birth``.
"""

from __future__ import annotations

HISTORY_KEYS = (
    "psychosis", "mania", "aneurysmal_vascular_disease", "arteriovenous_malformation",
    "intracerebral_hemorrhage", "hypertension", "uncontrolled_hypertension", "cardiovascular_disease",
    "raised_intracranial_pressure", "raised_intraocular_pressure", "seizures", "liver_disease",
    "bladder_symptoms", "sleep_apnea", "ketamine_misuse", "substance_use_disorder",
    "suicide_attempt_past_year", "acute_suicidal_ideation_or_behaviour",
)

# each history answer as the intake form asks it (the screening page and `kapclinic screen`
# name a field the same way)
HISTORY_LABELS: dict[str, str] = {
    "psychosis": "Psychosis (ever)", "mania": "Mania or hypomania (ever)",
    "aneurysmal_vascular_disease": "Aneurysmal vascular disease (brain, chest, abdomen, limbs)",
    "arteriovenous_malformation": "Arteriovenous malformation",
    "intracerebral_hemorrhage": "Intracerebral haemorrhage (ever)",
    "hypertension": "High blood pressure (ever, controlled or not)",
    "uncontrolled_hypertension": "High blood pressure that is not controlled",
    "cardiovascular_disease": "Heart or blood-vessel disease", "raised_intracranial_pressure":
    "Raised intracranial pressure", "raised_intraocular_pressure": "Raised eye pressure (glaucoma)",
    "seizures": "Seizures", "liver_disease": "Liver disease", "bladder_symptoms":
    "Bladder symptoms (pain, urgency, blood)", "sleep_apnea": "Sleep apnoea",
    "ketamine_misuse": "Ketamine misuse (ever)", "substance_use_disorder":
    "Other substance use disorder", "suicide_attempt_past_year": "Suicide attempt in the past year",
    "acute_suicidal_ideation_or_behaviour":
    "Acute suicidal ideation or behaviour now (major depression with acute suicidality)",
}

SEX_AT_BIRTH = ("female", "male", "intersex", "unknown")

# field -> kind: date | choice | number | count | score | bool | codes | names
INPUT_FIELDS: dict[str, str] = {
    "date_of_birth": "date",
    "sex_at_birth": "choice",
    "weight_kg": "number",
    "height_cm": "number",
    "sbp_mmhg": "number",
    "dbp_mmhg": "number",
    "heart_rate_bpm": "number",
    "spo2_pct": "number",
    "resp_rate_per_min": "number",
    "temp_c": "number",
    "diagnoses": "codes",
    "adequate_antidepressant_trials": "count",
    "pregnant": "bool",
    "breastfeeding": "bool",
    "medications": "names",
    "hypersensitivities": "names",
    "audit_total": "score",
    **{f"history.{key}": "bool" for key in HISTORY_KEYS},
}

TOP_LEVEL_KEYS = frozenset({name for name in INPUT_FIELDS if "." not in name} | {"history"})

# What each numeric intake field is called, with its unit: the intake form's labels and a
# matched rule's words both read it (one table, so the two never disagree).
FIELD_WORDS = {"age_years": ("Age", "years"), "weight_kg": ("Weight", "kg"), "height_cm": ("Height", "cm"),
               "sbp_mmhg": ("Systolic blood pressure", "mmHg"),
               "dbp_mmhg": ("Diastolic blood pressure", "mmHg"),
               "heart_rate_bpm": ("Heart rate", "beats/min"), "spo2_pct": ("SpO₂", "%"),
               "resp_rate_per_min": ("Respiratory rate", "breaths/min"), "temp_c": ("Temperature", "°C"),
               "adequate_antidepressant_trials": ("Adequate antidepressant trials", ""),
               "audit_total": ("AUDIT total", "")}
COMPARISON_WORDS = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}


def field_label(field: str) -> str:
    """A numeric field as a form labels it: "Weight (kg)"."""
    label, unit = FIELD_WORDS.get(field, (field.replace("_", " ").capitalize(), ""))
    return f"{label} ({unit})" if unit else label


def comparison_words(field: str, value: float, op: str, limit: float) -> str:
    """A rule's comparison as a clinician reads it: "Age 71 years (at or above 65 years)"."""
    label, unit = FIELD_WORDS.get(field, (field.replace("_", " ").capitalize(), ""))
    return f"{label} {_measured(value, unit)} ({COMPARISON_WORDS[op]} {_measured(limit, unit)})"


def _measured(number: float, unit: str) -> str:
    return f"{_figure(number)}{'' if unit in ('', '%') else ' '}{unit}"


def _figure(number: float) -> str:
    """Up to two decimals, no exponent: 150.12, 71, 1234567."""
    return f"{number:.2f}".rstrip("0").rstrip(".")


# Fields a rule may compare with a number.
COMPARABLE_FIELDS = tuple(sorted(
    [name for name, kind in INPUT_FIELDS.items() if kind in ("number", "count", "score")] + ["age_years"]
))
