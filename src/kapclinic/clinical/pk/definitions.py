"""Model definitions: load and validate the JSON files under ``models/``.

A definition is data with a source: every parameter carries its unit, evidence tag
and citation (pk.md is the only source). The loader refuses a malformed file with a
``ModelDefinitionError`` naming the file and the field, so a typo never becomes a dose.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from kapclinic.clinical.definitions import validate

from .errors import ModelDefinitionError
from .file_model import ModelFile

MODELS_DIR = Path(__file__).with_name("models")

DRUGS = ("ketamine", "esketamine")
ROUTES = ("iv-bolus", "iv-infusion", "im", "intranasal", "sublingual", "oral")
EVIDENCE_TAGS = ("P", "C", "S", "D", "unverified")
CAVEAT_KINDS = ("children", "icu", "unverified", "extrapolated", "other")
STRUCTURES = ("mammillary-2", "mammillary-3", "hepatic-3")

# unit -> (kind, factor to the internal unit: L, L/min, 1/min, min, fraction)
UNITS: dict[str, tuple[str, float]] = {
    "L": ("volume", 1.0),
    "L/kg": ("volume", 1.0),
    "L/min": ("clearance", 1.0),
    "L/h": ("clearance", 1.0 / 60.0),
    "L/min/kg": ("clearance", 1.0),
    "L/h/kg": ("clearance", 1.0 / 60.0),
    "1/min": ("rate", 1.0),
    "1/h": ("rate", 1.0 / 60.0),
    "min": ("time", 1.0),
    "h": ("time", 60.0),
    "1": ("fraction", 1.0),
}
PER_KG_UNITS = ("L/kg", "L/min/kg", "L/h/kg")

# The kind a parameter must have follows from its name's prefix (V1, CL, Q2, k10, Dsw, FRn).
NAME_PREFIX_KIND = (("CL", "clearance"), ("Q", "clearance"), ("V", "volume"),
                    ("k", "rate"), ("D", "time"), ("F", "fraction"))

REQUIRED_PARAMETERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("mammillary-2", "micro"): ("V1", "k10", "k12", "k21"),
    ("mammillary-3", "micro"): ("V1", "k10", "k12", "k21", "k13", "k31"),
    ("mammillary-2", "clearance"): ("V1", "V2", "CL", "Q2"),
    ("mammillary-3", "clearance"): ("V1", "V2", "V3", "CL", "Q2", "Q3"),
    ("hepatic-3", "clearance"): ("Vc", "Q1", "Vp1", "Q2", "Vp2", "Qh", "Vh", "kel", "kmet"),
}
METABOLITE_PARAMETERS = ("Vcn", "CLn", "Vpn", "Q3")
IIV_DISTRIBUTIONS = ("log-normal", "logit-normal")
ROUTE_KINDS = ("iv", "first-order", "zero-then-first-order", "esketamine-nasal")
CALIBRATED = ("ka", "bioavailability", "lag")  # what a calibration may fit, in this order
COVARIATES = ("asian", "japanese", "age_years")
COVARIATE_EFFECTS = ("multiply", "per_year_above")


@dataclass(frozen=True)
class Sourced:
    """A number with its unit, evidence tag and source text."""

    value: float
    unit: str
    evidence: str
    source: str


@dataclass(frozen=True)
class Variability:
    """Between-subject variability of one parameter: CV (fraction) or logit SD."""

    magnitude: float
    distribution: str
    evidence: str
    source: str
    assumed: bool = False


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float
    unit: str
    kind: str
    evidence: str
    source: str
    iiv: Variability | None = None


@dataclass(frozen=True)
class WeightScaling:
    method: str  # per_kg | allometric | none
    reference_weight_kg: float = 70.0
    volume_exponent: float = 1.0
    clearance_exponent: float = 1.0
    note: str = ""


@dataclass(frozen=True)
class Calibration:
    """How a first-order route's absorption was fitted to observed data (calibration.py).

    ``observations``: ids in observations.json; ``fitted``: which of ka, bioavailability,
    lag were fitted [D]; the bioavailability is kept within the range the sources give
    (``bioavailability_range``, low/high) and the lag below ``lag_max``.
    """

    observations: tuple[str, ...]
    fitted: tuple[str, ...]
    bioavailability_range: tuple[float, float] | None
    range_source: str
    lag_max: Sourced | None
    published_bioavailability: Sourced
    published_tmax: Sourced
    note: str = ""


@dataclass(frozen=True)
class Route:
    name: str
    kind: str
    bioavailability: Sourced | None = None
    tmax: Sourced | None = None
    ka: Sourced | None = None
    params: Mapping[str, str] = field(default_factory=dict)  # role -> parameter name
    device_mg: float | None = None
    device_interval: Sourced | None = None
    lag: Sourced | None = None
    note: str = ""
    calibration: Calibration | None = None


@dataclass(frozen=True)
class CovariateEffect:
    """A published covariate effect on one parameter.

    ``multiply``: the parameter is multiplied by ``value`` when the (yes/no) covariate
    holds; ``per_year_above``: ``value`` (in ``unit``) is added per year above
    ``threshold`` (age).
    """

    covariate: str
    parameter: str
    effect: str
    value: float
    unit: str
    threshold: float | None
    evidence: str
    source: str


@dataclass(frozen=True)
class Caveat:
    kind: str
    text: str


@dataclass(frozen=True)
class FittedSpan:
    """The ages or weights of the people a model was fitted on: a range (``low``-``high``)
    where the paper gives one, else its ``mean`` and ``sd``."""

    covariate: str  # age_years | weight_kg
    low: float | None
    high: float | None
    mean: float | None
    sd: float | None
    evidence: str
    source: str


@dataclass(frozen=True)
class Discrepancy:
    """A quantity of the model that another published study found very different."""

    route: str
    quantity: str  # bioavailability
    model_value: float
    model_source: str
    other_value: float
    other_label: str
    other_source: str
    evidence: str


@dataclass(frozen=True)
class ModelDefinition:
    """One published model, validated. Units are as published; see ``structure.py``."""

    id: str
    name: str
    drug: str
    form: str
    structure: str
    parameterisation: str
    parameters: Mapping[str, Parameter]
    weight_scaling: WeightScaling
    routes: Mapping[str, Route]
    citation: str
    evidence: str
    population: str
    caveats: tuple[Caveat, ...]
    default_cv: float | None
    default_cv_applies_to: tuple[str, ...]
    default_cv_note: str
    metabolite: str | None
    source_file: str
    covariates: tuple[CovariateEffect, ...] = ()
    fitted_population: Mapping[str, FittedSpan] = field(default_factory=dict)
    discrepancies: tuple[Discrepancy, ...] = ()

    def summary(self) -> dict[str, Any]:
        """JSON-ready row for ``pk models``: id, drug, routes, source, evidence, population."""
        return {
            "id": self.id,
            "name": self.name,
            "drug": self.drug,
            "form": self.form,
            "structure": self.structure,
            "routes": list(self.routes),
            "source": self.citation,
            "evidence": self.evidence,
            "population": self.population,
            "caveats": [{"kind": c.kind, "text": c.text} for c in self.caveats],
            "metabolite": self.metabolite,
        }


class Reader:
    """Typed field access that turns every problem into a ModelDefinitionError."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, where: str, problem: str) -> ModelDefinitionError:
        return ModelDefinitionError(self.filename, where, problem)

    def obj(self, data: Any, where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, "must be an object")
        return data

    def get(self, data: dict[str, Any], key: str, where: str) -> Any:
        if key not in data:
            raise self.fail(f"{where}{key}", "is required")
        return data[key]

    def text(self, data: dict[str, Any], key: str, where: str = "", *,
             choices: tuple[str, ...] | None = None) -> str:
        value = self.get(data, key, where)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}{key}", "must be a non-empty string")
        if choices is not None and value not in choices:
            raise self.fail(f"{where}{key}", f"'{value}' is not one of {', '.join(choices)}")
        return value

    def number(self, data: dict[str, Any], key: str, where: str = "", *,
               positive: bool = True) -> float:
        value = self.get(data, key, where)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{where}{key}", "must be a number")
        if not math.isfinite(value) or (positive and value <= 0):
            raise self.fail(f"{where}{key}", "must be a finite positive number")
        return float(value)

    def sourced(self, data: Any, where: str, unit: str | None = None, *,
                positive: bool = True) -> Sourced:
        d = self.obj(data, where)
        got_unit = self.text(d, "unit", f"{where}.") if unit is None else unit
        if got_unit not in UNITS:
            raise self.fail(f"{where}.unit", f"unknown unit '{got_unit}'")
        return Sourced(
            value=self.number(d, "value", f"{where}.", positive=positive),
            unit=got_unit,
            evidence=self.text(d, "evidence", f"{where}.", choices=EVIDENCE_TAGS),
            source=self.text(d, "source", f"{where}."),
        )


