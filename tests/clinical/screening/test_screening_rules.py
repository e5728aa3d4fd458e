"""Rule files: every shipped rule loads, fires on the input it describes and stays silent
otherwise; every broken rule file is refused naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from screening_cases import AS_OF, BASE, TRIGGERS, intake

from kapclinic.clinical.screening import RuleDefinitionError, evaluate, load_rule, load_ruleset
from kapclinic.clinical.screening.definitions import RULES_DIR

RULESET = load_ruleset()
RULES = {r.id: r for r in RULESET.rules}
BAD = sorted((Path(__file__).parent / "bad").glob("*.json"))

# bad file -> the field its refusal must name
EXPECTED_FIELD = {
    "missing_citation": "citations",
    "empty_citations": "citations",
    "citation_outside_reference": "citations[0].section",
    "citation_without_source": "citations[0].source",
    "bad_severity": "severity",
    "bad_evidence": "evidence",
    "missing_evidence": "evidence",
    "missing_message": "message",
    "empty_action": "action",
    "unknown_drug": "drugs[0]",
    "no_drugs": "drugs",
    "unknown_route": "routes[0]",
    "inputs_do_not_match_when": "inputs",
    "unknown_input": "inputs[0]",
    "unknown_top_level_field": "recommendation",
    "locked_but_not_verified": "locked",
    "locked_not_boolean": "locked",
    "relaxing_a_locked_rule_by_file": "locked",
    "is_true_on_a_number": "when.is_true",
    "two_condition_kinds": "when",
    "unknown_setting": "when.setting",
    "nested_unknown_setting": "when.any[1].setting",
    "value_and_setting": "when.value",
    "string_threshold": "when.value",
    "bad_operator": "when.op",
    "compare_unknown_field": "when.compare",
    "unknown_consideration": "when.medication_consideration",
    "unknown_diagnosis_code": "when.diagnosis_any_of[0]",
    "unknown_diagnosis_group": "when.diagnosis_group_none_of[0]",
    "any_with_one_part": "when.any",
    "wrong_schema_version": "schema_version",
    "Id-Not-Lower-Snake-Case": "id",
    "id_not_file_name": "id",
    "not_json": "(file)",
    "top_level_list": "(top level)",
}


def _sources(rule_id: str) -> str:
    return ", ".join(sorted({c.section for c in RULES[rule_id].citations}))


def _case_id(rule_id: str) -> str:
    return f"{rule_id} (clinical.md {_sources(rule_id)})"


def _fired(decision):
    return {r.id for r in decision.rules}


@pytest.mark.parametrize("path", sorted(RULES_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_every_shipped_rule_loads_with_a_citation_evidence_status_message_and_action(path):
    rule = load_rule(path)
    assert rule.citations and all(c.section and c.row and c.source for c in rule.citations)
    assert rule.evidence in ("verified", "unverified", "policy")
    assert rule.message and rule.action and rule.tests and rule.inputs


def test_the_rule_set_has_a_version_and_a_content_digest():
    assert RULESET.version == "2026.2"
    assert len(RULESET.digest) == 16


def test_every_shipped_rule_has_a_trigger_case_in_these_tests():
    assert set(TRIGGERS) == set(RULES)


def test_the_issue_example_intake_is_eligible_for_both_drugs_and_every_route():
    for drug in ("ketamine", "esketamine"):
        for route in (None, "iv-infusion", "im", "intranasal", "sublingual", "oral"):
            decision = evaluate(BASE, drug, route, as_of=AS_OF)
            assert (decision.status, decision.rules, decision.missing) == ("eligible", (), ())


@pytest.mark.parametrize("rule_id", sorted(TRIGGERS), ids=_case_id)
def test_each_rule_fires_on_the_input_it_describes_with_its_message_and_citation(rule_id):
    drug, route, patch = TRIGGERS[rule_id]
    decision = evaluate(intake(**patch), drug, route, as_of=AS_OF)
    fired = {r.id: r for r in decision.rules}
    assert rule_id in fired
    assert fired[rule_id].message == RULES[rule_id].message
    assert fired[rule_id].reference.startswith(("clinical.md ", "sessions.md "))
    assert "clinical.md" not in fired[rule_id].citation and "[" not in fired[rule_id].citation
    assert fired[rule_id].severity == RULES[rule_id].severity


@pytest.mark.parametrize("rule_id", sorted(TRIGGERS), ids=_case_id)
def test_each_rule_stays_silent_without_its_trigger(rule_id):
    drug, route, _ = TRIGGERS[rule_id]
    assert rule_id not in _fired(evaluate(BASE, drug, route, as_of=AS_OF))


@pytest.mark.parametrize("rule_id", sorted(r for r in TRIGGERS if len(RULES[r].drugs) == 1), ids=_case_id)
def test_a_rule_for_one_drug_stays_silent_for_the_other(rule_id):
    drug, route, patch = TRIGGERS[rule_id]
    other = "ketamine" if drug == "esketamine" else "esketamine"
    assert rule_id not in _fired(evaluate(intake(**patch), other, route, as_of=AS_OF))


@pytest.mark.parametrize("rule_id", ["ketamine_older_adult_iv_bp_surge", "ketamine_hypertension_iv_bp_surge"])
def test_iv_only_rules_from_clinical_md_3_5_stay_silent_for_oral_ketamine(rule_id):
    _, _, patch = TRIGGERS[rule_id]
    assert rule_id not in _fired(evaluate(intake(**patch), "ketamine", "oral", as_of=AS_OF))
    assert rule_id in _fired(evaluate(intake(**patch), "ketamine", None, as_of=AS_OF))


def test_esketamine_label_contraindications_from_clinical_md_3_4_exclude_and_are_locked():
    for rule_id in ("esketamine_aneurysmal_vascular_disease", "esketamine_arteriovenous_malformation",
                    "esketamine_intracerebral_hemorrhage", "esketamine_ketamine_hypersensitivity"):
        rule = RULES[rule_id]
        assert (rule.severity, rule.locked, rule.evidence, rule.drugs) == \
            ("exclude", True, "verified", ("esketamine",))
        assert any(c.section == "3.4" and c.row == "Contraindications" for c in rule.citations)


@pytest.mark.parametrize("condition", ["aneurysmal_vascular_disease", "arteriovenous_malformation",
                                       "intracerebral_hemorrhage"])
@pytest.mark.parametrize("route", [None, "iv-infusion", "im", "intranasal", "sublingual", "oral"])
def test_a_vascular_lesion_excludes_racemic_ketamine_on_every_route_per_the_ketalar_label(condition, route):
    decision = evaluate(intake(history={condition: True}), "ketamine", route, as_of=AS_OF)
    assert decision.status == "not_eligible"
    assert f"ketamine_{condition}" in _fired(decision)


def test_the_ketalar_label_contraindications_are_locked_exclusions_citing_clinical_md_3_4a():
    for rule_id in ("ketamine_aneurysmal_vascular_disease", "ketamine_arteriovenous_malformation",
                    "ketamine_intracerebral_hemorrhage", "ketamine_hypersensitivity"):
        rule = RULES[rule_id]
        assert (rule.severity, rule.locked, rule.drugs) == ("exclude", True, ("ketamine",))
        assert any(c.section == "3.4a" and c.row == "Contraindications" for c in rule.citations)


def test_raised_intracranial_pressure_excludes_esketamine_per_its_label_and_is_never_only_a_caution():
    patch = hist_patch = {"history": {"raised_intracranial_pressure": True}}
    esketamine = evaluate(intake(**patch), "esketamine", as_of=AS_OF)
    assert esketamine.status == "not_eligible"
    assert RULES["esketamine_raised_intracranial_pressure"].locked
    ketamine = evaluate(intake(**hist_patch), "ketamine", as_of=AS_OF)
    assert ketamine.status == "needs_review"


def test_rules_resting_on_unverified_rows_are_marked_unverified():
    for rule_id in ("psychosis_history", "substance_use_history", "ketamine_raised_intracranial_pressure",
                    "raised_intraocular_pressure", "hepatic_disease", "ketamine_pregnancy",
                    "esketamine_65_and_over_starting_dose"):
        assert RULES[rule_id].evidence == "unverified", rule_id


def test_rules_using_illustrative_protocol_thresholds_from_clinical_md_3_2_are_policy():
    for rule in RULESET.rules:
        if any(c.section == "3.2" for c in rule.citations) and rule.evidence == "verified":
            pytest.fail(f"{rule.id} cites the illustrative 3.2 protocols but claims verified")


def test_the_bad_corpus_has_a_case_for_every_expectation():
    assert {p.stem for p in BAD} == set(EXPECTED_FIELD)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_every_broken_rule_file_is_refused_naming_the_file_and_field(path):
    with pytest.raises(RuleDefinitionError) as err:
        load_rule(path)
    assert err.value.filename == path.name
    assert err.value.field == EXPECTED_FIELD[path.stem]
    assert str(err.value).startswith(f"{path.name}: field '{EXPECTED_FIELD[path.stem]}'")
