"""Public simulation API: one model, all models (envelope), and route equivalence."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import inputs as chk
from .calibration import MISS_LIMIT
from .checks import ROUTE_WORDS, ObservedCheck, observed_checks, unchecked_message
from .covariates import Covariates, check_covariates
from .definitions import FittedSpan, ModelDefinition
from .engine import FloatArray, Solution, solve
from .errors import PKInputError
from .grid import evaluate_grid
from .observations import for_route, observations
from .routes import Dose, build
from .structure import Params, sample_parameters, typical_parameters

DEFAULT_INFUSION_MIN = 40.0  # pk.md 3.1: the 0.5 mg/kg over 40 min depression protocol
# [policy] where a paper gives only the mean and SD of its patients' ages or weights, a
# patient more than this many SDs from the mean is outside the fitted population
EXTRAPOLATION_SDS = 2.0


@dataclass
class SimulationResult:
    """Concentrations of one model for one regimen.

    ``times_h`` (K,) from 0 at the start of the first dose; ``conc_ng_per_ml`` (K,) for
    the typical patient; AUCs are exact integrals of the closed form (ng*h/mL), the
    window AUC over [0, hours]. Population mode adds the 5/50/95 percentile curves (K,)
    across virtual patients and per-patient summary percentiles.
    """

    model: str
    model_name: str
    drug: str
    route: str
    dose_mg: float
    weight_kg: float
    times_h: FloatArray
    conc_ng_per_ml: FloatArray
    cmax_ng_per_ml: float
    tmax_h: float
    auc_ng_h_per_ml: float
    auc_inf_ng_h_per_ml: float
    citation: str
    evidence: str
    caveats: list[dict[str, str]]
    assumptions: list[str]
    metabolite: str | None = None
    metabolite_conc_ng_per_ml: FloatArray | None = None
    metabolite_cmax_ng_per_ml: float | None = None
    metabolite_auc_ng_h_per_ml: float | None = None
    population: int | None = None
    seed: int | None = None
    p05: FloatArray | None = None
    p50: FloatArray | None = None
    p95: FloatArray | None = None
    population_summary: dict[str, dict[str, float]] = field(default_factory=dict)
    # per virtual patient (P,), population mode only; not part of to_dict()
    population_cmax_ng_per_ml: FloatArray | None = None
    population_tmax_h: FloatArray | None = None
    population_auc_ng_h_per_ml: FloatArray | None = None
    # the model against peaks observed in people by this route (checks.py)
    observed: list[ObservedCheck] = field(default_factory=list)
    # the patient is outside the ages or weights the model was fitted on (sentences)
    extrapolations: list[str] = field(default_factory=list)
    # a route with nothing observed in people to compare the model with (sentences)
    unchecked: list[str] = field(default_factory=list)
    # a calibrated bioavailability far from the published one, explained (sentences)
    fitted_bioavailability: list[str] = field(default_factory=list)
    # the model against another study of the same drug and route (sentences)
    discrepancies: list[str] = field(default_factory=list)

    @property
    def observed_misses(self) -> list[str]:
        """One sentence per observed peak, total exposure (AUC) or peak time this model
        misses (peak and AUC by more than 30%; time outside the reported spread)."""
        return [m for c in self.observed for m in c.messages]

    def time_above(self, threshold_ng_per_ml: float) -> float:
        """Hours the typical curve spends above a concentration (linear between samples)."""
        return time_above(self.times_h, self.conc_ng_per_ml, threshold_ng_per_ml)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with the keys of the CLI/API contract (issue 5)."""
        out: dict[str, Any] = {
            "model": self.model, "model_name": self.model_name, "drug": self.drug,
            "route": self.route, "dose_mg": self.dose_mg, "weight_kg": self.weight_kg,
            "cmax_ng_per_ml": self.cmax_ng_per_ml, "tmax_h": self.tmax_h,
            "auc_ng_h_per_ml": self.auc_ng_h_per_ml,
            "auc_inf_ng_h_per_ml": self.auc_inf_ng_h_per_ml,
            "times_h": self.times_h.tolist(), "conc_ng_per_ml": self.conc_ng_per_ml.tolist(),
            "citation": self.citation, "evidence": self.evidence, "caveats": self.caveats,
            "assumptions": self.assumptions,
            "observed": [c.to_dict() for c in self.observed],
            "observed_misses": self.observed_misses,
            "observed_peak_misses": [c.message for c in self.observed if c.misses],
            "observed_auc_misses": [c.auc_message for c in self.observed if c.auc_misses],
            "unchecked": self.unchecked,
            "extrapolations": self.extrapolations,
            "fitted_bioavailability": self.fitted_bioavailability,
            "discrepancies": self.discrepancies,
        }
        if self.metabolite is not None and self.metabolite_conc_ng_per_ml is not None:
            out["metabolite"] = {
                "name": self.metabolite,
                "conc_ng_per_ml": self.metabolite_conc_ng_per_ml.tolist(),
                "cmax_ng_per_ml": self.metabolite_cmax_ng_per_ml,
                "auc_ng_h_per_ml": self.metabolite_auc_ng_h_per_ml,
            }
        if self.population is not None:
            out.update(population=self.population, seed=self.seed,
                       population_summary=self.population_summary)
        for key in ("p05", "p50", "p95"):
            curve = getattr(self, key)
            if curve is not None:
                out[key] = curve.tolist()
        return out


