"""Each model against what was observed in people (observations.json).

For a model and route, every observation of that drug form and route is simulated with
the same regimen for the typical 70-kg patient. A predicted peak or total exposure (AUC
0-inf, where the source gives one) more than 30% from what was observed is a *miss*,
reported in words a clinician reads. The time of the peak is compared too: where the
source gives its spread (a range or an SD) a predicted time outside it is reported; a
single median or mean time from sparse sampling is shown, not judged.
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
UNCHECKED = "No observed level in the reference to check this model against"


@dataclass(frozen=True)
class ObservedCheck:
    """One observation and this model's typical prediction for the same regimen."""

    model_name: str
    observation: Observation
    predicted_cmax_ng_per_ml: float
    predicted_tmax_h: float
    at_observed_time: bool = False  # IV bolus: the model's peak is at time 0, so compare
    # the concentration at the time the observed peak was sampled
    predicted_auc_ng_h_per_ml: float | None = None  # AUC 0-inf of the typical patient

    @property
    def difference(self) -> float | None:
        """predicted / observed peak - 1 (negative: the model is below what was observed);
        None where only the time of the peak was reported."""
        if self.observation.cmax_ng_per_ml is None:
            return None
        return self.predicted_cmax_ng_per_ml / self.observation.cmax_ng_per_ml - 1.0

    @property
    def misses(self) -> bool:
        return self.difference is not None and abs(self.difference) > MISS_LIMIT

    @property
    def auc_difference(self) -> float | None:
        """predicted / observed AUC 0-inf - 1, where the source gives an AUC."""
        o = self.observation
        if o.auc_ng_h_per_ml is None or self.predicted_auc_ng_h_per_ml is None:
            return None
        return self.predicted_auc_ng_h_per_ml / o.auc_ng_h_per_ml - 1.0

    @property
    def auc_misses(self) -> bool:
        return self.auc_difference is not None and abs(self.auc_difference) > MISS_LIMIT

    @property
    def observed_tmax_spread_min(self) -> tuple[float, float] | None:
        """The reported spread of the time of the peak (range, else mean +/- SD), if any."""
        return self.observation.tmax_spread_min

    @property
    def tmax_outside_observed(self) -> bool | None:
        """True when the predicted peak time is outside the reported spread; None when no
        spread was reported or the peak time is fixed by the regimen (bolus, infusion)."""
        spread = self.observed_tmax_spread_min
        if spread is None or self.at_observed_time:
            return None
        t = self.predicted_tmax_h * 60.0
        return not spread[0] <= t <= spread[1]

    @property
    def regimen(self) -> str:
        o = self.observation
        text = f"{ROUTE_WORDS[o.route]} {o.dose_text}"
        return text + (f" over {o.duration_min:g} min" if o.duration_min else "")

    @property
    def message(self) -> str:
        """Plain words: how far off, which way, from which source, and what it means."""
        o = self.observation
        difference = self.difference
        if difference is None:
            return ""
        below = difference < 0
        what = (f"{self.predicted_cmax_ng_per_ml:.0f} ng/mL at {o.tmax_min:g} min"
                if self.at_observed_time else
                f"a peak of {self.predicted_cmax_ng_per_ml:.0f} ng/mL")
        return (f"{self.model_name} predicts {what} after {self.regimen}, "
                f"{abs(difference):.0%} "
                f"{'below' if below else 'above'} the {o.cmax_ng_per_ml:g} ng/mL observed "
                f"({o.label}): real levels may be {'higher' if below else 'lower'} than "
                "this model shows.")

    @property
    def auc_message(self) -> str:
        """The total-exposure miss in the same words as a peak miss."""
        o, difference = self.observation, self.auc_difference
        if difference is None or o.auc_ng_h_per_ml is None:
            return ""
        below = difference < 0
        return (f"{self.model_name} predicts a total exposure (area under the curve) of "
                f"{self.predicted_auc_ng_h_per_ml:.0f} ng·h/mL after {self.regimen}, "
                f"{abs(difference):.0%} {'below' if below else 'above'} the "
                f"{o.auc_ng_h_per_ml:.0f} ng·h/mL observed ({o.label}): real exposure may be "
                f"{'higher' if below else 'lower'} than this model shows.")

    @property
    def tmax_message(self) -> str:
        spread = self.observed_tmax_spread_min
        if not self.tmax_outside_observed or spread is None:
            return ""
        o = self.observation
        early = self.predicted_tmax_h * 60.0 < spread[0]
        return (f"{self.model_name} puts the peak at {self.predicted_tmax_h * 60:.0f} min "
                f"after {self.regimen}, {'earlier' if early else 'later'} than the "
                f"{spread[0]:g}–{spread[1]:g} min observed ({o.label}).")

    @property
    def messages(self) -> list[str]:
        """Every miss of this comparison, in words (peak, total exposure, time of peak)."""
        return [m for m, miss in ((self.message, self.misses),
                                  (self.auc_message, self.auc_misses),
                                  (self.tmax_message, bool(self.tmax_outside_observed)))
                if miss and m]

    def to_dict(self) -> dict[str, Any]:
        o = self.observation
        difference, auc_difference = self.difference, self.auc_difference
        spread = self.observed_tmax_spread_min
        return {
            "observation": o.id, "source": o.label, "regimen": self.regimen,
            "statistic": o.statistic, "observed_cmax_ng_per_ml": o.cmax_ng_per_ml,
            "observed_tmax_h": None if o.tmax_min is None else o.tmax_min / 60.0,
            "observed_tmax_spread_h": None if spread is None
            else [spread[0] / 60.0, spread[1] / 60.0],
            "observed_auc_ng_h_per_ml": o.auc_ng_h_per_ml,
            "predicted_cmax_ng_per_ml": self.predicted_cmax_ng_per_ml,
            "predicted_tmax_h": self.predicted_tmax_h,
            "predicted_auc_ng_h_per_ml": self.predicted_auc_ng_h_per_ml,
            "difference_percent": None if difference is None else round(100.0 * difference, 1),
            "misses_by_more_than_30_percent": self.misses,
            "auc_difference_percent": None if auc_difference is None
            else round(100.0 * auc_difference, 1),
            "auc_misses_by_more_than_30_percent": self.auc_misses,
            "tmax_outside_observed_spread": self.tmax_outside_observed,
            "used_in_calibration": o.fit,
            "message": self.message if self.misses else "",
            "auc_message": self.auc_message if self.auc_misses else "",
            "tmax_message": self.tmax_message,
        }


