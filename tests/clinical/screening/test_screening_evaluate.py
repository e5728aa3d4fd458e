"""evaluate(): status precedence, missing information, medications, populations, settings,
intake validation."""

from __future__ import annotations

from datetime import date

import pytest
from screening_cases import AGE_16, AGE_70, AS_OF, BASE, hist, intake

from kapclinic.clinical.screening import (
    IntakeError,
    ScreeningInputError,
    SettingsError,
    age_on,
    default_settings,
    evaluate,
    load_ruleset,
)


def _ids(decision):
    return {r.id for r in decision.rules}


# ---- status precedence (issue 4) -----------------------------------------------------------

def test_any_exclude_makes_the_patient_not_eligible_even_with_reviews_cautions_and_missing_data():
    data = intake(**hist(aneurysmal_vascular_disease=True, psychosis=True), medications=["Xanax"])
    del data["audit_total"]
    decision = evaluate(data, "esketamine", as_of=AS_OF)
    assert decision.status == "not_eligible"
    assert {r.severity for r in decision.rules} == {"exclude", "review", "caution"}
    assert decision.missing == ("audit_total",)


def test_a_review_without_exclude_needs_review_even_with_cautions():
    decision = evaluate(intake(**hist(psychosis=True), medications=["Xanax"]), as_of=AS_OF)
    assert decision.status == "needs_review"


def test_missing_information_alone_needs_review_even_when_only_cautions_fired():
    data = intake(medications=["Xanax"])
    data["spo2_pct"] = None
    decision = evaluate(data, as_of=AS_OF)
    assert decision.status == "needs_review"
    assert decision.missing == ("spo2_pct",)
    assert decision.missing_for["spo2_pct"] == ("baseline_spo2_low",)


def test_cautions_alone_make_the_patient_eligible_with_cautions():
    assert evaluate(intake(medications=["Xanax"]), as_of=AS_OF).status == "eligible_with_cautions"


def test_nothing_fired_and_nothing_missing_is_eligible():
    assert evaluate(BASE, as_of=AS_OF).status == "eligible"


def test_fired_rules_are_listed_most_severe_first_then_by_id():
    decision = evaluate(intake(**hist(aneurysmal_vascular_disease=True, psychosis=True),
                               medications=["Xanax"]), "esketamine", as_of=AS_OF)
    ranks = [{"exclude": 0, "review": 1, "caution": 2}[r.severity] for r in decision.rules]
    assert ranks == sorted(ranks)


# ---- missing information ------------------------------------------------------------------

def test_an_absent_key_and_a_null_value_are_both_missing():
    absent = dict(BASE)
    del absent["pregnant"]
    null = intake(pregnant=None)
    for data in (absent, null):
        decision = evaluate(data, as_of=AS_OF)
        assert decision.status == "needs_review"
        assert decision.missing == ("pregnant",)


def test_an_absent_history_object_makes_every_history_answer_missing():
    data = dict(BASE)
    del data["history"]
    decision = evaluate(data, as_of=AS_OF)
    assert "history.psychosis" in decision.missing and decision.status == "needs_review"


def test_an_empty_intake_needs_review_listing_what_is_missing_never_eligible():
    decision = evaluate({}, "esketamine", as_of=AS_OF)
    assert decision.status == "needs_review"
    assert {"date_of_birth", "medications", "diagnoses", "sbp_mmhg", "pregnant"} <= set(decision.missing)


def test_a_missing_input_a_fired_rule_does_not_need_is_still_reported():
    decision = evaluate(intake(sbp_mmhg=None, dbp_mmhg=95), as_of=AS_OF)
    assert "ketamine_elevated_baseline_bp" in _ids(decision)
    assert "sbp_mmhg" in decision.missing


def test_fields_no_rule_uses_are_not_reported_missing():
    data = dict(BASE)
    for key in ("weight_kg", "height_cm", "sex_at_birth"):
        del data[key]
    assert evaluate(data, as_of=AS_OF).status == "eligible"


def test_a_disabled_rule_does_not_make_its_inputs_missing():
    data = intake(spo2_pct=None)
    decision = evaluate(data, settings={"disabled_rules": ["baseline_spo2_low"]}, as_of=AS_OF)
    assert decision.status == "eligible"


# ---- medications (clinical.md 3.3 / 3.6) --------------------------------------------------

def test_an_unrecognised_medication_needs_review_naming_it_per_clinical_md_3_6():
    decision = evaluate(intake(medications=["sertraline", "Frobnizol 20 mg"]), as_of=AS_OF)
    assert decision.status == "needs_review"
    assert decision.unrecognised_medications == ("Frobnizol 20 mg",)
    fired = {r.id: r for r in decision.rules}["medication_not_recognised"]
    assert fired.details == ("Frobnizol 20 mg (not recognised)",)


