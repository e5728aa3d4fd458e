"""Numerical reference: the same compartment system integrated by scipy (tests only)."""

import numpy as np
from scipy.integrate import solve_ivp

from kapclinic.clinical.pk.definitions import load_all
from kapclinic.clinical.pk.routes import build
from kapclinic.clinical.pk.structure import typical_parameters


def ode_curve(model_id, doses, weight_kg, times_min, output=0):
    """Concentrations (ng/mL) at ``times_min`` by LSODA (rtol 1e-10), piecewise between events."""
    defn = load_all()[model_id]
    system, inputs, _ = build(defn, typical_parameters(defn, weight_kg), list(doses), 1)
    a = system.matrix()[0]
    weights = system.observe()[0, output]
    edges = sorted({0.0, float(times_min[-1])} | {d.start_min for d in inputs}
                   | {d.start_min + d.duration_min for d in inputs if d.duration_min > 0})
    x = np.zeros(a.shape[0])
    out = np.zeros(len(times_min))
    for t0, t1 in zip(edges, edges[1:] + [np.inf], strict=True):
        rate = np.zeros_like(x)
        for d in inputs:
            if d.duration_min == 0 and d.start_min == t0:
                x[d.compartment] += d.amount_mg[0]
            elif d.duration_min > 0 and d.start_min <= t0 < d.start_min + d.duration_min:
                rate[d.compartment] += d.amount_mg[0] / d.duration_min
        sel = (times_min >= t0) & (times_min < t1)
        if t0 == edges[-1]:
            sel = times_min >= t0
            t1 = t0
        end = max(t1, t0)
        if end > t0:
            sol = solve_ivp(lambda _t, y, r=rate: a @ y + r, (t0, end), x, method="LSODA",
                            rtol=1e-10, atol=1e-14, t_eval=times_min[sel] if sel.any() else None,
                            jac=lambda _t, _y: a)
            if sel.any():
                out[sel] = weights @ sol.y[:, : sel.sum()]
            x = sol.y[:, -1] if not sel.any() or times_min[sel][-1] == end else _advance(
                a, rate, x, t0, end)
        elif sel.any():
            out[sel] = weights @ x
    return out


def _advance(a, rate, x, t0, t1):
    sol = solve_ivp(lambda _t, y: a @ y + rate, (t0, t1), x, method="LSODA", rtol=1e-10,
                    atol=1e-14, jac=lambda _t, _y: a)
    return sol.y[:, -1]


def max_relative_difference(closed, reference, floor=1e-6):
    """Largest |a-b|/b over points above ``floor`` x the peak (below it both are ~0)."""
    keep = reference > floor * reference.max()
    return float(np.max(np.abs(closed[keep] - reference[keep]) / reference[keep]))
