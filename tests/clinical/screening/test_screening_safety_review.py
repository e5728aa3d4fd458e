"""The clinical safety review's findings on eligibility screening, each pinned by the case that
exposed it: hypersensitivity read by ingredient, label contraindications as exclusions, the
fields no rule read, and every ICD-10-CM code."""

from __future__ import annotations

import pytest
from screening_cases import AS_OF, intake

from kapclinic.clinical.codes import diagnoses
from kapclinic.clinical.screening import RuleDefinitionError, SettingsError, evaluate, load_ruleset
from kapclinic.clinical.screening.definitions import parse_ingredients
from kapclinic.clinical.screening.hypersensitivity import read_hypersensitivity

INGREDIENTS = load_ruleset().ingredients


def fired(decision) -> dict[str, object]:
    return {r.id: r for r in decision.rules}


# ---- hypersensitivity, read by ingredient -------------------------------------------------


def test_an_allergy_to_ketamine_makes_racemic_ketamine_not_eligible():
    # Before the review this came back "eligible" with no rule fired.
    decision = evaluate(intake(hypersensitivities=["ketamine"]), "ketamine", as_of=AS_OF)
    assert decision.status == "not_eligible"
    assert "ketamine_hypersensitivity" in fired(decision)


@pytest.mark.parametrize(
    "entry",
    [
        "ketamine",
        "KETAMINE",
        "Ketamine hydrochloride",
        "ketamine HCl",
        "KetamineHCl",
        "Ketamine HCl 50 mg/mL injection (hallucinations, 2019)",
        "Ketalar",
        "ketalar 10mg/ml vial",
        "Kétamine",
        "Ketamin",
        "esketamine",
        "Spravato 28 mg nasal spray",
        "S-ketamine",
        "(S)-ketamine",
        "S(+)-Ketamin",
        "Esketamine HCl [anaphylaxis]",
        "Ketanest S",
        "arketamine",
        "R-ketamine",
        "ketamine - rash",
        "Allergy: ketamine",
    ],
)
@pytest.mark.parametrize("drug", ["ketamine", "esketamine"])
def test_every_way_of_writing_the_ketamine_molecule_excludes_both_drugs(entry, drug):
    decision = evaluate(intake(hypersensitivities=["penicillin", entry]), drug, as_of=AS_OF)
    assert decision.status == "not_eligible"
    rule_id = "ketamine_hypersensitivity" if drug == "ketamine" else "esketamine_ketamine_hypersensitivity"
    assert fired(decision)[rule_id].details == (read_hypersensitivity(entry, INGREDIENTS).describe(),)


@pytest.mark.parametrize(
    ("entry", "ingredient"),
    [
        ("Ketanest S", "esketamine"),
        ("Ketanest", "ketamine"),
        ("(S)-ketamine", "esketamine"),
        ("S(+)-ketamine", "esketamine"),
        ("(R,S)-ketamine", "ketamine"),
        ("Spravato", "esketamine"),
    ],
)
def test_the_longest_name_decides_which_enantiomer_an_entry_names(entry, ingredient):
    assert read_hypersensitivity(entry, INGREDIENTS).ingredient.id == ingredient


@pytest.mark.parametrize(
    "entry", ["penicillin", "ketamene", "ketorolac", "latex (hives)", "propofol (given with ketamine)"]
)
@pytest.mark.parametrize("drug", ["ketamine", "esketamine"])
def test_an_entry_naming_no_ketamine_ingredient_stays_a_review_for_the_excipients(entry, drug):
    decision = evaluate(intake(hypersensitivities=[entry]), drug, as_of=AS_OF)
    assert decision.status == "needs_review"
    rule = fired(decision)[f"{drug}_other_hypersensitivity_excipients"]
    assert rule.details[0].startswith(entry) and "check it by hand" in rule.details[0]


def test_the_decision_says_how_each_hypersensitivity_was_read():
    decision = evaluate(intake(hypersensitivities=["Ketalar (rash)", "latex"]), "ketamine", as_of=AS_OF)
    assert decision.hypersensitivities == (
        "Ketalar (rash) → ketamine (racemic)",
        "latex → names no ketamine ingredient: check it by hand",
    )
    assert decision.to_dict()["hypersensitivities"] == list(decision.hypersensitivities)


