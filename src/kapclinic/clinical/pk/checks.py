"""Each model against the peaks observed in people (observations.json).

For a model and route, every observed peak of that drug form and route is simulated with
the same regimen for the typical 70-kg patient; a prediction more than 30% from what was
observed is a *miss*, reported in words a clinician reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from .calibration import MISS_LIMIT
from .definitions import load_all
from .observations import REFERENCE_WEIGHT_KG, Observation, for_route

ROUTE_WORDS = {"iv-bolus": "IV bolus", "iv-infusion": "IV infusion", "im": "intramuscular",
               "intranasal": "intranasal", "sublingual": "sublingual", "oral": "oral"}


@dataclass(frozen=True)
class ObservedCheck:
    """One observed peak and this model's typical prediction for the same regimen."""

    model_name: str
    observation: Observation
    predicted_cmax_ng_per_ml: float
    predicted_tmax_h: float
    at_observed_time: bool = False  # IV bolus: the model's peak is at time 0, so compare
    # the concentration at the time the observed peak was sampled

    @property
    def difference(self) -> float:
        """predicted / observed - 1 (negative: the model is below what was observed)."""
        assert self.observation.cmax_ng_per_ml is not None
        return self.predicted_cmax_ng_per_ml / self.observation.cmax_ng_per_ml - 1.0

    @property
    def misses(self) -> bool:
        return abs(self.difference) > MISS_LIMIT

    @property
    def regimen(self) -> str:
        o = self.observation
        text = f"{ROUTE_WORDS[o.route]} {o.dose_text}"
        return text + (f" over {o.duration_min:g} min" if o.duration_min else "")

    @property
    def message(self) -> str:
        """Plain words: how far off, which way, from which source, and what it means."""
        o = self.observation
        below = self.difference < 0
        what = (f"{self.predicted_cmax_ng_per_ml:.0f} ng/mL at {o.tmax_min:g} min"
                if self.at_observed_time else
                f"a peak of {self.predicted_cmax_ng_per_ml:.0f} ng/mL")
        return (f"{self.model_name} predicts {what} after {self.regimen}, "
                f"{abs(self.difference):.0%} "
                f"{'below' if below else 'above'} the {o.cmax_ng_per_ml:g} ng/mL observed "
                f"({o.label}): real levels may be {'higher' if below else 'lower'} than "
                "this model shows.")

    def to_dict(self) -> dict[str, Any]:
        o = self.observation
        return {
            "observation": o.id, "source": o.label, "regimen": self.regimen,
            "statistic": o.statistic, "observed_cmax_ng_per_ml": o.cmax_ng_per_ml,
            "observed_tmax_h": None if o.tmax_min is None else o.tmax_min / 60.0,
            "predicted_cmax_ng_per_ml": self.predicted_cmax_ng_per_ml,
            "predicted_tmax_h": self.predicted_tmax_h,
            "difference_percent": round(100.0 * self.difference, 1),
            "misses_by_more_than_30_percent": self.misses,
            "used_in_calibration": o.fit,
            "message": self.message if self.misses else "",
        }


@cache
def observed_checks(model_id: str, route: str) -> tuple[ObservedCheck, ...]:
    """The model's typical prediction for every observed peak of its drug by ``route``."""
    from .simulate import simulate

    defn = load_all()[model_id]
    out = []
    for o in for_route(defn.drug, defn.form, route):
        if o.cmax_ng_per_ml is None:
            continue
        peak_h = (o.tmax_min or 60.0) / 60.0
        r = simulate(model_id, route, dose_mg=o.dose_at(), weight_kg=REFERENCE_WEIGHT_KG,
                     duration_min=o.duration_min, hours=max(4.0, 4 * peak_h), step_min=0.1,
                     observed=False)
        if route == "iv-bolus" and o.tmax_min is not None:
            k = int(round(o.tmax_min / 0.1))
            out.append(ObservedCheck(defn.name, o, float(r.conc_ng_per_ml[k]),
                                     o.tmax_min / 60.0, at_observed_time=True))
        else:
            out.append(ObservedCheck(defn.name, o, r.cmax_ng_per_ml, r.tmax_h))
    return tuple(out)
