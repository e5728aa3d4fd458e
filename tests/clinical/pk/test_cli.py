"""``pk models`` and ``pk simulate`` as the issue specifies them."""

import argparse
import io
import json
import xml.etree.ElementTree as ET

import pytest

from kapclinic.clinical.pk.cli import add_arguments, run


def _run(*argv):
    parser = argparse.ArgumentParser(prog="kapclinic pk")
    add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run(parser.parse_args(list(argv)), out, err)
    return code, out.getvalue(), err.getvalue()


def test_it_lists_models_as_json_with_source_and_evidence():
    code, out, _ = _run("models", "--json")
    rows = json.loads(out)
    assert code == 0
    assert {"id", "drug", "routes", "source", "evidence", "population"} <= set(rows[0])


def test_it_prints_the_json_contract_for_a_population_simulation():
    code, out, _ = _run("simulate", "--model", "kamp", "--route", "iv-infusion",
                        "--dose-mg-per-kg", "0.5", "--weight-kg", "70", "--duration-min", "40",
                        "--population", "500", "--seed", "3", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["model"] == "kamp" and data["route"] == "iv-infusion" and data["dose_mg"] == 35
    assert len(data["times_h"]) == len(data["conc_ng_per_ml"]) == len(data["p50"]) == 1441
    assert data["times_h"][0] == 0 and data["auc_inf_ng_h_per_ml"] >= data["auc_ng_h_per_ml"]


@pytest.mark.parametrize("argv, message", [
    (["--model", "nope", "--route", "oral", "--dose-mg", "5"], "valid models: clements"),
    (["--model", "domino", "--route", "rectal", "--dose-mg", "5"], "valid routes: iv-bolus"),
    (["--model", "domino", "--route", "oral", "--dose-mg", "-5"], "dose_mg must be greater"),
    (["--model", "domino", "--route", "oral", "--dose-mg", "0"], "dose_mg must be greater"),
    (["--model", "domino", "--route", "oral", "--dose-mg", "90000"], "implausible"),
    (["--model", "domino", "--route", "iv-infusion", "--dose-mg", "5", "--duration-min", "0"],
     "duration_min must be greater"),
])
def test_it_exits_2_with_one_line_on_bad_input(argv, message):
    code, out, err = _run("simulate", *argv, "--weight-kg", "70")
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1


def test_it_exits_2_for_an_absurd_weight():
    code, _, err = _run("simulate", "--model", "domino", "--route", "oral", "--dose-mg", "5",
                        "--weight-kg", "7000")
    assert code == 2 and "weight_kg" in err


def test_it_writes_a_plain_svg_plot(tmp_path):
    target = tmp_path / "curve.svg"
    code, out, _ = _run("simulate", "--model", "perez_ruixo_esketamine", "--route",
                        "intranasal", "--dose-mg", "56", "--weight-kg", "74", "--population",
                        "200", "--seed", "1", "--plot", str(target))
    assert code == 0 and "not a dosing order" in out
    root = ET.fromstring(target.read_text())  # noqa: S314 (our own output)
    assert root.tag.endswith("svg")
    assert root.find("{http://www.w3.org/2000/svg}polyline") is not None
    assert "<script" not in target.read_text()


def test_it_refuses_png_plots_with_a_clear_message(tmp_path):
    code, _, err = _run("simulate", "--model", "domino", "--route", "oral", "--dose-mg", "5",
                        "--weight-kg", "70", "--plot", str(tmp_path / "x.png"))
    assert code == 2 and "use --plot FILE.svg" in err


def test_a_broken_model_file_is_one_line_and_exit_2_not_a_traceback(monkeypatch):
    from kapclinic.clinical.pk import cli
    from kapclinic.clinical.pk.errors import ModelDefinitionError

    def broken():
        raise ModelDefinitionError("domino.json", "parameters.cl", "must be a number\nabove 0")

    monkeypatch.setattr(cli, "list_models", broken)
    code, _, err = _run("models")
    assert code == 2 and err.count("\n") == 1 and "domino.json" in err


def test_the_json_says_when_the_model_misses_an_observed_peak_by_more_than_30_percent():
    code, out, _ = _run("simulate", "--model", "domino", "--route", "intranasal", "--dose-mg",
                        "30", "--weight-kg", "70", "--json")
    data = json.loads(out)
    assert code == 0
    missed = [c for c in data["observed"] if c["misses_by_more_than_30_percent"]]
    assert missed and data["observed_peak_misses"] == [c["message"] for c in missed]
    for check in missed:
        assert abs(check["difference_percent"]) > 30
        assert "Pharmacotherapy 2022, Table 6" in check["source"]
        assert "[D]" not in check["message"] and "pk.md" not in check["message"]


def test_the_text_output_warns_about_a_missed_observed_peak():
    code, out, _ = _run("simulate", "--model", "domino", "--route", "oral", "--dose-mg-per-kg",
                        "0.5", "--weight-kg", "70")
    assert code == 0
    assert "below the 45 ng/mL observed" in out


def test_the_covariate_options_change_the_esketamine_curve():
    base = json.loads(_run("simulate", "--model", "perez_ruixo_esketamine", "--route",
                           "intranasal", "--dose-mg", "56", "--weight-kg", "74", "--json")[1])
    code, out, _ = _run("simulate", "--model", "perez_ruixo_esketamine", "--route",
                        "intranasal", "--dose-mg", "56", "--weight-kg", "74", "--japanese",
                        "--age-years", "70", "--json")
    assert code == 0 and json.loads(out)["cmax_ng_per_ml"] > base["cmax_ng_per_ml"] * 1.2


def test_an_absurd_age_exits_2_naming_the_option():
    code, _, err = _run("simulate", "--model", "perez_ruixo_esketamine", "--route",
                        "intranasal", "--dose-mg", "56", "--weight-kg", "74", "--age-years",
                        "300")
    assert code == 2 and "age_years" in err and err.count("\n") == 1
