"""A clinician's review of the dose explorer: extrapolation, unchecked models, what a
fitted bioavailability means, exposure checks and named discrepancies (PK core and CLI)."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from kapclinic.clinical.pk.cli import add_arguments, run
from kapclinic.clinical.pk.simulate import simulate

ESK = "perez_ruixo_esketamine"


def _cli(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="kapclinic pk")
    add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run(parser.parse_args(["simulate", *argv]), out, err)
    return code, out.getvalue() + err.getvalue()


def test_an_esketamine_age_past_the_oldest_patient_studied_is_called_an_extrapolation():
    result = simulate(ESK, "intranasal", dose_mg=56, weight_kg=70, age_years=120)
    assert any("outside the ages the model was fitted on (18–86 years): the prediction is "
               "an extrapolation" in m for m in result.extrapolations)
    assert result.to_dict()["extrapolations"] == result.extrapolations


def test_an_age_inside_the_fitted_range_raises_no_extrapolation_warning():
    assert simulate(ESK, "intranasal", dose_mg=56, weight_kg=70, age_years=86).extrapolations == []


def test_the_cli_text_and_json_warn_that_age_120_is_an_extrapolation():
    argv = ("--model", ESK, "--route", "intranasal", "--dose-mg", "56", "--weight-kg", "70",
            "--age-years", "120")
    code, text = _cli(*argv)
    assert code == 0 and "outside the ages the model was fitted on (18–86 years)" in text
    code, out = _cli(*argv, "--json")
    assert any("18–86 years" in m for m in json.loads(out)["extrapolations"])


@pytest.mark.parametrize("weight_kg, words", [
    (180, "outside the weights the model was fitted on (39–170 kg)"),
    (35, "outside the weights the model was fitted on (39–170 kg)")])
def test_an_esketamine_weight_outside_the_fitted_weights_is_called_an_extrapolation(
        weight_kg, words):
    result = simulate(ESK, "intranasal", dose_mg=56, weight_kg=weight_kg)
    assert any(words in m for m in result.extrapolations)


def test_an_adult_weight_on_the_childrens_model_is_called_an_extrapolation():
    result = simulate("herd", "iv-infusion", dose_mg_per_kg=0.5, weight_kg=70)
    assert any("32.5 kg" in m and "extrapolation" in m for m in result.extrapolations)
    assert simulate("herd", "iv-infusion", dose_mg_per_kg=0.5, weight_kg=30).extrapolations == []


def test_a_model_whose_population_weights_are_unknown_warns_nothing_about_weight():
    assert simulate("domino", "iv-infusion", dose_mg_per_kg=0.5, weight_kg=150).extrapolations == []


@pytest.mark.parametrize("route", ["intranasal", "oral"])
def test_an_esketamine_route_with_nothing_observed_says_it_was_not_checked(route):
    result = simulate(ESK, route, dose_mg=56, weight_kg=70)
    assert result.observed == []
    assert any("No observed level in the reference to check this model against" in m
               for m in result.unchecked)
    assert result.to_dict()["unchecked"] == result.unchecked
    code, text = _cli("--model", ESK, "--route", route, "--dose-mg", "56", "--weight-kg", "70")
    assert "No observed level in the reference to check this model against" in text


def test_a_route_with_observed_levels_is_not_called_unchecked():
    assert simulate("domino", "intranasal", dose_mg=30, weight_kg=70).unchecked == []


def test_domino_intranasal_total_exposure_misses_the_measured_auc_and_says_so():
    result = simulate("domino", "intranasal", dose_mg=50, weight_kg=70)
    by_id = {c.observation.id: c for c in result.observed}
    check = by_id["in_2022_pharmacotherapy_50_mg"]
    assert check.auc_misses and check.auc_difference == pytest.approx(0.81, abs=0.03)
    assert any("total exposure" in m and "the 62 ng·h/mL observed" in m and "above" in m
               for m in result.observed_misses)
    row = [c for c in result.to_dict()["observed"]
           if c["observation"] == "in_2022_pharmacotherapy_50_mg"][0]
    assert row["observed_auc_ng_h_per_ml"] == pytest.approx(62.15)
    assert row["auc_misses_by_more_than_30_percent"] is True
    assert row["predicted_tmax_h"] is not None and row["observed_tmax_h"] is not None


def test_the_cli_warns_of_an_auc_miss_like_a_peak_miss():
    _, text = _cli("--model", "domino", "--route", "intranasal", "--dose-mg", "50",
                   "--weight-kg", "70")
    assert any(line.startswith("warning:") and "total exposure" in line
               for line in text.splitlines())


def test_a_tmax_only_observation_is_checked_against_its_reported_range():
    result = simulate("kamp", "sublingual", dose_mg=25, weight_kg=70)
    rolan = [c for c in result.observed if c.observation.id == "sl_2014_rolan_25_mg_tmax"]
    assert rolan and rolan[0].tmax_outside_observed is False


def test_a_fitted_bioavailability_far_from_the_studys_own_is_explained_as_a_fitting_value():
    result = simulate("domino", "intranasal", dose_mg=30, weight_kg=70)
    assert len(result.fitted_bioavailability) == 1
    note = result.fitted_bioavailability[0]
    assert "0.26" in note and "0.13" in note and "Pharmacotherapy 2022" in note
    assert "not a measured bioavailability" in note
    assert result.to_dict()["fitted_bioavailability"] == result.fitted_bioavailability
    _, text = _cli("--model", "domino", "--route", "intranasal", "--dose-mg", "30",
                   "--weight-kg", "70")
    assert "not a measured bioavailability" in text


def test_a_fitted_bioavailability_close_to_the_published_one_needs_no_explanation():
    assert simulate("domino", "sublingual", dose_mg=25, weight_kg=70).fitted_bioavailability == []


def test_esketamine_oral_names_its_disagreement_with_fanta_2015():
    result = simulate(ESK, "oral", dose_mg=84, weight_kg=70)
    assert len(result.discrepancies) == 1
    text = result.discrepancies[0]
    assert "Perez-Ruixo" in text and "Fanta" in text and "0.178" in text and "0.08" in text
    assert "2.2 times" in text
    assert result.to_dict()["discrepancies"] == result.discrepancies
    _, out = _cli("--model", ESK, "--route", "oral", "--dose-mg", "84", "--weight-kg", "70")
    assert "Fanta" in out


def test_esketamine_nasal_has_no_oral_discrepancy_note():
    assert simulate(ESK, "intranasal", dose_mg=56, weight_kg=70).discrepancies == []


def test_a_named_discrepancy_states_the_bioavailability_the_model_itself_gives():
    from kapclinic.clinical.pk.definitions import load_all

    for defn in load_all().values():
        for d in defn.discrepancies:
            route = simulate(defn.id, d.route, dose_mg=28, weight_kg=70, hours=336,
                             step_min=10, observed=False).auc_inf_ng_h_per_ml
            iv = simulate(defn.id, "iv-bolus", dose_mg=28, weight_kg=70, hours=336,
                          step_min=10, observed=False).auc_inf_ng_h_per_ml
            assert route / iv == pytest.approx(d.model_value, abs=0.002)