def time_above(times_h: FloatArray, conc: FloatArray, threshold: float) -> float:
    """Time (h) a sampled curve is above ``threshold``, interpolating crossings linearly."""
    c0, c1 = conc[:-1], conc[1:]
    dt = np.diff(times_h)
    lo, hi = np.minimum(c0, c1), np.maximum(c0, c1)
    span = np.where(hi > lo, hi - lo, 1.0)
    frac = np.clip((hi - threshold) / span, 0.0, 1.0)
    frac = np.where(hi > lo, frac, (lo > threshold).astype(float))
    return float((frac * dt).sum())


def _regimen(defn: ModelDefinition, route: str | None, dose_mg: float | None,
             dose_mg_per_kg: float | None, weight_kg: float, duration_min: float | None,
             regimen: Sequence[Dose] | None) -> tuple[list[Dose], list[str]]:
    notes: list[str] = []
    if regimen is not None:
        if route is not None or dose_mg is not None or dose_mg_per_kg is not None:
            raise PKInputError("regimen", "give either a regimen or route and dose, not both")
        if not regimen:
            raise PKInputError("regimen", "regimen must contain at least one dose")
        doses = []
        for i, d in enumerate(regimen):
            chk.check_route(defn, d.route)
            mg = chk.check_number("dose_mg", d.dose_mg)
            start = chk.check_number("start_min", d.start_min) if d.start_min else 0.0
            doses.append(Dose(d.route, mg, start, _duration(d.route, d.duration_min, notes, i)))
        return doses, notes
    route = chk.check_route(defn, route)
    if (dose_mg is None) == (dose_mg_per_kg is None):
        raise PKInputError("dose_mg", "give exactly one of dose_mg and dose_mg_per_kg")
    if dose_mg_per_kg is not None:
        mg = chk.check_number("dose_mg_per_kg", dose_mg_per_kg) * weight_kg
        if mg > chk.LIMITS["dose_mg"][1]:
            raise PKInputError("dose_mg_per_kg", f"dose {mg:g} mg is implausible")
    else:
        mg = chk.check_number("dose_mg", dose_mg)
    return [Dose(route, mg, 0.0, _duration(route, duration_min, notes, None))], notes


def _duration(route: str, duration_min: float | None, notes: list[str],
              index: int | None) -> float | None:
    if route != "iv-infusion":
        if duration_min is not None:
            raise PKInputError("duration_min", "duration_min applies only to iv-infusion")
        return None
    if duration_min is None:
        notes.append(f"iv-infusion duration not given{'' if index is None else f' (dose {index})'}"
                     f": {DEFAULT_INFUSION_MIN:g} min assumed (pk.md 3.1 protocol)")
        return DEFAULT_INFUSION_MIN
    return chk.check_number("duration_min", duration_min)