@cache
def observed_checks(model_id: str, route: str) -> tuple[ObservedCheck, ...]:
    """The model's typical prediction for every observation of its drug by ``route``."""
    from .simulate import simulate

    defn = load_all()[model_id]
    out = []
    for o in for_route(defn.drug, defn.form, route):
        peak_h = (o.tmax_min or 60.0) / 60.0
        r = simulate(model_id, route, dose_mg=o.dose_at(), weight_kg=REFERENCE_WEIGHT_KG,
                     duration_min=o.duration_min, hours=max(4.0, 4 * peak_h), step_min=0.1,
                     observed=False)
        if route == "iv-bolus" and o.tmax_min is not None:
            k = int(round(o.tmax_min / 0.1))
            out.append(ObservedCheck(defn.name, o, float(r.conc_ng_per_ml[k]),
                                     o.tmax_min / 60.0, at_observed_time=True,
                                     predicted_auc_ng_h_per_ml=r.auc_inf_ng_h_per_ml))
        else:
            out.append(ObservedCheck(defn.name, o, r.cmax_ng_per_ml, r.tmax_h,
                                     predicted_auc_ng_h_per_ml=r.auc_inf_ng_h_per_ml))
    return tuple(out)


def unchecked_message(model_name: str, route: str) -> str:
    return (f"{model_name}, {ROUTE_WORDS[route]}: {UNCHECKED}. Nothing measured in people by "
            "this route is in the clinic's reference, so the curve has not been compared "
            "with real levels.")