@pytest.mark.parametrize("names, rule_id", [
    (("lorazepam", "LORAZEPAM", "Ativan", "aTiVaN"), "medication_benzodiazepine"),
    (("clonazepam", "Klonopin"), "medication_benzodiazepine"),
    (("lamotrigine", "Lamictal"), "medication_lamotrigine"),
    (("naltrexone", "Vivitrol", "REVIA"), "medication_naltrexone"),
    (("oxycodone", "OxyContin", "pregabalin", "Lyrica", "zolpidem", "Ambien"), "medication_cns_depressant"),
    (("phenelzine", "Nardil", "methylphenidate", "Ritalin", "amfetamine", "amphetamine"),
     "medication_stimulant_or_maoi"),
    (("carbamazepine", "Tegretol", "rifampicin", "rifampin", "st john's wort", "St John\u2019s Wort"),
     "medication_cyp_inducer"),
])
def test_brand_and_generic_names_match_the_same_clinical_md_3_6_class_case_insensitively(names, rule_id):
    for name in names:
        decision = evaluate(intake(medications=[name]), as_of=AS_OF)
        assert rule_id in _ids(decision), name
        assert decision.unrecognised_medications == ()


def test_a_trailing_strength_does_not_stop_a_medication_matching():
    decision = evaluate(intake(medications=["Sertraline 100 mg daily", "lorazepam 0.5mg"]), as_of=AS_OF)
    assert decision.unrecognised_medications == ()
    assert "medication_benzodiazepine" in _ids(decision)


def test_a_benzodiazepine_fires_both_its_clinical_md_3_3_considerations():
    decision = evaluate(intake(medications=["diazepam"]), as_of=AS_OF)
    assert {"medication_benzodiazepine", "medication_cns_depressant"} <= _ids(decision)


def test_recognised_medications_without_a_consideration_fire_nothing_per_clinical_md_3_6():
    decision = evaluate(intake(medications=["Zoloft", "bupropion", "lithium", "Lexapro"]), as_of=AS_OF)
    assert decision.status == "eligible"


def test_the_decision_says_how_each_medication_was_matched():
    decision = evaluate(intake(medications=["Xanax"]), as_of=AS_OF)
    assert decision.medications == ("Xanax = alprazolam (Benzodiazepines, anxiolytic, N05BA12)",)


def test_every_medication_rule_says_what_to_do():
    for rule in load_ruleset().rules:
        if rule.id.startswith("medication_"):
            assert rule.action


def test_an_empty_medication_list_is_known_none_not_missing():
    assert evaluate(intake(medications=[]), as_of=AS_OF).status == "eligible"


# ---- populations (clinical.md 3.5) --------------------------------------------------------

def test_age_is_computed_against_the_evaluation_date():
    assert age_on(date(2008, 6, 2), date(2026, 6, 1)) == 17
    assert age_on(date(2008, 6, 1), date(2026, 6, 1)) == 18
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17


def test_a_patient_turning_18_tomorrow_is_still_a_minor_today_per_clinical_md_3_5():
    data = intake(date_of_birth="2008-06-02")
    assert "minor_guardian_consent" in _ids(evaluate(data, as_of=AS_OF))
    assert "minor_guardian_consent" not in _ids(evaluate(data, as_of=date(2026, 6, 2)))


def test_esketamine_under_18_is_not_eligible_and_asks_for_guardian_consent_per_clinical_md_3_4_and_3_5():
    decision = evaluate(intake(date_of_birth=AGE_16), "esketamine", as_of=AS_OF)
    assert decision.status == "not_eligible"
    assert {"esketamine_under_18_not_approved", "minor_guardian_consent"} <= _ids(decision)


def test_racemic_ketamine_under_18_needs_review_with_guardian_consent():
    decision = evaluate(intake(date_of_birth=AGE_16), "ketamine", as_of=AS_OF)
    assert decision.status == "needs_review"
    assert "esketamine_under_18_not_approved" not in _ids(decision)


def test_esketamine_at_65_gets_the_28_mg_starting_dose_caution_per_clinical_md_3_4():
    decision = evaluate(intake(date_of_birth="1961-06-01"), "esketamine", as_of=AS_OF)
    assert decision.age_years == 65
    assert decision.status == "eligible_with_cautions"
    assert "28 mg" in {r.id: r for r in decision.rules}["esketamine_65_and_over_starting_dose"].message
    younger = evaluate(intake(date_of_birth="1961-06-02"), "esketamine", as_of=AS_OF)
    assert "esketamine_65_and_over_starting_dose" not in _ids(younger)


# ---- thresholds at their edges -------------------------------------------------------------