def _kind_for_name(name: str) -> str | None:
    for prefix, kind in NAME_PREFIX_KIND:
        if name.startswith(prefix):
            return kind
    return None


def _parameter(r: Reader, name: str, data: Any, scaling: str) -> Parameter:
    where = f"parameters.{name}"
    s = r.sourced(data, where)
    kind = UNITS[s.unit][0]
    expected = _kind_for_name(name)
    if expected is None:
        raise r.fail(where, "name must start with V, CL, Q, k, D or F to say what it is")
    if kind != expected:
        raise r.fail(f"{where}.unit", f"'{s.unit}' is a {kind} unit but {name} is a {expected}")
    if (s.unit in PER_KG_UNITS) != (scaling == "per_kg" and kind in ("volume", "clearance")):
        raise r.fail(f"{where}.unit", f"'{s.unit}' does not fit weight_scaling '{scaling}'")
    if kind == "fraction" and s.value > 1:
        raise r.fail(f"{where}.value", "a fraction must be in (0, 1]")
    iiv = None
    raw = r.obj(data, where)
    if "iiv" in raw:
        d = r.obj(raw["iiv"], f"{where}.iiv")
        iiv = Variability(
            magnitude=r.number(d, "cv" if "cv" in d else "sd", f"{where}.iiv."),
            distribution=r.text(d, "distribution", f"{where}.iiv.", choices=IIV_DISTRIBUTIONS),
            evidence=r.text(d, "evidence", f"{where}.iiv.", choices=EVIDENCE_TAGS),
            source=r.text(d, "source", f"{where}.iiv."),
        )
        if iiv.magnitude > 3:
            raise r.fail(f"{where}.iiv", "variability above 300% is not plausible")
    return Parameter(name, s.value, s.unit, kind, s.evidence, s.source, iiv)


