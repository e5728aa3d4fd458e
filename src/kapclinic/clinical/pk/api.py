"""Model catalogue, the envelope across models, and dose equivalence between routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import inputs as chk
from .definitions import DRUGS, ModelDefinition, load_all
from .engine import FloatArray
from .errors import PKInputError
from .simulate import SimulationResult, simulate


def list_models() -> list[dict[str, Any]]:
    """One JSON-ready summary per model: id, drug, routes, source, evidence, population."""
    return [d.summary() for d in load_all().values()]


def get_model(model_id: str) -> ModelDefinition:
    """The validated definition of one model; ``UnknownModelError`` lists the valid ids."""
    return chk.check_model(model_id)


def _applicable(drug: str, route: str, models: list[str] | None) -> list[str]:
    if drug not in DRUGS:
        raise PKInputError("drug", f"unknown drug {drug!r}; valid: {', '.join(DRUGS)}")
    ids = models if models is not None else [
        m.id for m in load_all().values() if m.drug == drug and route in m.routes]
    for m in ids:
        chk.check_route(chk.check_model(m), route)
    if not ids:
        raise PKInputError("route", f"no {drug} model has data for route {route!r}")
    return ids


@dataclass
class Envelope:
    """Every applicable model's typical curve and the min/max band across them (ng/mL)."""

    drug: str
    route: str
    times_h: FloatArray
    results: dict[str, SimulationResult]
    lower_ng_per_ml: FloatArray
    upper_ng_per_ml: FloatArray

    def to_dict(self) -> dict[str, Any]:
        return {
            "drug": self.drug, "route": self.route, "times_h": self.times_h.tolist(),
            "lower_ng_per_ml": self.lower_ng_per_ml.tolist(),
            "upper_ng_per_ml": self.upper_ng_per_ml.tolist(),
            "models": {k: v.to_dict() for k, v in self.results.items()},
        }


def envelope(drug: str, route: str, *, models: list[str] | None = None,
             **kwargs: Any) -> Envelope:
    """Simulate the regimen with every model of ``drug`` that has ``route`` (or ``models``).

    Keyword arguments are those of ``simulate`` (dose_mg or dose_mg_per_kg, weight_kg,
    duration_min, hours, step_min). No single published model is validated for
    psychiatric dosing (pk.md section 7), hence the band.
    """
    ids = _applicable(drug, route, models)
    results = {m: simulate(m, route, **kwargs) for m in ids}
    curves = np.stack([r.conc_ng_per_ml for r in results.values()])
    first = next(iter(results.values()))
    return Envelope(drug, route, first.times_h, results, curves.min(0), curves.max(0))


@dataclass
class EquivalentDose:
    """Dose by ``to_route`` matching the metric of the given dose, per model and its band."""

    drug: str
    from_route: str
    from_dose_mg: float
    to_route: str
    metric: str
    per_model_mg: dict[str, float]
    low_mg: float
    high_mg: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def equivalent_dose(drug: str, from_route: str, to_route: str, *, weight_kg: float,
                    dose_mg: float | None = None, dose_mg_per_kg: float | None = None,
                    metric: str = "auc", duration_min: float | None = None,
                    to_duration_min: float | None = None,
                    models: list[str] | None = None, asian: bool | None = None,
                    japanese: bool | None = None,
                    age_years: float | None = None) -> EquivalentDose:
    """The ``to_route`` dose giving the same AUC (0 to infinity) or Cmax as the given dose.

    Computed for each model that has both routes; the band is the min/max across them.
    Exposure is linear in dose except for multi-device intranasal esketamine, so the dose
    is found by fixed-point iteration on the ratio of the metric.
    """
    if metric not in ("auc", "cmax"):
        raise PKInputError("metric", "metric must be 'auc' or 'cmax'")
    ids = [m for m in _applicable(drug, from_route, models)
           if to_route in load_all()[m].routes]
    if not ids:
        raise PKInputError("to_route", f"no {drug} model has both {from_route} and {to_route}")

    cov: dict[str, Any] = {"asian": asian, "japanese": japanese, "age_years": age_years,
                           "observed": False}

    def value(r: SimulationResult) -> float:
        return r.auc_inf_ng_h_per_ml if metric == "auc" else r.cmax_ng_per_ml

    per_model: dict[str, float] = {}
    given = 0.0
    for m in ids:
        ref = simulate(m, from_route, dose_mg=dose_mg, dose_mg_per_kg=dose_mg_per_kg,
                       weight_kg=weight_kg, duration_min=duration_min, **cov)
        given, target = ref.dose_mg, value(ref)
        trial = given
        for _ in range(50):
            got = value(simulate(m, to_route, dose_mg=trial, weight_kg=weight_kg,
                                 duration_min=to_duration_min, **cov))
            new = trial * target / got
            if abs(new - trial) <= 1e-9 * trial:
                break
            if new > chk.LIMITS["dose_mg"][1]:
                raise PKInputError("dose_mg", f"the equivalent {to_route} dose exceeds "
                                   f"{chk.LIMITS['dose_mg'][1]:g} mg")
            trial = new
        per_model[m] = new
    values = list(per_model.values())
    return EquivalentDose(drug, from_route, given, to_route, metric, per_model,
                          min(values), max(values))