def test_the_esketamine_bp_figure_from_clinical_md_3_4_is_strictly_above_140_over_90():
    assert "esketamine_elevated_baseline_bp" not in _ids(
        evaluate(intake(sbp_mmhg=140, dbp_mmhg=90), "esketamine", as_of=AS_OF))
    assert "esketamine_elevated_baseline_bp" in _ids(
        evaluate(intake(sbp_mmhg=141, dbp_mmhg=90), "esketamine", as_of=AS_OF))


def test_two_adequate_trials_meet_the_trd_definition_of_clinical_md_6_1():
    assert "ketamine_trd_trials_not_met" not in _ids(evaluate(intake(adequate_antidepressant_trials=2),
                                                              as_of=AS_OF))
    assert "ketamine_trd_trials_not_met" in _ids(evaluate(intake(adequate_antidepressant_trials=1),
                                                          as_of=AS_OF))


def test_the_trial_count_rule_does_not_apply_without_a_depression_diagnosis():
    decision = evaluate(intake(diagnoses=["F43.10"], adequate_antidepressant_trials=0), as_of=AS_OF)
    assert "ketamine_trd_trials_not_met" not in _ids(decision)


def test_an_empty_diagnosis_list_is_outside_mdd():
    decision = evaluate(intake(diagnoses=[]), "esketamine", as_of=AS_OF)
    assert {r.id: r for r in decision.rules}["esketamine_outside_labelled_indication"].details == \
        ("no diagnosis recorded",)


# ---- clinic settings ----------------------------------------------------------------------

def test_a_clinic_can_tighten_a_threshold():
    data = intake(sbp_mmhg=135)
    assert evaluate(data, as_of=AS_OF).status == "eligible"
    tight = evaluate(data, settings={"thresholds": {"ketamine_baseline_sbp_mmhg": 130}}, as_of=AS_OF)
    assert tight.status == "needs_review"
    assert tight.settings_changed == {"thresholds": {"ketamine_baseline_sbp_mmhg": 130.0}}


def test_a_clinic_can_relax_a_threshold():
    data = intake(adequate_antidepressant_trials=1)
    relaxed = evaluate(data, settings={"thresholds": {"min_adequate_antidepressant_trials": 1}}, as_of=AS_OF)
    assert relaxed.status == "eligible"


def test_a_clinic_can_make_a_policy_rule_stricter_or_milder():
    data = intake(**hist(psychosis=True))
    assert evaluate(data, settings={"rule_severity": {"psychosis_history": "exclude"}},
                    as_of=AS_OF).status == "not_eligible"
    assert evaluate(data, settings={"rule_severity": {"psychosis_history": "caution"}},
                    as_of=AS_OF).status == "eligible_with_cautions"


def test_a_locked_label_contraindication_cannot_be_relaxed_or_disabled():
    with pytest.raises(SettingsError) as err:
        evaluate(BASE, settings={"rule_severity": {"esketamine_intracerebral_hemorrhage": "review"}},
                 as_of=AS_OF)
    assert err.value.field == "rule_severity.esketamine_intracerebral_hemorrhage"
    with pytest.raises(SettingsError) as err:
        evaluate(BASE, settings={"disabled_rules": ["esketamine_under_18_not_approved"]}, as_of=AS_OF)
    assert err.value.field == "disabled_rules[0]"