def _calibration(r: Reader, route: Route, data: Any, where: str,
                 model: tuple[str, str]) -> Calibration:
    """Check a calibration block against the route's values and the observations file."""
    from .observations import observations  # the observations file reuses this module

    d = r.obj(data, where)
    ids = r.get(d, "observations", f"{where}.")
    if not isinstance(ids, list) or not ids:
        raise r.fail(f"{where}.observations", "must be a non-empty list of observation ids")
    known = observations()
    for i, oid in enumerate(ids):
        obs = known.get(oid) if isinstance(oid, str) else None
        if obs is None:
            raise r.fail(f"{where}.observations[{i}]", f"unknown observation {oid!r}")
        if (obs.drug, obs.form, obs.route) != (model[0], model[1], route.name):
            raise r.fail(f"{where}.observations[{i}]",
                         f"'{oid}' is {obs.form} {obs.drug} by {obs.route}, not this route")
    pub = r.obj(r.get(d, "published", f"{where}."), f"{where}.published")
    published_f = r.sourced(r.get(pub, "bioavailability", f"{where}.published."),
                            f"{where}.published.bioavailability", "1")
    published_tmax = r.sourced(r.get(pub, "tmax", f"{where}.published."),
                               f"{where}.published.tmax")
    if published_f.value > 1:
        raise r.fail(f"{where}.published.bioavailability.value", "a fraction must be in (0, 1]")
    if UNITS[published_tmax.unit][0] != "time":
        raise r.fail(f"{where}.published.tmax.unit", "must be a time unit (min or h)")
    fitted = r.get(d, "fitted", f"{where}.")
    if not isinstance(fitted, list) or "ka" not in fitted \
            or any(f not in CALIBRATED for f in fitted):
        raise r.fail(f"{where}.fitted", f"must list 'ka' and any of {', '.join(CALIBRATED[1:])}")
    values = {"ka": route.ka, "bioavailability": route.bioavailability, "lag": route.lag}
    for name in fitted:
        value = values[name]
        if value is None:
            raise r.fail(f"routes.{route.name}.{name}",
                         "is required: the calibration fitted it")
        if value.evidence != "D":
            raise r.fail(f"routes.{route.name}.{name}.evidence",
                         "a calibrated value is derived: tag it D")
    span = None
    range_source = ""
    if "bioavailability" in fitted:
        rng = r.obj(r.get(d, "bioavailability_range", f"{where}."),
                    f"{where}.bioavailability_range")
        low = r.number(rng, "low", f"{where}.bioavailability_range.")
        high = r.number(rng, "high", f"{where}.bioavailability_range.")
        range_source = r.text(rng, "source", f"{where}.bioavailability_range.")
        if not low <= high <= 1:
            raise r.fail(f"{where}.bioavailability_range", "needs low <= high <= 1")
        assert route.bioavailability is not None
        if not low - 1e-12 <= route.bioavailability.value <= high + 1e-12:
            raise r.fail(f"routes.{route.name}.bioavailability.value",
                         f"outside the published range {low:g}-{high:g}")
        span = (low, high)
    lag_max = None
    if "lag" in fitted:
        lag_max = r.sourced(r.get(d, "lag_max", f"{where}."), f"{where}.lag_max")
        assert route.lag is not None
        if UNITS[lag_max.unit][0] != "time" or \
                route.lag.value * UNITS[route.lag.unit][1] > \
                lag_max.value * UNITS[lag_max.unit][1] + 1e-9:
            raise r.fail(f"routes.{route.name}.lag.value", "is above the calibration's lag_max")
    return Calibration(tuple(ids), tuple(fitted), span, range_source, lag_max, published_f,
                       published_tmax, note=str(d.get("note", "")))


