"""Benchmark of the PK core (issue 5): population speed, memory, closed form vs solve_ivp.

Run: PYTHONPATH=src .venv/bin/python bench/bench_pk.py  [--patients N] [--sample S]
Prints the figures; exits 1 if a target is missed. scipy is needed (dev dependency).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp

from kapclinic.clinical.pk import envelope
from kapclinic.clinical.pk.definitions import load_all
from kapclinic.clinical.pk.engine import solve
from kapclinic.clinical.pk.grid import evaluate_grid
from kapclinic.clinical.pk.structure import System, disposition, sample_parameters, zero_order

MODEL = "domino"  # 3-compartment: the costliest racemic IV set
DOSE_MG, DURATION_MIN, WEIGHT_KG, N_POINTS = 35.0, 40.0, 70.0, 1441


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def population(n, curves):
    """The population engine as simulate() runs it, without simulate()'s work bound
    (inputs.MAX_WORK refuses 100,000 x 1,441; bench_pk_limits.py times what it allows)."""
    defn = load_all()[MODEL]
    prm, _ = sample_parameters(defn, WEIGHT_KG, n, np.random.default_rng(1))
    system = System(disposition(defn, prm), n)
    sol = solve(system.modes(), [zero_order(0, 0.0, DURATION_MIN, np.full(n, DOSE_MG))],
                system.observe())
    return evaluate_grid(sol, 0, N_POINTS, 1.0, keep_curves=False, percentiles=curves)


def ode_patient(a, weights, times):
    """LSODA, rtol 1e-10, on the same grid; the infusion end splits the integration."""
    n = a.shape[0]
    rate = np.zeros(n)
    rate[0] = DOSE_MG / DURATION_MIN
    first = times <= DURATION_MIN
    s1 = solve_ivp(lambda _t, y: a @ y + rate, (0, DURATION_MIN), np.zeros(n), method="LSODA",
                   rtol=1e-10, atol=1e-14, t_eval=times[first], jac=lambda _t, _y: a)
    s2 = solve_ivp(lambda _t, y: a @ y, (DURATION_MIN, times[-1]), s1.y[:, -1], method="LSODA",
                   rtol=1e-10, atol=1e-14, t_eval=times[~first], jac=lambda _t, _y: a)
    return weights @ np.concatenate([s1.y, s2.y], axis=1)


def closed_patient(prm, times):
    system = System(disposition(load_all()[MODEL], prm), 1)
    sol = solve(system.modes(), [zero_order(0, 0.0, DURATION_MIN, np.array([DOSE_MG]))],
                system.observe())
    grid = evaluate_grid(sol, 0, times.size, 1.0)
    assert grid.curves is not None
    return grid.curves[0]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, numpy {np.__version__}, "
          f"load average {os.getloadavg()[0]:.2f}")
    population(1000, True)  # warm-up (imports, thread pool)
    ok = True

    n = args.patients
    best, median = timed(lambda: population(n, False), args.repeats)
    print(f"[1] {n} patients x {N_POINTS} points, {MODEL} IV infusion, Cmax/Tmax/AUC per "
          f"patient: best {best:.3f} s, median {median:.3f} s (target < 1 s)")
    ok &= best < 1.0
    best, median = timed(lambda: population(n, True), args.repeats)
    print(f"[2] same + 5/50/95 percentile curves: best {best:.3f} s, median {median:.3f} s "
          f"(target < 3 s)")
    ok &= best < 3.0
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"[3] peak resident memory of this process: {peak_gib:.3f} GiB (target < 2 GiB)")
    ok &= peak_gib < 2.0

    # [4] per patient: closed form vs LSODA on the same 1-min grid, same virtual patients
    defn = load_all()[MODEL]
    prm, _ = sample_parameters(defn, WEIGHT_KG, args.sample, np.random.default_rng(2))
    times = np.arange(N_POINTS, dtype=float)
    worst = 0.0
    t_ode = t_closed = 0.0
    for i in range(args.sample):
        one = {k: v[i : i + 1] for k, v in prm.items()}
        system = System(disposition(defn, one), 1)
        a, weights = system.matrix()[0], system.observe()[0, 0]
        t0 = time.perf_counter()
        ref = ode_patient(a, weights, times)
        t1 = time.perf_counter()
        got = closed_patient(one, times)
        t2 = time.perf_counter()
        t_ode += t1 - t0
        t_closed += t2 - t1
        keep = ref > 1e-6 * ref.max()
        worst = max(worst, float(np.max(np.abs(got[keep] - ref[keep]) / ref[keep])))
    per_ode = t_ode / args.sample
    per_single = t_closed / args.sample
    best_pop, _ = timed(lambda: population(n, False), 1)
    per_pop = best_pop / n
    print(f"[4] solve_ivp LSODA rtol 1e-10: {per_ode * 1e3:.2f} ms per patient "
          f"({args.sample} patients)")
    print(f"    closed form, one patient per call: {per_single * 1e6:.0f} us "
          f"-> {per_ode / per_single:.0f}x faster")
    print(f"    closed form, population mode: {per_pop * 1e6:.2f} us per patient "
          f"-> {per_ode / per_pop:.0f}x faster (target >= 500x)")
    print(f"    max relative difference vs solve_ivp: {worst:.2e} (target < 1e-6)")
    ok &= per_ode / per_pop >= 500 and worst < 1e-6

    envelope("ketamine", "iv-infusion", dose_mg_per_kg=0.5, weight_kg=70, duration_min=40)
    best, median = timed(lambda: envelope("ketamine", "iv-infusion", dose_mg_per_kg=0.5,
                                          weight_kg=70, duration_min=40), 20)
    print(f"[5] dose explorer: one patient, all 5 racemic models (envelope): best "
          f"{best * 1e3:.1f} ms, median {median * 1e3:.1f} ms (target < 100 ms)")
    ok &= median < 0.1
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
