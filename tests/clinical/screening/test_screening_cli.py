"""``kapclinic screen`` as the issue specifies it (add_arguments/run with injectable streams)."""

from __future__ import annotations

import argparse
import io
import json

import pytest
from screening_cases import BASE, intake

from kapclinic.clinical.screening.cli import add_arguments, run


def _run(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="kapclinic screen")
    add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run(parser.parse_args(list(argv)), out, err)
    return code, out.getvalue(), err.getvalue()


def _file(tmp_path, data, name="intake.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_it_prints_the_json_contract_for_the_issue_example(tmp_path):
    code, out, err = _run("--intake", _file(tmp_path, BASE), "--json", "--as-of", "2026-06-01")
    data = json.loads(out)
    assert (code, err) == (0, "")
    assert data["status"] == "eligible"
    assert {"status", "rules", "missing", "ruleset_version"} <= set(data)


def test_json_rules_carry_id_severity_message_and_citation(tmp_path):
    path = _file(tmp_path, intake(history={"intracerebral_hemorrhage": True}))
    code, out, _ = _run("--intake", path, "--drug", "esketamine", "--route", "intranasal", "--json",
                        "--as-of", "2026-06-01")
    data = json.loads(out)
    assert code == 0 and data["status"] == "not_eligible"
    rule = data["rules"][0]
    assert rule["id"] == "esketamine_intracerebral_hemorrhage" and rule["severity"] == "exclude"
    assert rule["message"] and rule["reference"].startswith("clinical.md 3.4")
    assert rule["citation"].startswith("Spravato prescribing information")
    assert "clinical.md" not in rule["citation"]
    assert data["route"] == "intranasal"


def test_the_text_names_yes_answers_no_rule_weighs_as_the_screening_page_does(tmp_path):
    path = _file(tmp_path, intake(history={"seizures": True, "sleep_apnea": False}))
    code, out, _ = _run("--intake", path, "--drug", "ketamine", "--as-of", "2026-06-01")
    assert code == 0 and out.startswith("Status: eligible")
    assert ("Also answered yes (no screening rule weighs it; the prescriber does): Seizures"
            in out.splitlines())


def test_it_prints_readable_text_with_missing_fields_by_default(tmp_path):
    data = dict(BASE)
    del data["pregnant"]
    code, out, _ = _run("--intake", _file(tmp_path, data), "--as-of", "2026-06-01")
    assert code == 0
    assert out.startswith("Status: needs_review")
    assert "[missing] pregnant (needed by ketamine_pregnancy)" in out
    assert "Rule set 2026.2" in out


def test_clinic_settings_can_be_given_as_a_file(tmp_path):
    path = _file(tmp_path, intake(sbp_mmhg=135))
    settings = _file(tmp_path, {"thresholds": {"ketamine_baseline_sbp_mmhg": 130}}, "settings.json")
    code, out, _ = _run("--intake", path, "--settings", settings, "--json", "--as-of", "2026-06-01")
    assert code == 0 and json.loads(out)["status"] == "needs_review"


@pytest.mark.parametrize("content, needle", [
    (intake(weight_kg=700), "weight_kg: 700 is outside the plausible range 20-400 kg"),
    (intake(sbp_mmhg=100, dbp_mmhg=110), "dbp_mmhg: diastolic 110 must be below systolic 100"),
    (intake(favourite_colour="blue"), "favourite_colour: is not a known intake field"),
    (intake(history={"psychosis": "no"}), "history.psychosis: must be true, false or null"),
    (intake(date_of_birth="2999-01-01"), "date_of_birth: 2999-01-01 is after the evaluation date"),
    (intake(diagnoses=["Z99.9"]), "diagnoses[0]: 'Z99.9' is not an ICD-10-CM code (ICD-10-CM April 2026"),
    ("{not json", "intake: "),
    ("[1, 2]", "(intake): must be a JSON object"),
])
def test_invalid_input_exits_2_with_one_line_naming_the_field(tmp_path, content, needle):
    code, out, err = _run("--intake", _file(tmp_path, content), "--as-of", "2026-06-01")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert needle in err


def test_an_unreadable_file_exits_2_naming_it(tmp_path):
    code, _, err = _run("--intake", str(tmp_path / "nope.json"))
    assert code == 2 and "intake: cannot read" in err and "nope.json" in err and err.count("\n") == 1


def test_a_bad_evaluation_date_exits_2(tmp_path):
    code, _, err = _run("--intake", _file(tmp_path, BASE), "--as-of", "yesterday")
    assert code == 2 and err.startswith("error: as-of: ")


def test_invalid_settings_exit_2_naming_the_setting(tmp_path):
    settings = _file(tmp_path, {"disabled_rules": ["esketamine_intracerebral_hemorrhage"]}, "s.json")
    code, _, err = _run("--intake", _file(tmp_path, BASE), "--settings", settings)
    assert code == 2 and "disabled_rules[0]" in err


def test_drug_and_route_choices_are_the_issues():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--intake", "x.json", "--route", "rectal"])


def test_every_history_answer_has_the_words_the_intake_form_asks_it_with():
    from kapclinic.clinical.screening.schema import HISTORY_KEYS, HISTORY_LABELS

    assert set(HISTORY_LABELS) == set(HISTORY_KEYS)