def _covariates(r: Reader, data: Any, params: Mapping[str, Parameter]) -> tuple[
        CovariateEffect, ...]:
    if not isinstance(data, list):
        raise r.fail("covariates", "must be a list")
    out = []
    for i, item in enumerate(data):
        where = f"covariates[{i}]."
        d = r.obj(item, where[:-1])
        covariate = r.text(d, "covariate", where, choices=COVARIATES)
        parameter = r.text(d, "parameter", where)
        if parameter not in params:
            raise r.fail(f"{where}parameter", f"names unknown parameter '{parameter}'")
        effect = r.text(d, "effect", where, choices=COVARIATE_EFFECTS)
        if (effect == "per_year_above") != (covariate == "age_years"):
            raise r.fail(f"{where}effect", "age takes 'per_year_above'; yes/no covariates "
                         "take 'multiply'")
        threshold = None
        unit = "1"
        if effect == "per_year_above":
            threshold = r.number(d, "threshold", where)
            unit = r.text(d, "unit", where)
            if unit != params[parameter].unit:
                raise r.fail(f"{where}unit", f"must be {params[parameter].unit}, the unit of "
                             f"{parameter}")
        out.append(CovariateEffect(
            covariate, parameter, effect,
            r.number(d, "value", where, positive=effect == "multiply"), unit, threshold,
            r.text(d, "evidence", where, choices=EVIDENCE_TAGS), r.text(d, "source", where)))
    return tuple(out)


def _route(r: Reader, name: str, data: Any, params: Mapping[str, Parameter],
           model: tuple[str, str] = ("", "")) -> Route:
    where = f"routes.{name}"
    d = r.obj(data, where)
    kind = r.text(d, "kind", f"{where}.", choices=ROUTE_KINDS)
    if (kind == "iv") != name.startswith("iv-"):
        raise r.fail(f"{where}.kind", f"kind '{kind}' does not fit route '{name}'")
    note = str(d.get("note", ""))
    if kind == "iv":
        return Route(name, kind, note=note)
    if kind == "first-order":
        f = r.sourced(r.get(d, "bioavailability", f"{where}."), f"{where}.bioavailability", "1")
        if f.value > 1:
            raise r.fail(f"{where}.bioavailability.value", "a fraction must be in (0, 1]")
        tmax = ka = None
        if "ka" in d:
            ka = r.sourced(d["ka"], f"{where}.ka")
            if UNITS[ka.unit][0] != "rate":
                raise r.fail(f"{where}.ka.unit", "must be a rate unit (1/min or 1/h)")
        elif "tmax" in d:
            tmax = r.sourced(d["tmax"], f"{where}.tmax")
            if UNITS[tmax.unit][0] != "time":
                raise r.fail(f"{where}.tmax.unit", "must be a time unit (min or h)")
        else:
            raise r.fail(f"{where}.ka", "is required (or tmax, to derive ka from)")
        lag = r.sourced(d["lag"], f"{where}.lag", positive=False) if "lag" in d else None
        if lag is not None and lag.value < 0:
            raise r.fail(f"{where}.lag.value", "must not be negative")
        if lag is not None and UNITS[lag.unit][0] != "time":
            raise r.fail(f"{where}.lag.unit", "must be a time unit (min or h)")
        route = Route(name, kind, bioavailability=f, tmax=tmax, ka=ka, lag=lag, note=note)
        if "calibration" in d:
            route = replace(route, calibration=_calibration(r, route, d["calibration"],
                                                            f"{where}.calibration", model))
        return route
    roles = {
        "zero-then-first-order": ("bioavailability", "duration", "ka"),
        "esketamine-nasal": ("nasal_fraction", "nasal_ka", "later_device_factor",
                             "swallowed_bioavailability", "swallowed_duration", "swallowed_ka"),
    }[kind]
    refs = r.obj(r.get(d, "params", f"{where}."), f"{where}.params")
    for role in roles:
        ref = r.text(refs, role, f"{where}.params.")
        if ref not in params:
            raise r.fail(f"{where}.params.{role}", f"names unknown parameter '{ref}'")
    device_mg = interval = None
    if kind == "esketamine-nasal":
        device_mg = r.number(d, "device_mg", f"{where}.")
        interval = r.sourced(r.get(d, "device_interval", f"{where}."), f"{where}.device_interval")
    return Route(name, kind, params={k: str(refs[k]) for k in roles}, device_mg=device_mg,
                 device_interval=interval, note=note)


