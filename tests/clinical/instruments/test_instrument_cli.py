"""``kapclinic score`` and ``kapclinic instruments`` as issue 3 specifies them."""

import argparse
import io
import json

import pytest

from kapclinic.clinical.instruments.cli import (
    add_list_arguments,
    add_score_arguments,
    run_list,
    run_score,
)


def _score(*argv):
    parser = argparse.ArgumentParser(prog="kapclinic score")
    add_score_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run_score(parser.parse_args(list(argv)), out, err)
    return code, out.getvalue(), err.getvalue()


def _list(*argv):
    parser = argparse.ArgumentParser(prog="kapclinic instruments")
    add_list_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run_list(parser.parse_args(list(argv)), out, err)
    return code, out.getvalue(), err.getvalue()


def test_it_prints_the_json_contract_for_a_phq9_with_item_9_positive():
    code, out, err = _score("phq9", "--answers", "1,2,1,2,1,2,1,2,1", "--json")
    data = json.loads(out)
    assert code == 0 and err == ""
    assert {"instrument", "total", "severity", "flags", "subscales", "missing"} <= set(data)
    assert data["instrument"] == "phq9" and data["total"] == 13 and data["severity"] == "moderate"
    assert data["flags"] == ["suicidal_ideation"] and data["missing"] == [] and data["subscales"] == {}


def test_it_takes_a_dash_for_a_missing_item_and_reports_it():
    code, out, _ = _score("phq9", "--answers", "1,1,1,1,-,1,1,1,0", "--json")
    data = json.loads(out)
    assert code == 0 and data["total"] is None and data["missing"] == ["5"]
    assert "prorating is off" in data["missing_handling"]["withheld"]


def test_it_prorates_when_the_clinic_asks_and_marks_the_total():
    code, out, _ = _score("phq9", "--answers", "1,1,1,1,-,1,1,1,0", "--prorate", "--json")
    data = json.loads(out)
    assert data["total"] == 8 and data["prorated"] is True  # 7 * 9 / 8 = 7.875, rounded
    assert data["unrounded_total"] == 7 * 9 / 8


def test_it_says_a_prorated_total_was_rounded_and_from_what():
    code, out, _ = _score("phq9", "--answers", "1,1,1,1,0,0,0,-,0", "--prorate")
    assert code == 0
    assert "total 5 (range 0-27) PRORATED (1 missing; 4.5 rounded half up), Mild" in out


def test_a_missing_first_answer_can_follow_answers_without_an_equals_sign():
    # argparse took "-,0,..." for an option: "expected one argument"
    code, out, err = _score("cssrs_screener", "--answers", "-,0,-,-,-,0,-", "--json")
    assert code == 0 and err == ""
    assert json.loads(out)["missing"] == ["1"]
    code, out, _ = _score("phq9", "--answers", "-,0,1,2,0,0,0,0,0", "--prorate")
    assert code == 0 and "PRORATED (1 missing" in out