def test_names_added_beyond_the_reference_are_marked_as_added():
    esketamine = INGREDIENTS.ingredients["esketamine"]
    assert "Spravato" in esketamine.names and "Ketanest S" in esketamine.added_names
    assert "Ketanest S" not in esketamine.names


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ([{"id": "a", "label": "A", "names": [{"name": "x"}]}], "source"),
        (
            [{"id": "a", "label": "A", "names": [{"name": "x", "source": "s"}, {"name": "X", "added": "y"}]}],
            "already listed",
        ),
        ([{"id": "a", "label": "A", "names": [{"name": "x", "source": "s", "added": "y"}]}], "source"),
    ],
)
def test_a_broken_ingredient_table_is_refused_naming_the_field(entries, problem):
    with pytest.raises(RuleDefinitionError, match=problem):
        parse_ingredients({"schema_version": 1, "citation": "c", "ingredients": entries}, "ingredients.json")


def test_a_clinic_cannot_switch_off_the_ketamine_hypersensitivity_contraindication():
    with pytest.raises(SettingsError, match="locked"):
        evaluate(
            intake(), "ketamine", settings={"disabled_rules": ["ketamine_hypersensitivity"]}, as_of=AS_OF
        )
    with pytest.raises(SettingsError, match="locked"):
        evaluate(
            intake(),
            "ketamine",
            settings={"rule_severity": {"ketamine_hypersensitivity": "review"}},
            as_of=AS_OF,
        )


# ---- label contraindications and the fields no rule read ---------------------------------


def test_raised_intracranial_pressure_no_longer_ends_as_eligible_with_cautions_for_esketamine():
    decision = evaluate(intake(history={"raised_intracranial_pressure": True}), "esketamine", as_of=AS_OF)
    assert decision.status == "not_eligible"
    rule = fired(decision)["esketamine_raised_intracranial_pressure"]
    assert rule.severity == "exclude" and "intracranial pressure" in rule.message
    with pytest.raises(SettingsError, match="locked"):
        evaluate(
            intake(),
            "esketamine",
            settings={"disabled_rules": ["esketamine_raised_intracranial_pressure"]},
            as_of=AS_OF,
        )


def test_sleep_apnoea_asks_for_pulse_oximetry_with_esketamine_for_its_respiratory_depression_warning():
    decision = evaluate(intake(history={"sleep_apnea": True}), "esketamine", as_of=AS_OF)
    assert decision.status == "eligible_with_cautions"
    rule = fired(decision)["esketamine_sleep_apnea_respiratory_depression"]
    assert "pulse oximetry" in rule.action and "respiratory depression" in rule.message
    assert "Respiratory status" in rule.citation


def test_bladder_symptoms_need_the_prescribers_review_for_either_drug():
    for drug in ("ketamine", "esketamine"):
        decision = evaluate(intake(history={"bladder_symptoms": True}), drug, as_of=AS_OF)
        assert decision.status == "needs_review" and "bladder_symptoms" in fired(decision)


def test_every_history_question_but_seizures_is_read_by_a_rule():
    read = {name.removeprefix("history.") for rule in load_ruleset().rules for name in rule.inputs}
    from kapclinic.clinical.screening.schema import HISTORY_KEYS

    # Seizures: the reference holds no seizure fact for ketamine or esketamine (see the README).
    assert set(HISTORY_KEYS) - read == {"seizures"}


# ---- every ICD-10-CM code ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "rule_id"),
    [
        ("F31.4", "bipolar_disorder_diagnosis"),
        ("F31.81", "bipolar_disorder_diagnosis"),
        ("F30.10", "bipolar_disorder_diagnosis"),
        ("F20.0", "psychotic_disorder_diagnosis"),
        ("F25.1", "psychotic_disorder_diagnosis"),
        ("F29", "psychotic_disorder_diagnosis"),
    ],
)
@pytest.mark.parametrize("drug", ["ketamine", "esketamine"])
def test_bipolar_and_psychotic_disorders_get_a_review_never_a_refusal_or_a_pass(code, rule_id, drug):
    # Before the review F31.4 and F20.0 were refused as unknown codes: nobody could be screened.
    decision = evaluate(intake(diagnoses=[code]), drug, as_of=AS_OF)
    assert decision.status == "needs_review"
    assert code in fired(decision)[rule_id].details