@pytest.mark.parametrize("settings, field", [
    ({"thresholds": {"nope": 1}}, "thresholds.nope"),
    ({"thresholds": {"ketamine_baseline_sbp_mmhg": 400}}, "thresholds.ketamine_baseline_sbp_mmhg"),
    ({"thresholds": {"ketamine_baseline_sbp_mmhg": "140"}}, "thresholds.ketamine_baseline_sbp_mmhg"),
    ({"thresholds": {"min_adequate_antidepressant_trials": 1.5}},
     "thresholds.min_adequate_antidepressant_trials"),
    ({"rule_severity": {"nope": "review"}}, "rule_severity.nope"),
    ({"rule_severity": {"psychosis_history": "block"}}, "rule_severity.psychosis_history"),
    ({"disabled_rules": ["nope"]}, "disabled_rules[0]"),
    ({"disabled_rules": "psychosis_history"}, "disabled_rules"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_settings_are_refused_naming_the_setting(settings, field):
    with pytest.raises(SettingsError) as err:
        evaluate(BASE, settings=settings, as_of=AS_OF)
    assert err.value.field == field
    assert isinstance(err.value, ValueError)


def test_every_threshold_has_a_labelled_default_with_its_source():
    settings = default_settings(load_ruleset())
    assert "min_adequate_antidepressant_trials" in settings
    for spec in settings.values():
        assert spec["label"] and spec["default_source"] and spec["min"] <= spec["default"] <= spec["max"]


# ---- intake validation (clinical.md 4.4) ---------------------------------------------------

@pytest.mark.parametrize("patch, field", [
    ({"weight_kg": 0}, "weight_kg"),
    ({"weight_kg": 700}, "weight_kg"),
    ({"height_cm": 20}, "height_cm"),
    ({"sbp_mmhg": 20, "dbp_mmhg": 10}, "sbp_mmhg"),
    ({"dbp_mmhg": 300}, "dbp_mmhg"),
    ({"sbp_mmhg": 120, "dbp_mmhg": 120}, "dbp_mmhg"),
    ({"heart_rate_bpm": 300}, "heart_rate_bpm"),
    ({"spo2_pct": 101}, "spo2_pct"),
    ({"temp_c": 50}, "temp_c"),
    ({"resp_rate_per_min": 1}, "resp_rate_per_min"),
    ({"audit_total": 41}, "audit_total"),
    ({"audit_total": 7.5}, "audit_total"),
    ({"adequate_antidepressant_trials": -1}, "adequate_antidepressant_trials"),
    ({"date_of_birth": "2030-01-01"}, "date_of_birth"),
    ({"date_of_birth": "1980-02-30"}, "date_of_birth"),
    ({"date_of_birth": "02/04/1980"}, "date_of_birth"),
    ({"diagnoses": ["F33.2", "F99.99"]}, "diagnoses[1]"),
    ({"diagnoses": "F33.2"}, "diagnoses"),
    ({"weight_kg": "70"}, "weight_kg"),
    ({"weight_kg": True}, "weight_kg"),
    ({"weight_kg": float("nan")}, "weight_kg"),
    ({"pregnant": "no"}, "pregnant"),
    ({"sex_at_birth": "F"}, "sex_at_birth"),
    ({"medications": ["sertraline", ""]}, "medications[1]"),
    ({"medications": "sertraline"}, "medications"),
    ({"history": ["psychosis"]}, "history"),
    ({"history": {"psychosis": "yes"}}, "history.psychosis"),
    ({"history": {"headaches": False}}, "history.headaches"),
    ({"goals": "feel better"}, "goals"),
])
def test_impossible_values_unknown_keys_and_wrong_types_are_refused_naming_the_field(patch, field):
    with pytest.raises(IntakeError) as err:
        evaluate(intake(**patch), as_of=AS_OF)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")
    assert isinstance(err.value, ValueError)


def test_an_intake_that_is_not_an_object_is_refused():
    with pytest.raises(IntakeError):
        evaluate(["not", "an", "object"], as_of=AS_OF)  # type: ignore[arg-type]


def test_values_outside_the_soft_range_are_kept_with_a_warning_per_clinical_md_4_4():
    decision = evaluate(intake(weight_kg=260), as_of=AS_OF)
    assert decision.status == "eligible"
    assert decision.warnings[0].startswith("weight_kg 260 kg is outside the usual range 35-250")


def test_diagnosis_codes_are_matched_case_insensitively():
    assert evaluate(intake(diagnoses=["f33.2"]), as_of=AS_OF).status == "eligible"


def test_an_unknown_drug_or_route_is_refused_naming_it():
    with pytest.raises(ScreeningInputError) as err:
        evaluate(BASE, "arketamine", as_of=AS_OF)
    assert err.value.field == "drug"
    with pytest.raises(ScreeningInputError) as err:
        evaluate(BASE, "ketamine", "rectal", as_of=AS_OF)
    assert err.value.field == "route"


def test_the_decision_carries_the_rule_set_version_and_evaluation_date():
    decision = evaluate(BASE, as_of=AS_OF)
    assert decision.ruleset_version == load_ruleset().version
    assert decision.to_dict()["evaluated_on"] == "2026-06-01"


def test_the_evaluation_date_defaults_to_today():
    assert evaluate(BASE).evaluated_on == date.today()


def test_an_elderly_racemic_patient_with_route_unset_gets_the_iv_caution_per_clinical_md_3_5():
    decision = evaluate(intake(date_of_birth=AGE_70), "ketamine", None, as_of=AS_OF)
    assert decision.status == "eligible_with_cautions"


def test_every_field_a_rule_may_compare_has_words_and_a_match_reads_as_a_clinician_writes_it():
    from kapclinic.clinical.screening.schema import COMPARABLE_FIELDS, FIELD_WORDS, comparison_words

    assert set(COMPARABLE_FIELDS) <= set(FIELD_WORDS)
    assert comparison_words("age_years", 71, ">=", 65) == "Age 71 years (at or above 65 years)"
    assert comparison_words("sbp_mmhg", 182, ">", 180) == "Systolic blood pressure 182 mmHg (above 180 mmHg)"
    assert comparison_words("weight_kg", 150.123, ">", 150) == "Weight 150.12 kg (above 150 kg)"
    assert comparison_words("audit_total", 1234567, ">=", 8) == "AUDIT total 1234567 (at or above 8)"