def parse_definition(data: Any, filename: str) -> ModelDefinition:
    """Validate already-decoded JSON; raise ModelDefinitionError naming file and field."""
    r = Reader(filename)
    validate(ModelFile, data, r.fail)  # shape and types; the checks between fields follow
    d = r.obj(data, "(top level)")
    if d.get("schema_version") != 1:
        raise r.fail("schema_version", "must be 1")
    model_id = r.text(d, "id")
    stem = Path(filename).stem
    if model_id != stem:
        raise r.fail("id", f"'{model_id}' must match the file name '{stem}'")
    structure = r.text(d, "structure", choices=STRUCTURES)
    parameterisation = r.text(d, "parameterisation", choices=("micro", "clearance"))
    if (structure, parameterisation) not in REQUIRED_PARAMETERS:
        raise r.fail("parameterisation", f"'{parameterisation}' is not supported for {structure}")

    ws = r.obj(r.get(d, "weight_scaling", ""), "weight_scaling")
    method = r.text(ws, "method", "weight_scaling.", choices=("per_kg", "allometric", "none"))
    scaling = WeightScaling(method=method, note=str(ws.get("note", "")))
    if method == "allometric":
        scaling = WeightScaling(
            method=method,
            reference_weight_kg=r.number(ws, "reference_weight_kg", "weight_scaling."),
            volume_exponent=r.number(ws, "volume_exponent", "weight_scaling."),
            clearance_exponent=r.number(ws, "clearance_exponent", "weight_scaling."),
            note=scaling.note,
        )

    raw_params = r.obj(r.get(d, "parameters", ""), "parameters")
    params = {name: _parameter(r, name, value, method) for name, value in raw_params.items()}
    required = REQUIRED_PARAMETERS[(structure, parameterisation)]
    metabolite = d.get("metabolite")
    if metabolite is not None:
        if structure != "hepatic-3" or not isinstance(metabolite, str):
            raise r.fail("metabolite", "a metabolite (name string) needs structure hepatic-3")
        required = required + METABOLITE_PARAMETERS
    for name in required:
        if name not in params:
            raise r.fail(f"parameters.{name}", f"is required for {structure} ({parameterisation})")

    raw_routes = r.obj(r.get(d, "routes", ""), "routes")
    if not raw_routes:
        raise r.fail("routes", "must list at least one route")
    routes = {}
    for name, spec in raw_routes.items():
        if name not in ROUTES:
            raise r.fail(f"routes.{name}", f"unknown route; valid: {', '.join(ROUTES)}")
        routes[name] = _route(r, name, spec, params, (str(d.get("drug")), str(d.get("form"))))

    var = r.obj(r.get(d, "variability", ""), "variability")
    default_cv = None
    applies_to: tuple[str, ...] = ()
    if "default_cv" in var:
        default_cv = r.number(var, "default_cv", "variability.")
        if default_cv > 1.5:
            raise r.fail("variability.default_cv", "must be at most 1.5")
        names = r.get(var, "default_cv_applies_to", "variability.")
        if not isinstance(names, list) or not names:
            raise r.fail("variability.default_cv_applies_to", "must be a non-empty list")
        for name in names:
            if name not in params:
                raise r.fail("variability.default_cv_applies_to", f"unknown parameter '{name}'")
            if params[name].iiv is not None:
                raise r.fail("variability.default_cv_applies_to",
                             f"'{name}' already has published variability")
        applies_to = tuple(names)
    note = r.text(var, "note", "variability.")

    caveats = []
    raw_caveats = r.get(d, "caveats", "")
    if not isinstance(raw_caveats, list):
        raise r.fail("caveats", "must be a list")
    for i, c in enumerate(raw_caveats):
        co = r.obj(c, f"caveats[{i}]")
        caveats.append(Caveat(r.text(co, "kind", f"caveats[{i}].", choices=CAVEAT_KINDS),
                              r.text(co, "text", f"caveats[{i}].")))

    return ModelDefinition(
        id=model_id,
        name=r.text(d, "name"),
        drug=r.text(d, "drug", choices=DRUGS),
        form=r.text(d, "form", choices=("racemic", "S-enantiomer")),
        structure=structure,
        parameterisation=parameterisation,
        parameters=params,
        weight_scaling=scaling,
        routes=routes,
        citation=r.text(d, "citation"),
        evidence=r.text(d, "evidence", choices=EVIDENCE_TAGS),
        population=r.text(d, "population"),
        caveats=tuple(caveats),
        default_cv=default_cv,
        default_cv_applies_to=applies_to,
        default_cv_note=note,
        metabolite=metabolite,
        source_file=filename,
        covariates=_covariates(r, d["covariates"], params) if "covariates" in d else (),
        fitted_population=_fitted_population(r, d.get("fitted_population", {})),
        discrepancies=_discrepancies(r, d.get("discrepancies", []), routes),
    )