@pytest.mark.parametrize("code", ["F43.22", "G43.909", "Z91.410", "F32.81", "F41.0", "F50.00"])
def test_any_icd_10_cm_code_can_be_screened_and_outside_mdd_needs_review(code):
    decision = evaluate(intake(diagnoses=[code]), "ketamine", as_of=AS_OF)
    assert decision.status == "needs_review"
    assert "ketamine_diagnosis_outside_mdd" in fired(decision)


@pytest.mark.parametrize(("written", "code"), [("f331", "F33.1"), (" F43.10 ", "F43.10"), ("F32.a", "F32.A")])
def test_codes_are_read_in_any_case_with_or_without_the_dot(written, code):
    assert diagnoses().get(written).code == code


@pytest.mark.parametrize("code", ["F33.99", "F33.5", "Q99.99", "F30-F39", "5", "depression", "F33.1.1"])
def test_a_code_that_is_not_in_icd_10_cm_is_refused_naming_the_field(code):
    with pytest.raises(ValueError, match=r"diagnoses\[1\]"):
        evaluate(intake(diagnoses=["F33.2", code]), "ketamine", as_of=AS_OF)


@pytest.mark.parametrize("code", ["F32.4", "F32.5", "F33.40", "F33.41", "F33.42"])
def test_a_depression_code_in_remission_is_not_the_labelled_esketamine_indication(code):
    decision = evaluate(intake(diagnoses=[code]), "esketamine", as_of=AS_OF)
    assert "esketamine_outside_labelled_indication" in fired(decision)


def test_the_trd_trials_rule_does_not_fire_for_mdd_with_acute_suicidal_ideation():
    few_trials = {"adequate_antidepressant_trials": 0, "diagnoses": ["F33.2"]}
    acute = evaluate(
        intake(**few_trials, history={"acute_suicidal_ideation_or_behaviour": True}),
        "esketamine",
        as_of=AS_OF,
    )
    assert "esketamine_trd_trials_not_met" not in fired(acute)
    not_acute = evaluate(
        intake(**few_trials, history={"acute_suicidal_ideation_or_behaviour": False}),
        "esketamine",
        as_of=AS_OF,
    )
    assert "esketamine_trd_trials_not_met" in fired(not_acute)
    unknown = dict(intake(**few_trials))
    unknown["history"] = {
        k: v for k, v in unknown["history"].items() if k != "acute_suicidal_ideation_or_behaviour"
    }
    undecided = evaluate(unknown, "esketamine", as_of=AS_OF)
    assert undecided.status == "needs_review"
    assert "history.acute_suicidal_ideation_or_behaviour" in undecided.missing


def test_no_icd_10_cm_code_falls_in_two_groups_and_every_listed_code_is_in_its_group():
    table = diagnoses()
    from kapclinic.clinical.codes import _icd10cm

    for code in _icd10cm():
        owners = [g.id for g in table.groups if g.covers(code)]
        assert len(owners) <= 1, (code, owners)
    for group in table.groups:
        assert all(table.get(code).group == group.id for code in group.listed)


def test_the_code_list_names_the_release_it_comes_from():
    assert diagnoses().code_set.startswith("ICD-10-CM April 2026")


# ---- the second review: negation, sign-off, indications, silent passes --------------------


@pytest.mark.parametrize(
    "entry",
    [
        "ketamine: none",
        "not allergic to ketamine",
        "ketamine allergy? denied",
        "Ketamine? unsure",
        "possible Spravato reaction",
        "ketamine (not confirmed)",
    ],
)
@pytest.mark.parametrize("drug", ["ketamine", "esketamine"])
def test_a_negated_or_uncertain_ketamine_entry_asks_for_confirmation_not_a_locked_exclusion(entry, drug):
    decision = evaluate(intake(hypersensitivities=[entry]), drug, as_of=AS_OF)
    assert decision.status == "needs_review"
    assert f"{drug}_hypersensitivity_unclear" in fired(decision)
    assert not any(r.locked for r in decision.rules)
    assert "confirm with the patient" in decision.hypersensitivities[0]


