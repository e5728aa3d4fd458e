"""Shared intake and the trigger of every shipped rule, for the screening tests."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

AS_OF = date(2026, 6, 1)

# The example intake: eligible for both drugs on AS_OF (age 46).
BASE: dict[str, Any] = {
    "date_of_birth": "1980-04-02", "sex_at_birth": "female", "weight_kg": 70, "height_cm": 170,
    "sbp_mmhg": 128, "dbp_mmhg": 82, "heart_rate_bpm": 72, "spo2_pct": 98,
    "diagnoses": ["F33.2"], "adequate_antidepressant_trials": 2,
    "history": {"psychosis": False, "mania": False, "aneurysmal_vascular_disease": False,
                "arteriovenous_malformation": False, "intracerebral_hemorrhage": False,
                "hypertension": False, "uncontrolled_hypertension": False, "cardiovascular_disease": False,
                "raised_intracranial_pressure": False, "raised_intraocular_pressure": False,
                "seizures": False, "liver_disease": False, "bladder_symptoms": False, "sleep_apnea": False,
                "ketamine_misuse": False,
                "substance_use_disorder": False, "suicide_attempt_past_year": False,
                "acute_suicidal_ideation_or_behaviour": False},
    "pregnant": False, "breastfeeding": False,
    "medications": ["sertraline"], "hypersensitivities": [], "audit_total": 3,
}

AGE_16 = "2010-01-01"
AGE_20 = "2006-01-01"
AGE_70 = "1956-01-01"


def intake(**patch: Any) -> dict[str, Any]:
    """BASE with ``patch`` applied; a ``history`` patch is merged into BASE's history."""
    out = copy.deepcopy(BASE)
    for key, value in patch.items():
        if key == "history" and isinstance(value, dict):
            out["history"].update(value)
        else:
            out[key] = value
    return out


def hist(**flags: bool) -> dict[str, Any]:
    return {"history": flags}