def _solve(defn: ModelDefinition, prm: Params, doses: list[Dose],
           n: int) -> tuple[Solution, list[str]]:
    system, inputs, notes = build(defn, prm, doses, n)
    return solve(system.modes(), inputs, system.observe()), notes


def simulate(model_id: str, route: str | None = None, *, dose_mg: float | None = None,
             dose_mg_per_kg: float | None = None, weight_kg: float,
             duration_min: float | None = None, hours: float = 24.0, step_min: float = 1.0,
             population: int | None = None, seed: int | None = None,
             regimen: Sequence[Dose] | None = None,
             percentile_curves: bool = True, asian: bool | None = None,
             japanese: bool | None = None, age_years: float | None = None,
             observed: bool = True) -> SimulationResult:
    """Simulate plasma concentrations for one published model.

    Parameters
    ----------
    model_id : a model id from ``list_models()``.
    route : ``iv-bolus``, ``iv-infusion``, ``im``, ``intranasal``, ``sublingual``, ``oral``.
    dose_mg, dose_mg_per_kg : exactly one; the total dose (mg or mg/kg body weight).
    weight_kg : body weight (kg), used for weight-scaled models and mg/kg doses.
    duration_min : infusion duration (min), ``iv-infusion`` only (default 40 min).
    hours, step_min : output window (h) and grid step (min); ``times_h`` has
        ``hours*60/step_min + 1`` points starting at 0.
    population, seed : number of virtual patients (between-subject variability) and
        the random seed; adds ``p05``/``p50``/``p95`` curves.
    regimen : several ``Dose`` objects (multiple doses, infusion rate changes, pauses)
        instead of route/dose/duration; superposed exactly.
    percentile_curves : in population mode, also compute the p05/p50/p95 curves (else
        only per-patient Cmax, Tmax and AUC and their percentiles).
    asian, japanese, age_years : the patient's covariates; the model's published effects
        apply (Perez-Ruixo: Asian kel x0.36 and noresketamine CL x0.81, Japanese FRn
        x1.34, Qh -2.19 L/h per year above 60); a model without effects notes it.
    observed : compare the model with the peaks observed in people by the route(s)
        (``observed``; misses over 30% in ``observed_misses``).

    Returns
    -------
    SimulationResult

    Raises
    ------
    PKInputError (a ValueError) naming the field: unknown model or route (listing the
    valid ones), a missing, negative, zero or implausible dose, weight or duration, more
    than ``MAX_POINTS`` time points, or a population of more than ``MAX_WORK`` patient-time
    points (inputs.py; the message says what to change).

    References
    ----------
    Model parameters, bioavailabilities and Tmax: pk.md (each model file cites its paper).
    """
    defn = chk.check_model(model_id)
    weight = chk.check_number("weight_kg", weight_kg)
    hours_f = chk.check_number("hours", hours)
    step = chk.check_number("step_min", step_min)
    n_points = chk.check_points(hours_f, step)
    n_pop, seed_v = chk.check_population(population, seed)
    if n_pop is not None:
        chk.check_work(n_pop, n_points)
    cov = check_covariates(asian, japanese, age_years)
    doses, assumptions = _regimen(defn, route, dose_mg, dose_mg_per_kg, weight, duration_min,
                                  regimen)

    sol, notes = _solve(defn, typical_parameters(defn, weight, cov, assumptions), doses, 1)
    assumptions += notes
    times_h = np.arange(n_points, dtype=np.float64) * (step / 60.0)
    window_min = (n_points - 1) * step
    outputs = sol.c0.shape[2]
    grids = [evaluate_grid(sol, o, n_points, step) for o in range(outputs)]
    # the closed form can round a true zero (before absorption) to -1e-13: clip for display
    curve = np.maximum(grids[0].curves, 0.0) if grids[0].curves is not None else None
    assert curve is not None
    auc = sol.auc(window_min)[0] / 60.0
    auc_inf = sol.auc(math.inf)[0] / 60.0
    routes = sorted({d.route for d in doses})
    result = SimulationResult(
        model=defn.id, model_name=defn.name, drug=defn.drug,
        route=routes[0] if len(routes) == 1 else "+".join(routes),
        dose_mg=float(sum(d.dose_mg for d in doses)), weight_kg=weight,
        times_h=times_h, conc_ng_per_ml=curve[0],
        cmax_ng_per_ml=float(grids[0].cmax[0]),
        tmax_h=float(grids[0].tmax_index[0] * step / 60.0),
        auc_ng_h_per_ml=float(auc[0]), auc_inf_ng_h_per_ml=float(auc_inf[0]),
        citation=defn.citation, evidence=defn.evidence,
        caveats=[{"kind": c.kind, "text": c.text} for c in defn.caveats],
        assumptions=assumptions,
    )
    if outputs > 1 and defn.metabolite:
        mcurve = np.maximum(grids[1].curves, 0.0) if grids[1].curves is not None else None
        assert mcurve is not None
        result.metabolite = defn.metabolite
        result.metabolite_conc_ng_per_ml = mcurve[0]
        result.metabolite_cmax_ng_per_ml = float(grids[1].cmax[0])
        result.metabolite_auc_ng_h_per_ml = float(auc[1])
    if observed:
        result.observed = [c for r in routes for c in observed_checks(defn.id, r)]
        result.unchecked = [unchecked_message(defn.name, r) for r in routes
                            if not for_route(defn.drug, defn.form, r)]
    result.extrapolations = extrapolations(defn, weight, cov.age_years)
    result.fitted_bioavailability = [m for r in routes
                                     if (m := fitted_bioavailability_note(defn, r))]
    result.discrepancies = [discrepancy_note(defn, d) for d in defn.discrepancies
                            if d.route in routes]
    if n_pop is not None:
        _add_population(result, defn, doses, weight, n_pop, seed_v, n_points, step,
                        percentile_curves, cov)
    return result