FITTED_COVARIATES = ("age_years", "weight_kg")


def _fitted_population(r: Reader, data: Any) -> dict[str, FittedSpan]:
    """The fitted population's ages/weights: each a low-high range or a mean and SD."""
    d = r.obj(data, "fitted_population")
    out = {}
    for name, raw in d.items():
        where = f"fitted_population.{name}"
        if name not in FITTED_COVARIATES:
            raise r.fail(where, f"unknown; valid: {', '.join(FITTED_COVARIATES)}")
        s = r.obj(raw, where)
        ranged = "low" in s or "high" in s
        if ranged == ("mean" in s or "sd" in s):
            raise r.fail(where, "give either low and high or mean and sd")
        nums = {k: r.number(s, k, f"{where}.") for k in
                (("low", "high") if ranged else ("mean", "sd"))}
        if ranged and not nums["low"] < nums["high"]:
            raise r.fail(where, "needs low < high")
        out[name] = FittedSpan(name, nums.get("low"), nums.get("high"), nums.get("mean"),
                               nums.get("sd"),
                               r.text(s, "evidence", f"{where}.", choices=EVIDENCE_TAGS),
                               r.text(s, "source", f"{where}."))
    return out


def _discrepancies(r: Reader, data: Any, routes: Mapping[str, Route]) -> tuple[
        Discrepancy, ...]:
    if not isinstance(data, list):
        raise r.fail("discrepancies", "must be a list")
    out = []
    for i, raw in enumerate(data):
        where = f"discrepancies[{i}]."
        d = r.obj(raw, where[:-1])
        route = r.text(d, "route", where, choices=tuple(routes))
        out.append(Discrepancy(
            route, r.text(d, "quantity", where, choices=("bioavailability",)),
            r.number(d, "model_value", where), r.text(d, "model_source", where),
            r.number(d, "other_value", where), r.text(d, "other_label", where),
            r.text(d, "other_source", where),
            r.text(d, "evidence", where, choices=EVIDENCE_TAGS)))
    return tuple(out)


def read_json(path: Path) -> Any:
    """Decode a data file; invalid JSON is a ModelDefinitionError naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelDefinitionError(path.name, "(file)", f"is not valid JSON: {exc}") from exc


def load_definition(path: Path) -> ModelDefinition:
    """Read and validate one model file."""
    return parse_definition(read_json(path), path.name)


@cache
def load_all() -> dict[str, ModelDefinition]:
    """All shipped models by id, validated once per process."""
    return {d.id: d for d in map(load_definition, sorted(MODELS_DIR.glob("*.json")))}
