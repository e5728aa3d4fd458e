"""Wrong inputs fail with one clear message naming the field."""

import json

import pytest

from kapclinic.clinical.pk import (
    PKInputError,
    UnknownModelError,
    UnknownRouteError,
    envelope,
    equivalent_dose,
    get_model,
    simulate,
)


def test_it_lists_valid_models_when_the_model_is_unknown():
    with pytest.raises(UnknownModelError, match="valid models: .*domino.*kamp"):
        simulate("stanpump", "iv-bolus", dose_mg=10, weight_kg=70)


def test_it_lists_valid_routes_when_the_route_is_unknown():
    with pytest.raises(UnknownRouteError, match="valid routes: iv-bolus, iv-infusion, im"):
        simulate("domino", "rectal", dose_mg=10, weight_kg=70)


def test_it_refuses_a_route_the_model_has_no_data_for():
    with pytest.raises(UnknownRouteError, match="valid routes for it: .*intranasal"):
        simulate("perez_ruixo_esketamine", "im", dose_mg=28, weight_kg=70)


def test_unknown_model_and_route_errors_are_value_errors():
    assert issubclass(UnknownModelError, ValueError)
    assert issubclass(UnknownRouteError, PKInputError)


@pytest.mark.parametrize("field, kwargs", [
    ("dose_mg", {"dose_mg": -5}),
    ("dose_mg", {"dose_mg": 0}),
    ("dose_mg", {"dose_mg": 5000}),
    ("dose_mg", {"dose_mg": float("nan")}),
    ("dose_mg_per_kg", {"dose_mg_per_kg": 50}),
    ("weight_kg", {"dose_mg": 10, "weight_kg": 0}),
    ("weight_kg", {"dose_mg": 10, "weight_kg": 900}),
    ("duration_min", {"dose_mg": 10, "duration_min": -40}),
    ("duration_min", {"dose_mg": 10, "duration_min": 100000}),
    ("hours", {"dose_mg": 10, "hours": 0}),
    ("step_min", {"dose_mg": 10, "step_min": 0}),
    ("population", {"dose_mg": 10, "population": 0}),
    ("seed", {"dose_mg": 10, "seed": 3}),
    ("dose_mg", {}),
    ("dose_mg", {"dose_mg": 10, "dose_mg_per_kg": 0.5}),
])
def test_it_refuses_absurd_inputs_naming_the_field(field, kwargs):
    kwargs = {"weight_kg": 70, **kwargs}
    with pytest.raises(PKInputError) as err:
        simulate("domino", "iv-infusion", **kwargs)
    assert err.value.field == field
    assert "\n" not in str(err.value)


def test_it_refuses_a_duration_for_a_non_infusion_route():
    with pytest.raises(PKInputError, match="only to iv-infusion"):
        simulate("domino", "oral", dose_mg=50, weight_kg=70, duration_min=10)


def test_it_labels_the_default_infusion_duration_as_an_assumption():
    result = simulate("domino", "iv-infusion", dose_mg=35, weight_kg=70)
    assert any("40 min assumed" in a for a in result.assumptions)


def test_it_returns_json_ready_output_with_the_contract_keys():
    result = simulate("kamp", "iv-infusion", dose_mg_per_kg=0.5, weight_kg=70, duration_min=40,
                      population=300, seed=1)
    data = json.loads(json.dumps(result.to_dict()))
    for key in ("model", "route", "dose_mg", "cmax_ng_per_ml", "tmax_h", "auc_ng_h_per_ml",
                "auc_inf_ng_h_per_ml", "times_h", "conc_ng_per_ml", "p05", "p50", "p95"):
        assert key in data
    assert data["times_h"][:2] == [0.0, 1 / 60] and len(data["times_h"]) == 1441
    assert data["dose_mg"] == 35.0
    assert any("default CV" in a for a in data["assumptions"])


def test_it_builds_an_envelope_across_all_racemic_models():
    env = envelope("ketamine", "iv-infusion", dose_mg_per_kg=0.5, weight_kg=70, duration_min=40)
    assert set(env.results) == {"domino", "clements", "hijazi", "herd", "kamp"}
    assert env.lower_ng_per_ml[40] == pytest.approx(177.3, rel=0.005)  # Clements, pk.md 7
    assert env.upper_ng_per_ml[40] == pytest.approx(253.4, rel=0.005)  # Herd, pk.md 7


def test_it_gives_an_equivalent_oral_dose_by_auc_and_a_cmax_band_across_models():
    by_auc = equivalent_dose("ketamine", "iv-infusion", "oral", dose_mg_per_kg=0.5,
                             weight_kg=70, duration_min=40)
    for model, mg in by_auc.per_model_mg.items():  # AUC is linear: dose x F matches 35 mg IV
        assert mg * get_model(model).routes["oral"].bioavailability.value == pytest.approx(35)
    by_cmax = equivalent_dose("ketamine", "iv-infusion", "sublingual", dose_mg_per_kg=0.5,
                              weight_kg=70, duration_min=40, metric="cmax")
    assert by_cmax.low_mg < by_cmax.high_mg
    assert set(by_cmax.per_model_mg) == {"domino", "clements", "hijazi", "herd", "kamp"}


def test_it_refuses_an_envelope_for_an_unknown_drug():
    with pytest.raises(PKInputError, match="valid: ketamine, esketamine"):
        envelope("arketamine", "oral", dose_mg=10, weight_kg=70)