def _outside(span: FittedSpan, value: float) -> str:
    """Why ``value`` is outside the fitted population, or '' when it is inside."""
    unit = "years" if span.covariate == "age_years" else "kg"
    what = "ages" if span.covariate == "age_years" else "weights"
    if span.low is not None and span.high is not None:
        if span.low <= value <= span.high:
            return ""
        return (f"{value:g} {unit} is outside the {what} the model was fitted on "
                f"({span.low:g}–{span.high:g} {unit}): the prediction is an extrapolation")
    assert span.mean is not None and span.sd is not None
    if abs(value - span.mean) <= EXTRAPOLATION_SDS * span.sd:
        return ""
    return (f"{value:g} {unit} is more than {EXTRAPOLATION_SDS:g} standard deviations from "
            f"the average {what[:-1]} of the patients the model was fitted on "
            f"({span.mean:g} {unit}, SD {span.sd:g}): the prediction is an extrapolation")


def extrapolations(defn: ModelDefinition, weight_kg: float,
                   age_years: float | None) -> list[str]:
    """Sentences for a patient outside the ages or weights the model was fitted on.

    An extrapolation is said, not refused: an 87-year-old or a 175-kg patient is real,
    and the clinician is better served by the curve with its caveat than by no curve.
    (Below 18 the esketamine model still refuses: it has no data in children at all.)
    """
    out = []
    for name, value in (("age_years", age_years), ("weight_kg", weight_kg)):
        span = defn.fitted_population.get(name)
        if span is None or value is None or not (why := _outside(span, value)):
            continue
        if name == "age_years" and span.high is not None and value > span.high and any(
                e.covariate == "age_years" for e in defn.covariates):
            why += " (its fall in liver blood flow with age is carried on past the oldest "\
                   "patient studied)"
        if name == "weight_kg" and defn.weight_scaling.method == "none":
            why += " (the model has no weight effect, so the curve is the same at any weight)"
        out.append(f"{defn.name}: {why}.")
    return out


