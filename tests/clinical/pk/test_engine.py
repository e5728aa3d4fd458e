"""The closed form against scipy's ODE solver, and the fast paths against the plain ones."""

import numpy as np
import pytest
from pk_ode_reference import max_relative_difference, ode_curve

from kapclinic.clinical.pk import Dose, simulate
from kapclinic.clinical.pk.definitions import load_all
from kapclinic.clinical.pk.engine import eigen_general, solve
from kapclinic.clinical.pk.grid import evaluate_grid, row_percentiles
from kapclinic.clinical.pk.structure import (
    System,
    disposition,
    sample_parameters,
    zero_order,
)

RACEMIC = ["domino", "clements", "hijazi", "herd", "kamp"]
TIMES = np.arange(0, 24 * 60 + 1, 1.0)


def _closed(model_id, regimen, weight_kg=70.0, output=0):
    result = simulate(model_id, regimen=regimen, weight_kg=weight_kg)
    if output == 1:
        return result.metabolite_conc_ng_per_ml
    return result.conc_ng_per_ml


@pytest.mark.parametrize("model_id", RACEMIC + ["perez_ruixo_esketamine"])
def test_it_matches_solve_ivp_lsoda_within_1e_6_relative_for_an_iv_infusion(model_id):
    regimen = [Dose("iv-infusion", 35.0, 0.0, 40.0)]
    reference = ode_curve(model_id, regimen, 70.0, TIMES)
    assert max_relative_difference(_closed(model_id, regimen), reference) < 1e-6


@pytest.mark.parametrize("model_id", RACEMIC)
@pytest.mark.parametrize("route", ["iv-bolus", "im", "oral", "sublingual", "intranasal"])
def test_it_matches_solve_ivp_for_every_racemic_route(model_id, route):
    regimen = [Dose(route, 50.0)]
    reference = ode_curve(model_id, regimen, 80.0, TIMES)
    assert max_relative_difference(_closed(model_id, regimen, 80.0), reference) < 1e-6


@pytest.mark.parametrize("route, dose_mg", [("intranasal", 84.0), ("oral", 84.0)])
def test_it_matches_solve_ivp_for_esketamine_nasal_swallowed_and_oral_paths(route, dose_mg):
    regimen = [Dose(route, dose_mg)]
    reference = ode_curve("perez_ruixo_esketamine", regimen, 74.0, TIMES)
    closed = _closed("perez_ruixo_esketamine", regimen, 74.0)
    assert max_relative_difference(closed, reference) < 1e-6


def test_it_matches_solve_ivp_for_the_noresketamine_metabolite():
    regimen = [Dose("intranasal", 56.0)]
    reference = ode_curve("perez_ruixo_esketamine", regimen, 74.0, TIMES, output=1)
    closed = _closed("perez_ruixo_esketamine", regimen, 74.0, output=1)
    assert max_relative_difference(closed, reference) < 1e-6


def test_it_matches_solve_ivp_for_rate_changes_pauses_and_repeat_doses():
    regimen = [Dose("iv-infusion", 20.0, 0.0, 20.0), Dose("iv-infusion", 10.0, 20.0, 40.0),
               Dose("iv-infusion", 15.0, 90.0, 30.5), Dose("oral", 100.0, 300.25),
               Dose("iv-bolus", 5.0, 600.0)]
    for model_id in ("kamp", "domino"):
        reference = ode_curve(model_id, regimen, 70.0, TIMES)
        assert max_relative_difference(_closed(model_id, regimen), reference) < 1e-6


@pytest.mark.parametrize("model_id", RACEMIC)
def test_it_decomposes_star_systems_like_lapack(model_id):
    defn = load_all()[model_id]
    prm, _ = sample_parameters(defn, 70.0, 500, np.random.default_rng(1))
    system = System(disposition(defn, prm), 500)
    fast = system.modes()
    slow = eigen_general(system.matrix())
    np.testing.assert_allclose(np.sort(fast.lam), np.sort(slow.lam), rtol=1e-10)
    rebuilt = np.einsum("pij,pj,pjk->pik", fast.v, fast.lam, fast.vinv)
    np.testing.assert_allclose(rebuilt, system.matrix(), atol=1e-12)


def test_it_evaluates_the_grid_exactly_as_the_direct_formula():
    defn = load_all()["kamp"]
    prm, _ = sample_parameters(defn, 70.0, 300, np.random.default_rng(2))
    system = System(disposition(defn, prm), 300)
    inputs = [zero_order(0, 0.0, 40.0, np.full(300, 35.0)),
              zero_order(0, 100.5, 10.0, np.full(300, 5.0))]
    sol = solve(system.modes(), inputs, system.observe())
    grid = evaluate_grid(sol, 0, 1441, 1.0, percentiles=True)
    direct = sol.at(np.arange(1441.0))[:, 0]
    np.testing.assert_allclose(grid.curves, direct, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(grid.tmax_index, direct.argmax(axis=1))
    np.testing.assert_allclose(grid.percentiles, np.percentile(direct, (5, 50, 95), axis=0),
                               rtol=1e-12)


@pytest.mark.parametrize("size", [4096, 10_001, 100_000])
def test_it_computes_percentiles_identical_to_numpy(size):
    x = np.random.default_rng(size).lognormal(size=size)
    np.testing.assert_array_equal(row_percentiles(x, (5.0, 50.0, 95.0)),
                                  np.percentile(x, (5, 50, 95)))


def test_it_gives_percentile_curves_that_bracket_the_median_in_population_mode():
    result = simulate("herd", "iv-infusion", dose_mg_per_kg=0.5, weight_kg=70,
                      duration_min=40, population=5000, seed=7)
    assert np.all(result.p05 <= result.p50) and np.all(result.p50 <= result.p95)
    assert result.p05[40] < result.conc_ng_per_ml[40] < result.p95[40]
    again = simulate("herd", "iv-infusion", dose_mg_per_kg=0.5, weight_kg=70,
                     duration_min=40, population=5000, seed=7)
    np.testing.assert_array_equal(result.p50, again.p50)


def test_large_population_percentiles_in_float32_agree_with_numpy_to_a_millionth():
    defn = load_all()["kamp"]
    prm, _ = sample_parameters(defn, 70.0, 5000, np.random.default_rng(5))
    system = System(disposition(defn, prm), 5000)
    sol = solve(system.modes(), [zero_order(0, 0.0, 40.0, np.full(5000, 35.0))],
                system.observe())
    grid = evaluate_grid(sol, 0, 241, 1.0, percentiles=True)
    direct = sol.at(np.arange(241.0))[:, 0]
    np.testing.assert_allclose(grid.percentiles[:, 1:],
                               np.percentile(direct, (5, 50, 95), axis=0)[:, 1:], rtol=1e-6)