@pytest.mark.parametrize("entry", ["NKDA", "No known allergies", "no known drug allergies", "none", "Nil"])
def test_an_entry_saying_there_is_no_allergy_is_read_as_none(entry):
    decision = evaluate(intake(hypersensitivities=[entry]), "esketamine", as_of=AS_OF)
    assert decision.status == "eligible"
    assert decision.hypersensitivities == (f"{entry} → read as no allergy",)


def test_one_line_listing_two_allergies_is_read_as_two():
    decision = evaluate(
        intake(hypersensitivities=["ketamine, propofol (rash; hives)"]), "esketamine", as_of=AS_OF
    )
    assert decision.hypersensitivities == (
        "ketamine → ketamine (racemic)",
        "propofol (rash; hives) → names no ketamine ingredient: check it by hand",
    )
    assert {"esketamine_ketamine_hypersensitivity", "esketamine_other_hypersensitivity_excipients"} <= set(
        fired(decision)
    )


def test_a_locked_exclusion_is_marked_locked_in_the_stored_decision():
    decision = evaluate(intake(hypersensitivities=["Ketalar"]), "ketamine", as_of=AS_OF)
    rule = decision.to_dict()["rules"][0]
    assert rule["id"] == "ketamine_hypersensitivity" and rule["locked"] is True


def test_esketamine_for_acute_suicidality_without_an_oral_antidepressant_needs_review():
    acute = {"acute_suicidal_ideation_or_behaviour": True}
    alone = evaluate(intake(medications=[], history=acute), "esketamine", as_of=AS_OF)
    assert "esketamine_acute_suicidality_without_oral_antidepressant" in fired(alone)
    with_ssri = evaluate(intake(medications=["sertraline 100 mg"], history=acute), "esketamine", as_of=AS_OF)
    assert "esketamine_acute_suicidality_without_oral_antidepressant" not in fired(with_ssri)
    # Treatment-resistant depression without an antidepressant is the 2025 monotherapy indication.
    trd_alone = evaluate(intake(medications=[]), "esketamine", as_of=AS_OF)
    assert "esketamine_acute_suicidality_without_oral_antidepressant" not in fired(trd_alone)


@pytest.mark.parametrize(
    ("codes", "rule_id"),
    [
        (["F33.1", "F06.2"], "psychotic_disorder_diagnosis"),
        (["F33.1", "F53.1"], "psychotic_disorder_diagnosis"),
        (["F33.1", "F10.90"], "other_mental_disorder_diagnosis"),
        (["F33.1", "F41.0"], "other_mental_disorder_diagnosis"),
    ],
)
def test_no_psychiatric_diagnosis_beside_mdd_passes_screening_unseen(codes, rule_id):
    decision = evaluate(intake(diagnoses=codes), "ketamine", as_of=AS_OF)
    assert decision.status == "needs_review" and rule_id in fired(decision)


def test_a_medical_diagnosis_beside_mdd_adds_no_review():
    assert evaluate(intake(diagnoses=["F33.1", "I10"]), "ketamine", as_of=AS_OF).status == "eligible"


@pytest.mark.parametrize(("heading", "example"), [("F33", "F33.0"), ("F33.4", "F33.40"), ("F32", "F32.0")])
def test_a_heading_is_refused_with_the_codes_under_it(heading, example):
    with pytest.raises(
        ValueError, match=rf"heading, not a diagnosis code: choose a code under it, e.g. {example}"
    ):
        evaluate(intake(diagnoses=[heading]), "ketamine", as_of=AS_OF)


def test_an_unknown_answer_the_decision_does_not_depend_on_is_not_reported_missing():
    data = intake(adequate_antidepressant_trials=3)
    del data["history"]["acute_suicidal_ideation_or_behaviour"]
    decision = evaluate(data, "esketamine", as_of=AS_OF)
    assert decision.status == "eligible" and decision.missing == ()


def test_a_yes_no_rule_reads_is_listed_for_the_prescriber():
    decision = evaluate(intake(history={"seizures": True}), "ketamine", as_of=AS_OF)
    assert decision.unassessed == ("history.seizures",)
    assert decision.to_dict()["unassessed"] == ["history.seizures"]


def test_a_controlled_hypertension_history_still_warns_of_the_iv_bp_surge():
    decision = evaluate(intake(history={"hypertension": True}), "ketamine", "iv-infusion", as_of=AS_OF)
    assert "ketamine_hypertension_iv_bp_surge" in fired(decision)