@dataclass(frozen=True)
class FittedBioavailability:
    """A calibrated bioavailability far (over 30%) from the published one."""

    route: str
    fitted: float
    published: float
    study: str  # the study whose peaks it was fitted to, as a clinician names it
    same_study: bool  # the published figure comes from that same study
    published_source: str

    @property
    def ratio(self) -> float:
        return self.fitted / self.published


def fitted_bioavailability(defn: ModelDefinition, route: str) -> FittedBioavailability | None:
    """The route's calibrated F when it is more than 30% from the published F, else None."""
    spec = defn.routes[route]
    cal = spec.calibration
    if cal is None or "bioavailability" not in cal.fitted or spec.bioavailability is None:
        return None
    fitted, published = spec.bioavailability.value, cal.published_bioavailability.value
    if abs(fitted / published - 1.0) <= MISS_LIMIT:
        return None
    study = observations()[cal.observations[0]].label.split(",")[0]
    source = cal.published_bioavailability.source
    return FittedBioavailability(route, fitted, published, study, study in source,
                                 source.split(":")[0])


def fitted_bioavailability_note(defn: ModelDefinition, route: str) -> str:
    """Why a calibrated bioavailability far (over 30%) from the published one is not a
    measurement: it is fitted to observed peaks on this model's own disposition."""
    fb = fitted_bioavailability(defn, route)
    if fb is None:
        return ""
    whose = (f"the {fb.published:g} that the same study measured" if fb.same_study else
             f"the {fb.published:g} published ({fb.published_source})")
    return (f"{defn.name}: the {ROUTE_WORDS[route]} bioavailability of {fb.fitted:.2f} is a "
            "fitting value, not a measured bioavailability. It was chosen so that this "
            f"model's peaks match those measured in people in {fb.study}; because the "
            "model's own clearance and volumes differ from those people's, the fitted value "
            f"absorbs that mismatch and is {fb.ratio:.1f} times {whose}. Check the total "
            "exposure against what was measured before relying on it.")


def discrepancy_note(defn: ModelDefinition, d: Any) -> str:
    """A named disagreement between the model and another study, both sources named."""
    return (f"{defn.name} gives {ROUTE_WORDS[d.route]} {defn.drug} a bioavailability of "
            f"{d.model_value:g}, but {d.other_label} measured {d.other_value:g}: this model "
            f"shows about {d.model_value / d.other_value:.1f} times the exposure that study "
            "found for the same dose.")


def _add_population(result: SimulationResult, defn: ModelDefinition, doses: list[Dose],
                    weight: float, n: int, seed: int | None, n_points: int,
                    step: float, curves: bool, cov: Covariates) -> None:
    rng = np.random.default_rng(seed)
    prm, notes = sample_parameters(defn, weight, n, rng, cov)
    sol, _ = _solve(defn, prm, doses, n)
    grid = evaluate_grid(sol, 0, n_points, step, keep_curves=False, percentiles=curves)
    auc = sol.auc((n_points - 1) * step)[:, 0] / 60.0
    result.population, result.seed = n, seed
    if grid.percentiles is not None:
        result.p05, result.p50, result.p95 = np.maximum(grid.percentiles, 0.0)
    result.population_cmax_ng_per_ml = grid.cmax
    result.population_tmax_h = grid.tmax_index * (step / 60.0)
    result.population_auc_ng_h_per_ml = auc
    result.assumptions += notes
    result.population_summary = {
        name: dict(zip(("p05", "p50", "p95"), map(float, np.percentile(values, (5, 50, 95))),
                       strict=True))
        for name, values in (("cmax_ng_per_ml", grid.cmax),
                             ("tmax_h", grid.tmax_index * step / 60.0),
                             ("auc_ng_h_per_ml", auc))
    }
