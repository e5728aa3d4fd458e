"""Calibrate extravascular absorption to observed human data, reproducibly.

For every first-order route with a ``calibration`` block in a model file, the absorption
rate ``ka`` (and, where the sources disagree, the bioavailability ``F`` within the
published range, and a lag below a sourced maximum) is fitted by least squares on the
log scale to the observed Cmax, Tmax and AUC listed in ``observations.json`` (pk.md
sections 2 and 3), for the model's typical 70-kg patient. The disposition is the
model's own and is never changed.

Run ``python -m kapclinic.clinical.pk.calibration`` to print the fits, ``--write`` to
store them (rounded, tagged [D], naming the data) in the model files. A test asserts
that the files hold what this module derives.

References
----------
Gibaldi M, Perrier D. Pharmacokinetics, 2nd ed. (1982), ch. 2: first-order absorption
into a linear system is the convolution of ``ka F D exp(-ka t)`` with the unit impulse
response ``sum_i A_i exp(lam_i t)``.
Nelder JA, Mead R. A simplex method for function minimization. Comput J 1965;7:308.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .definitions import MODELS_DIR, UNITS, ModelDefinition, Route, load_all
from .engine import FloatArray
from .observations import REFERENCE_WEIGHT_KG, Observation, observations
from .structure import System, disposition, typical_parameters

MISS_LIMIT = 0.30  # a predicted peak more than 30% from the observed one is reported
_GRID_MIN = np.arange(0.0, 720.0 + 1e-9, 1.0)  # absorption peaks fall well within 12 h


@dataclass(frozen=True)
class Absorption:
    """First-order absorption: ``ka_per_min``, bioavailability ``f``, ``lag_min``."""

    ka_per_min: float
    f: float
    lag_min: float = 0.0


@dataclass(frozen=True)
class Prediction:
    """The typical patient's Cmax (ng/mL), Tmax (min) and AUC 0-inf (ng*h/mL)."""

    cmax_ng_per_ml: float
    tmax_min: float
    auc_ng_h_per_ml: float


@dataclass(frozen=True)
class Fit:
    model: str
    route: str
    absorption: Absorption
    observations: tuple[str, ...]
    fitted: tuple[str, ...]
    sum_of_squares: float
    before: dict[str, Prediction]
    after: dict[str, Prediction]


def impulse_response(defn: ModelDefinition,
                     weight_kg: float = REFERENCE_WEIGHT_KG) -> tuple[FloatArray, FloatArray]:
    """Plasma response to 1 mg into the central compartment: ``sum A_i exp(lam_i t)``.

    Returns ``A`` (n,) in ng/mL per mg and ``lam`` (n,) in 1/min, from the engine's own
    eigen-decomposition of the typical patient's disposition.
    """
    system = System(disposition(defn, typical_parameters(defn, weight_kg)), 1)
    modes = system.modes()
    ov = system.observe()[0, 0] @ modes.v[0]
    return ov * modes.vinv[0][:, 0], modes.lam[0]


def predict(response: tuple[FloatArray, FloatArray], absorption: Absorption,
            dose_mg: float) -> Prediction:
    """Cmax, Tmax (grid argmax polished by Newton on the closed form) and AUC 0-inf."""
    a, lam = response
    ka = absorption.ka_per_min
    w = a * ka / (ka + lam)  # c(tau)/(F D) = sum w_i (exp(lam_i tau) - exp(-ka tau))

    def deriv(tau: float, order: int) -> float:
        e_lam, e_ka = np.exp(lam * tau), math.exp(-ka * tau)
        return float(np.sum(w * (lam**order * e_lam - (-ka) ** order * e_ka)))

    shape = (np.exp(np.outer(_GRID_MIN, lam)) - np.exp(-ka * _GRID_MIN)[:, None]) @ w
    i = int(np.argmax(shape))
    tau = float(_GRID_MIN[i])
    lo, hi = float(_GRID_MIN[max(i - 1, 0)]), float(_GRID_MIN[min(i + 1, _GRID_MIN.size - 1)])
    for _ in range(8):
        second = deriv(tau, 2)
        if second >= 0:
            break
        tau = min(max(tau - deriv(tau, 1) / second, lo), hi)
    scale = absorption.f * dose_mg
    return Prediction(scale * deriv(tau, 0), tau + absorption.lag_min,
                      scale * float(np.sum(-a / lam)) / 60.0)