# rule id -> (drug, route, patch) that makes exactly that rule's trigger present.
TRIGGERS: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "esketamine_aneurysmal_vascular_disease": ("esketamine", None, hist(aneurysmal_vascular_disease=True)),
    "esketamine_arteriovenous_malformation": ("esketamine", None, hist(arteriovenous_malformation=True)),
    "esketamine_intracerebral_hemorrhage": ("esketamine", None, hist(intracerebral_hemorrhage=True)),
    "esketamine_ketamine_hypersensitivity": ("esketamine", None, {"hypersensitivities": ["KETAMINE"]}),
    "esketamine_other_hypersensitivity_excipients": ("esketamine", None,
                                                     {"hypersensitivities": ["penicillin"]}),
    "esketamine_under_18_not_approved": ("esketamine", None, {"date_of_birth": AGE_16}),
    "esketamine_age_24_or_under_class_warning": ("esketamine", None, {"date_of_birth": AGE_20}),
    "esketamine_65_and_over_starting_dose": ("esketamine", None, {"date_of_birth": AGE_70}),
    "esketamine_pregnancy": ("esketamine", None, {"pregnant": True}),
    "esketamine_breastfeeding": ("esketamine", None, {"breastfeeding": True}),
    "esketamine_outside_labelled_indication": ("esketamine", None, {"diagnoses": ["F41.1"]}),
    "esketamine_trd_trials_not_met": ("esketamine", None, {
        "adequate_antidepressant_trials": 1, "diagnoses": ["F33.2"],
        "history": {"acute_suicidal_ideation_or_behaviour": False}}),
    "esketamine_elevated_baseline_bp": ("esketamine", None, {"sbp_mmhg": 150}),
    "esketamine_suicidal_behaviour_boxed_warning": ("esketamine", None, hist(suicide_attempt_past_year=True)),
    "esketamine_hepatic_impairment": ("esketamine", None, hist(liver_disease=True)),
    "ketamine_aneurysmal_vascular_disease": ("ketamine", None, hist(aneurysmal_vascular_disease=True)),
    "ketamine_arteriovenous_malformation": ("ketamine", None, hist(arteriovenous_malformation=True)),
    "ketamine_intracerebral_hemorrhage": ("ketamine", None, hist(intracerebral_hemorrhage=True)),
    "ketamine_hypersensitivity": ("ketamine", None, {"hypersensitivities": ["Ketalar"]}),
    "ketamine_other_hypersensitivity_excipients": ("ketamine", None, {"hypersensitivities": ["latex"]}),
    "esketamine_raised_intracranial_pressure": ("esketamine", None, hist(raised_intracranial_pressure=True)),
    "esketamine_sleep_apnea_respiratory_depression": ("esketamine", None, hist(sleep_apnea=True)),
    "ketamine_sleep_apnea_respiratory_monitoring": ("ketamine", None, hist(sleep_apnea=True)),
    "bladder_symptoms": ("ketamine", None, hist(bladder_symptoms=True)),
    "ketamine_hypersensitivity_unclear": ("ketamine", None, {"hypersensitivities": ["ketamine? not sure"]}),
    "esketamine_hypersensitivity_unclear": ("esketamine", None,
                                            {"hypersensitivities": ["denies Spravato allergy"]}),
    "esketamine_acute_suicidality_without_oral_antidepressant": ("esketamine", None, {
        "medications": [], "history": {"acute_suicidal_ideation_or_behaviour": True}}),
    "other_mental_disorder_diagnosis": ("ketamine", None, {"diagnoses": ["F33.2", "F10.90"]}),
    "bipolar_disorder_diagnosis": ("ketamine", None, {"diagnoses": ["F33.2", "F31.81"]}),
    "psychotic_disorder_diagnosis": ("esketamine", None, {"diagnoses": ["F33.2", "F20.0"]}),
    "ketamine_diagnosis_outside_mdd": ("ketamine", None, {"diagnoses": ["F43.10"]}),
    "ketamine_trd_trials_not_met": ("ketamine", None, {"adequate_antidepressant_trials": 0,
                                                        "diagnoses": ["F32.2"]}),
    "ketamine_elevated_baseline_bp": ("ketamine", None, {"dbp_mmhg": 95}),
    "ketamine_pregnancy": ("ketamine", None, {"pregnant": True}),
    "ketamine_breastfeeding": ("ketamine", None, {"breastfeeding": True}),
    "ketamine_older_adult_iv_bp_surge": ("ketamine", "iv-infusion", {"date_of_birth": AGE_70}),
    "ketamine_hypertension_iv_bp_surge": ("ketamine", "iv-infusion", hist(hypertension=True)),
    "minor_guardian_consent": ("ketamine", None, {"date_of_birth": AGE_16}),
    "psychosis_history": ("ketamine", None, hist(psychosis=True)),
    "mania_history": ("esketamine", None, hist(mania=True)),
    "depression_with_psychotic_features": ("ketamine", None, {"diagnoses": ["F33.3"]}),
    "substance_use_history": ("ketamine", None, hist(ketamine_misuse=True)),
    "uncontrolled_hypertension": ("esketamine", None, hist(uncontrolled_hypertension=True)),
    "cardiovascular_disease": ("ketamine", None, hist(cardiovascular_disease=True)),
    "ketamine_raised_intracranial_pressure": ("ketamine", None, hist(raised_intracranial_pressure=True)),
    "raised_intraocular_pressure": ("esketamine", None, hist(raised_intraocular_pressure=True)),
    "hepatic_disease": ("ketamine", None, hist(liver_disease=True)),
    "baseline_sbp_low": ("ketamine", None, {"sbp_mmhg": 85, "dbp_mmhg": 55}),
    "baseline_spo2_low": ("ketamine", None, {"spo2_pct": 93}),
    "baseline_heart_rate_out_of_range": ("ketamine", None, {"heart_rate_bpm": 130}),
    "alcohol_use_additive_sedation": ("ketamine", None, {"audit_total": 12}),
    "medication_benzodiazepine": ("ketamine", None, {"medications": ["Xanax"]}),
    "medication_lamotrigine": ("ketamine", None, {"medications": ["lamotrigine"]}),
    "medication_naltrexone": ("esketamine", None, {"medications": ["Naltrexone"]}),
    "medication_cns_depressant": ("ketamine", None, {"medications": ["zolpidem"]}),
    "medication_stimulant_or_maoi": ("ketamine", None, {"medications": ["Adderall"]}),
    "medication_cyp_inducer": ("ketamine", None, {"medications": ["St John's Wort"]}),
    "medication_not_recognised": ("ketamine", None, {"medications": ["zzz-unknown-pill"]}),
}