def test_the_installed_command_takes_answers_starting_with_a_dash(capsys):
    from kapclinic.cli import main

    assert main(["score", "cssrs_screener", "--answers", "-,yes,yes,no,no,no,-", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["severity"] == "moderate" or data["severity"] is None


def test_it_prints_the_three_cssrs_levels():
    _, out, _ = _score("cssrs_screener", "--answers", "yes,yes,yes,no,no,no,-")
    assert out.startswith("C-SSRS screener (cssrs_screener): triage level moderate - Moderate risk")
    assert "flags: suicide_risk_moderate" in out


def test_it_says_which_bprs_items_were_not_rated():
    _, out, _ = _score("bprs_pos4", "--answers", "2,0,3,1")
    assert "total 6 PARTIAL (sum of 3 rated items, range 3-21; not rated: Hallucinatory behaviour)" in out


def test_it_prints_pcl5_cluster_subscales_in_json():
    code, out, _ = _score("pcl5", "--answers", ",".join(["1"] * 20), "--json")
    assert json.loads(out)["subscales"] == {"B": 5, "C": 2, "D": 7, "E": 6}


def test_it_accepts_yes_and_no_for_the_cssrs_screener():
    code, out, _ = _score("cssrs_screener", "--answers", "yes,yes,no,yes,no,no,-", "--json")
    data = json.loads(out)
    assert code == 0 and data["severity"] == "high" and data["flags"] == ["suicide_risk_high"]


def test_it_applies_a_clinic_setting_from_the_command_line():
    answers = ",".join(["0"] * 11 + ["1"] + ["0"] * 4)
    assert json.loads(_score("qids_sr16", "--answers", answers, "--json")[1])["flags"] == \
        ["suicidal_ideation"]
    data = json.loads(_score("qids_sr16", "--answers", answers, "--setting",
                             "suicide_item_threshold=2", "--json")[1])
    assert data["flags"] == []


def test_it_prints_a_readable_summary_without_json():
    code, out, _ = _score("phq9", "--answers", "3,3,3,3,3,3,0,0,1")
    assert code == 0
    assert out.splitlines()[0] == "PHQ-9 (phq9): total 19 (range 0-27), Moderately severe"
    assert "flags: suicidal_ideation" in out and "note:" not in out  # PHQ-9 wording is shipped


def test_it_allows_leaving_off_the_trailing_unscored_phq9_item():
    assert _score("phq9", "--answers", "0,0,0,0,0,0,0,0,0,2", "--json")[0] == 0


@pytest.mark.parametrize("argv, message", [
    (["phq9", "--answers", "1,2,3,4,0,0,0,0,0"], "error: phq9 item 4: answer 4 is out of range"),
    (["phq9", "--answers", "1,2,x,0,0,0,0,0,0"], "error: phq9 item 3: 'x' is not a whole number"),
    (["phq9", "--answers", "1,2,3"], "error: phq9 item (answers): 3 answers given but PHQ-9 has 10"),
    (["phq9", "--answers", ",".join(["0"] * 11)], "11 answers given"),
    (["phq10", "--answers", "1"], "error: unknown instrument 'phq10'"),
    (["qids_sr16", "--answers", ",".join(["0"] * 16), "--setting", "suicide_item_threshold=5"],
     "suicide_item_threshold"),
    (["qids_sr16", "--answers", ",".join(["0"] * 16), "--setting", "nonsense"], "NAME=WHOLE_NUMBER"),
])
def test_it_exits_2_with_one_line_on_stderr_for_bad_answers(argv, message):
    code, out, err = _score(*argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_it_lists_every_instrument_with_its_id_as_json():
    code, out, _ = _list("--json")
    rows = json.loads(out)
    assert code == 0
    assert [r["id"] for r in rows] == sorted(["phq9", "phq2", "gad7", "gad2", "pcl5", "qids_sr16",
                                              "madrs", "cssrs_screener", "cadss", "cadss6", "moaas",
                                              "bprs_pos4", "audit", "audit_c", "pain_nrs"])
    madrs = next(r for r in rows if r["id"] == "madrs")
    assert madrs["item_text_included"] is False and madrs["text_may_be_shipped"] == "no"


def test_it_lists_instruments_as_text_one_per_line():
    code, out, _ = _list()
    assert code == 0 and len(out.splitlines()) == 15
    assert out.splitlines()[0].startswith("audit ")


def test_it_lists_a_clinic_folder_of_definitions_too(tmp_path):
    from kapclinic.clinical.instruments.definitions import DEFINITIONS_DIR

    data = json.loads((DEFINITIONS_DIR / "phq2.json").read_text())
    data["id"] = "clinic_phq2"
    (tmp_path / "clinic_phq2.json").write_text(json.dumps(data))
    code, out, _ = _list("--definitions-dir", str(tmp_path), "--json")
    assert "clinic_phq2" in [r["id"] for r in json.loads(out)]
    code, out, _ = _score("clinic_phq2", "--answers", "2,2", "--definitions-dir", str(tmp_path), "--json")
    assert json.loads(out)["total"] == 4


def test_it_exits_2_when_a_clinic_definition_is_broken(tmp_path):
    (tmp_path / "broken.json").write_text("{")
    code, _, err = _list("--definitions-dir", str(tmp_path))
    assert code == 2 and "broken.json: field '(file)'" in err
