"""The work one simulation may do is bounded, and the population path stays small in memory.

The speed and memory figures of the worst allowed request are in bench/bench_pk_limits.py.
"""

from __future__ import annotations

import argparse
import io
import tracemalloc

import numpy as np
import pytest

from kapclinic.clinical.pk import PKInputError, simulate
from kapclinic.clinical.pk import inputs as chk
from kapclinic.clinical.pk.cli import add_arguments, run
from kapclinic.clinical.pk.definitions import load_all
from kapclinic.clinical.pk.engine import solve
from kapclinic.clinical.pk.grid import evaluate_grid
from kapclinic.clinical.pk.structure import System, disposition, sample_parameters, zero_order

INFUSION = {"dose_mg": 35.0, "weight_kg": 70.0, "duration_min": 40.0}


def test_the_attackers_population_request_is_refused_naming_the_limit_and_what_to_change():
    with pytest.raises(PKInputError) as refused:
        simulate("domino", "iv-infusion", **INFUSION, hours=336, step_min=0.5,
                 population=10_000, seed=1)
    message = str(refused.value)
    assert refused.value.field == "population"
    assert "10,000 patients × 40,321 time points is 403,210,000" in message
    assert f"at most {chk.MAX_WORK:,} are allowed" in message
    assert "shorten the time span, widen the step or simulate fewer patients" in message


def test_a_single_curve_with_too_many_time_points_is_refused_saying_how_to_fix_it():
    with pytest.raises(PKInputError) as refused:
        simulate("domino", "iv-infusion", **INFUSION, hours=336, step_min=0.01)
    assert refused.value.field == "step_min"
    assert "2,016,001 time points" in str(refused.value)
    assert f"at most {chk.MAX_POINTS:,}" in str(refused.value)
    assert "shorten the time span or widen the step" in str(refused.value)


def test_the_longest_window_at_the_finest_useful_step_is_still_allowed_for_one_patient():
    result = simulate("domino", "iv-infusion", **INFUSION, hours=336, step_min=0.5)
    assert len(result.times_h) == 40_321


def test_a_population_right_at_the_bound_is_allowed():
    points = 1441
    result = simulate("herd", "iv-infusion", **INFUSION, population=chk.MAX_WORK // points,
                      seed=1, percentile_curves=False)
    assert result.population == chk.MAX_WORK // points


def test_the_command_line_refuses_too_much_work_in_one_line_with_exit_status_2():
    parser = argparse.ArgumentParser(prog="kapclinic pk")
    add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run(parser.parse_args([
        "simulate", "--model", "domino", "--route", "iv-infusion", "--dose-mg", "35",
        "--weight-kg", "70", "--hours", "336", "--step-min", "0.5", "--population", "10000"]),
        out, err)
    assert code == 2
    assert err.getvalue().count("\n") == 1
    assert err.getvalue().startswith("error: 10,000 patients × 40,321 time points")


def _population(n: int, model: str = "kamp"):
    defn = load_all()[model]
    prm, _ = sample_parameters(defn, 70.0, n, np.random.default_rng(n))
    system = System(disposition(defn, prm), n)
    return solve(system.modes(), [zero_order(0, 0.0, 40.0, np.full(n, 35.0)),
                                  zero_order(0, 300.5, 10.0, np.full(n, 5.0))],
                 system.observe())


@pytest.mark.parametrize("patients", [300, 5000])
def test_percentiles_computed_in_small_time_blocks_equal_those_of_the_whole_matrix(patients):
    sol = _population(patients)
    whole = evaluate_grid(sol, 0, 1441, 1.0, percentiles=True)
    blocked = evaluate_grid(sol, 0, 1441, 1.0, keep_curves=False, percentiles=True,
                            block_elements=patients * 7)  # 7 time points per block
    direct = sol.at(np.arange(1441.0))[:, 0]
    np.testing.assert_allclose(blocked.percentiles, whole.percentiles, rtol=1e-6)
    np.testing.assert_allclose(blocked.cmax, whole.cmax, rtol=1e-12)
    np.testing.assert_array_equal(blocked.tmax_index, direct.argmax(axis=1))
    np.testing.assert_allclose(blocked.percentiles[:, 1:],
                               np.percentile(direct, (5, 50, 95), axis=0)[:, 1:], rtol=1e-6)


@pytest.mark.parametrize("hours, step_min", [(336, 0.5), (24, 0.5), (3, 0.6)])
def test_a_population_at_the_bound_never_holds_every_patient_at_every_time_point(hours,
                                                                                  step_min):
    """744 x 40,321, 10,413 x 2,881 and 99,667 x 301: the full matrices would take 240, 120
    and 120 MB; what the simulation allocates stays under one budget whatever the shape."""
    points = int(hours * 60 / step_min) + 1
    patients = min(chk.MAX_WORK // points, chk.MAX_POPULATION)
    tracemalloc.start()
    try:
        simulate("domino", "iv-infusion", **INFUSION, hours=hours, step_min=step_min,
                 population=patients, seed=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 128 * 2**20