def residuals(pred: Prediction, obs: Observation) -> list[float]:
    """Log-scale residuals log(predicted/observed) of Cmax, Tmax and AUC where observed."""
    pairs = ((pred.cmax_ng_per_ml, obs.cmax_ng_per_ml), (pred.tmax_min, obs.tmax_min),
             (pred.auc_ng_h_per_ml, obs.auc_ng_h_per_ml))
    return [math.log(p / o) for p, o in pairs if o is not None]


def nelder_mead(fn: Callable[[FloatArray], float], x0: FloatArray, *, step: float = 0.5,
                iterations: int = 2000, tol: float = 1e-11) -> tuple[FloatArray, float]:
    """Minimise ``fn`` from ``x0`` (Nelder & Mead 1965, standard coefficients)."""
    n = x0.size
    simplex = [x0.astype(float)] + [x0 + step * np.eye(n)[i] for i in range(n)]
    values = [fn(x) for x in simplex]
    for _ in range(iterations):
        order = np.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        if values[-1] - values[0] <= tol * (1 + abs(values[0])) and \
                max(float(np.max(np.abs(x - simplex[0]))) for x in simplex[1:]) < 1e-7:
            break
        centroid = np.mean(simplex[:-1], axis=0)
        worst = simplex[-1]
        reflected = centroid + (centroid - worst)
        fr = fn(reflected)
        if fr < values[0]:
            expanded = centroid + 2.0 * (centroid - worst)
            fe = fn(expanded)
            simplex[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = reflected, fr
        else:
            inside = fr >= values[-1]
            contracted = centroid + (0.5 if not inside else -0.5) * (centroid - worst)
            fc = fn(contracted)
            if fc < min(fr, values[-1]):
                simplex[-1], values[-1] = contracted, fc
            else:
                best = simplex[0]
                simplex = [best] + [best + 0.5 * (x - best) for x in simplex[1:]]
                values = [values[0]] + [fn(x) for x in simplex[1:]]
    i = int(np.argmin(values))
    return simplex[i], values[i]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


def published(defn: ModelDefinition, route: Route) -> Absorption:
    """The absorption before calibration: the published F, and ka from the published Tmax
    for this model [D] (what the simulator used before; the before/after table)."""
    from .routes import derived_ka_per_min

    assert route.calibration is not None
    return Absorption(derived_ka_per_min(defn.id, route.name),
                      route.calibration.published_bioavailability.value)


def fit_route(defn: ModelDefinition, route_name: str,
              before: Absorption | None = None) -> Fit:
    """Fit one route's absorption as its calibration block says (see module docstring)."""
    route = defn.routes[route_name]
    cal = route.calibration
    assert cal is not None and route.bioavailability is not None
    obs = [observations()[i] for i in cal.observations]
    response = impulse_response(defn)
    low, high = cal.bioavailability_range or (route.bioavailability.value,) * 2
    lag_max = cal.lag_max.value * UNITS[cal.lag_max.unit][1] if cal.lag_max else 0.0

    def unpack(x: FloatArray) -> Absorption:
        f = low + (high - low) * _sigmoid(float(x[1])) if "bioavailability" in cal.fitted \
            else route.bioavailability.value  # type: ignore[union-attr]
        lag = lag_max * _sigmoid(float(x[2])) if "lag" in cal.fitted else 0.0
        return Absorption(math.exp(float(x[0])), f, lag)

    def objective(x: FloatArray) -> float:
        ab = unpack(x)
        return sum(r * r for o in obs for r in residuals(predict(response, ab, o.dose_at()), o))

    best: tuple[FloatArray, float] | None = None
    for log_ka in (-4.0, -2.0, 0.0):  # 1/min: from about 1/h to 60/h
        x, value = nelder_mead(objective, np.array([log_ka, 0.0, 0.0]))
        if best is None or value < best[1] - 1e-12:
            best = (x, value)
    assert best is not None
    fitted = unpack(best[0])
    prior = before or published(defn, route)
    return Fit(defn.id, route_name, fitted, cal.observations, cal.fitted, best[1],
               {o.id: predict(response, prior, o.dose_at()) for o in obs},
               {o.id: predict(response, fitted, o.dose_at()) for o in obs})


def rounded(ab: Absorption) -> dict[str, float]:
    """The values as stored: ka (1/h) to 3 significant figures, F to 3 decimals, lag (min)
    to 1 decimal."""
    ka_h = ab.ka_per_min * 60.0
    digits = 2 - int(math.floor(math.log10(ka_h)))
    return {"ka_per_h": round(ka_h, digits), "bioavailability": round(ab.f, 3),
            "lag_min": round(ab.lag_min, 1)}


def calibrated_routes() -> list[tuple[str, str]]:
    """(model id, route) of every route with a calibration block, in file order."""
    return [(d.id, r.name) for d in load_all().values() for r in d.routes.values()
            if r.calibration is not None]


def derive_all() -> list[Fit]:
    """Every calibrated route's fit, recomputed from the observations."""
    models = load_all()
    return [fit_route(models[m], r) for m, r in calibrated_routes()]


def _data_text(obs: Sequence[Observation]) -> str:
    parts = []
    for o in obs:
        bits = [f"Cmax {o.cmax_ng_per_ml:g} ng/mL" if o.cmax_ng_per_ml is not None else "",
                f"Tmax {o.tmax_min:g} min" if o.tmax_min is not None else "",
                f"AUC {o.auc_ng_h_per_ml:g} ng*h/mL [D]" if o.auc_ng_h_per_ml else ""]
        parts.append(f"{o.route} {o.dose_text} ({o.label.split(',')[0]}): "
                     + ", ".join(b for b in bits if b))
    return "; ".join(parts)


def _source(fit: Fit, what: str, cal_note: str) -> str:
    obs = [observations()[i] for i in fit.observations]
    return (f"[D] calibration.py: {what} fitted by least squares on the log scale of the "
            f"observed {_data_text(obs)}; typical {REFERENCE_WEIGHT_KG:g}-kg patient of this "
            f"model{cal_note} (pk.md sections 2 and 3)")


def write(fits: Sequence[Fit], models_dir: Path = MODELS_DIR) -> list[Path]:
    """Store the rounded fits in the model files (tagged D, naming the data)."""
    changed: list[Path] = []
    by_model: dict[str, list[Fit]] = {}
    for fit in fits:
        by_model.setdefault(fit.model, []).append(fit)
    for model, group in by_model.items():
        path = models_dir / f"{model}.json"
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        for fit in group:
            spec = data["routes"][fit.route]
            values = rounded(fit.absorption)
            cal = spec["calibration"]
            bounds = ""
            if "bioavailability" in fit.fitted:
                rng = cal["bioavailability_range"]
                bounds += f"; F kept within {rng['low']:g}-{rng['high']:g}"
            if "lag" in fit.fitted:
                bounds += f"; lag kept within 0-{cal['lag_max']['value']:g} " \
                           f"{cal['lag_max']['unit']}"
            spec.pop("tmax", None)
            spec["ka"] = {"value": values["ka_per_h"], "unit": "1/h", "evidence": "D",
                          "source": _source(fit, "absorption rate", bounds)}
            if "bioavailability" in fit.fitted:
                spec["bioavailability"] = {"value": values["bioavailability"],
                                           "evidence": "D",
                                           "source": _source(fit, "bioavailability", bounds)}
            if "lag" in fit.fitted:
                spec["lag"] = {"value": values["lag_min"], "unit": "min", "evidence": "D",
                               "source": _source(fit, "absorption lag", bounds)}
            spec["calibration"] = {"observations": list(fit.observations),
                                   "fitted": list(fit.fitted),
                                   **{k: v for k, v in cal.items()
                                      if k not in ("observations", "fitted")}}
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        if text != path.read_text(encoding="utf-8"):
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    load_all.cache_clear()
    return changed


def table(fits: Sequence[Fit]) -> str:
    """Before/after per observation, for people reading the derivation."""
    lines = ["model      route       observation                          observed"
             "            before              after      values"]
    for fit in fits:
        values = rounded(fit.absorption)
        for oid in fit.observations:
            o, b, a = observations()[oid], fit.before[oid], fit.after[oid]
            seen = f"{o.cmax_ng_per_ml or float('nan'):6.1f}@{o.tmax_min or float('nan'):4.0f}"
            lines.append(
                f"{fit.model:<10} {fit.route:<11} {oid:<36} {seen:>12}  "
                f"{b.cmax_ng_per_ml:6.1f}@{b.tmax_min:4.0f}  {a.cmax_ng_per_ml:6.1f}"
                f"@{a.tmax_min:4.0f} ({(a.cmax_ng_per_ml / o.cmax_ng_per_ml - 1) * 100:+4.0f}%)"
                if o.cmax_ng_per_ml else
                f"{fit.model:<10} {fit.route:<11} {oid:<36} {seen:>12}  "
                f"{'':6}@{b.tmax_min:4.0f}  {'':6}@{a.tmax_min:4.0f}        ")
        lines[-1] += (f"  ka {values['ka_per_h']:g}/h F {values['bioavailability']:g} "
                      f"lag {values['lag_min']:g} min SS {fit.sum_of_squares:.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="store the fits in the files")
    args = parser.parse_args(argv)
    fits = derive_all()
    print(table(fits))
    if args.write:
        for path in write(fits):
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
