"""Model definitions: load and validate the JSON files under ``models/``.

A definition is data with a source: every parameter carries its unit, evidence tag
and citation (pk.md is the only source). The loader refuses a malformed file with a
``ModelDefinitionError`` naming the file and the field, so a typo never becomes a dose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, get_args

from kapclinic.clinical.definitions import read_json as shared_read_json
from kapclinic.clinical.definitions import validate

from . import file_model as fm
from .errors import ModelDefinitionError
from .file_model import ModelFile

MODELS_DIR = Path(__file__).with_name("models")

# The vocabularies, as the file model types them (one list of each).
DRUGS: tuple[str, ...] = get_args(fm.Drug)
ROUTES: tuple[str, ...] = get_args(fm.RouteName)
EVIDENCE_TAGS: tuple[str, ...] = get_args(fm.Evidence)

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
CALIBRATED = ("ka", "bioavailability", "lag")  # what a calibration may fit, in this order


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


class Checker:
    """The checks a model file's shape cannot express, each problem a ModelDefinitionError
    naming the file and the field."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, where: str, problem: str) -> ModelDefinitionError:
        return ModelDefinitionError(self.filename, where, problem)


def _sourced(v: fm.Fraction | fm.Rate | fm.Time | fm.Lag) -> Sourced:
    return Sourced(float(v.value), "1" if isinstance(v, fm.Fraction) else v.unit, v.evidence,
                   v.source)


def _kind_for_name(name: str) -> str | None:
    for prefix, kind in NAME_PREFIX_KIND:
        if name.startswith(prefix):
            return kind
    return None


def _parameter(r: Checker, name: str, p: fm.Parameter, scaling: str) -> Parameter:
    where = f"parameters.{name}"
    kind = UNITS[p.unit][0]
    expected = _kind_for_name(name)
    if expected is None:
        raise r.fail(where, "name must start with V, CL, Q, k, D or F to say what it is")
    if kind != expected:
        raise r.fail(f"{where}.unit", f"'{p.unit}' is a {kind} unit but {name} is a {expected}")
    if (p.unit in PER_KG_UNITS) != (scaling == "per_kg" and kind in ("volume", "clearance")):
        raise r.fail(f"{where}.unit", f"'{p.unit}' does not fit weight_scaling '{scaling}'")
    if kind == "fraction" and p.value > 1:
        raise r.fail(f"{where}.value", "a fraction must be in (0, 1]")
    iiv = None
    if p.iiv is not None:
        magnitude = p.iiv.cv if p.iiv.cv is not None else p.iiv.sd
        if magnitude is None:
            raise r.fail(f"{where}.iiv.sd", "is required (or cv)")
        if magnitude > 3:
            raise r.fail(f"{where}.iiv", "variability above 300% is not plausible")
        iiv = Variability(magnitude, p.iiv.distribution, p.iiv.evidence, p.iiv.source)
    return Parameter(name, float(p.value), p.unit, kind, p.evidence, p.source, iiv)


def _calibration(r: Checker, route: Route, c: fm.Calibration, where: str,
                 model: tuple[str, str]) -> Calibration:
    """Check a calibration block against the route's values and the observations file."""
    from .observations import observations  # the observations file reuses this module

    known = observations()
    for i, oid in enumerate(c.observations):
        obs = known.get(oid)
        if obs is None:
            raise r.fail(f"{where}.observations[{i}]", f"unknown observation {oid!r}")
        if (obs.drug, obs.form, obs.route) != (model[0], model[1], route.name):
            raise r.fail(f"{where}.observations[{i}]",
                         f"'{oid}' is {obs.form} {obs.drug} by {obs.route}, not this route")
    if "ka" not in c.fitted:
        raise r.fail(f"{where}.fitted", f"must list 'ka' and any of {', '.join(CALIBRATED[1:])}")
    values = {"ka": route.ka, "bioavailability": route.bioavailability, "lag": route.lag}
    for name in c.fitted:
        value = values[name]
        if value is None:
            raise r.fail(f"routes.{route.name}.{name}",
                         "is required: the calibration fitted it")
        if value.evidence != "D":
            raise r.fail(f"routes.{route.name}.{name}.evidence",
                         "a calibrated value is derived: tag it D")
    span = None
    range_source = ""
    if "bioavailability" in c.fitted:
        rng = c.bioavailability_range
        if rng is None:
            raise r.fail(f"{where}.bioavailability_range", "is required")
        if not rng.low <= rng.high <= 1:
            raise r.fail(f"{where}.bioavailability_range", "needs low <= high <= 1")
        assert route.bioavailability is not None
        if not rng.low - 1e-12 <= route.bioavailability.value <= rng.high + 1e-12:
            raise r.fail(f"routes.{route.name}.bioavailability.value",
                         f"outside the published range {rng.low:g}-{rng.high:g}")
        span, range_source = (float(rng.low), float(rng.high)), rng.source
    lag_max = None
    if "lag" in c.fitted:
        if c.lag_max is None:
            raise r.fail(f"{where}.lag_max", "is required")
        lag_max = _sourced(c.lag_max)
        assert route.lag is not None
        if route.lag.value * UNITS[route.lag.unit][1] > \
                lag_max.value * UNITS[lag_max.unit][1] + 1e-9:
            raise r.fail(f"routes.{route.name}.lag.value", "is above the calibration's lag_max")
    return Calibration(tuple(c.observations), tuple(c.fitted), span, range_source, lag_max,
                       _sourced(c.published.bioavailability), _sourced(c.published.tmax),
                       note=c.note)


def _covariates(r: Checker, data: list[fm.CovariateEffect],
                params: Mapping[str, Parameter]) -> tuple[CovariateEffect, ...]:
    out = []
    for i, c in enumerate(data):
        where = f"covariates[{i}]."
        if c.parameter not in params:
            raise r.fail(f"{where}parameter", f"names unknown parameter '{c.parameter}'")
        if (c.effect == "per_year_above") != (c.covariate == "age_years"):
            raise r.fail(f"{where}effect", "age takes 'per_year_above'; yes/no covariates "
                         "take 'multiply'")
        unit = "1"
        if c.effect == "per_year_above":
            if c.threshold is None:
                raise r.fail(f"{where}threshold", "is required")
            if c.unit != params[c.parameter].unit:
                raise r.fail(f"{where}unit", f"must be {params[c.parameter].unit}, the unit of "
                             f"{c.parameter}")
            unit = c.unit
        elif c.value <= 0:
            raise r.fail(f"{where}value", "must be a finite positive number")
        out.append(CovariateEffect(c.covariate, c.parameter, c.effect, float(c.value), unit,
                                   None if c.threshold is None else float(c.threshold),
                                   c.evidence, c.source))
    return tuple(out)


def _route(r: Checker, name: str, d: fm.Route, params: Mapping[str, Parameter],
           model: tuple[str, str] = ("", "")) -> Route:
    where = f"routes.{name}"
    if name not in ROUTES:
        raise r.fail(where, f"unknown route; valid: {', '.join(ROUTES)}")
    if (d.kind == "iv") != name.startswith("iv-"):
        raise r.fail(f"{where}.kind", f"kind '{d.kind}' does not fit route '{name}'")
    if isinstance(d, fm.IvRoute):
        return Route(name, d.kind, note=d.note)
    if isinstance(d, fm.FirstOrderRoute):
        if d.ka is None and d.tmax is None:
            raise r.fail(f"{where}.ka", "is required (or tmax, to derive ka from)")
        route = Route(name, d.kind, bioavailability=_sourced(d.bioavailability),
                      tmax=None if d.ka is not None or d.tmax is None else _sourced(d.tmax),
                      ka=None if d.ka is None else _sourced(d.ka),
                      lag=None if d.lag is None else _sourced(d.lag), note=d.note)
        if d.calibration is not None:
            route = replace(route, calibration=_calibration(r, route, d.calibration,
                                                            f"{where}.calibration", model))
        return route
    refs = d.params.model_dump()
    for role, ref in refs.items():
        if ref not in params:
            raise r.fail(f"{where}.params.{role}", f"names unknown parameter '{ref}'")
    if isinstance(d, fm.EsketamineNasalRoute):
        return Route(name, d.kind, params=refs, device_mg=float(d.device_mg),
                     device_interval=_sourced(d.device_interval), note=d.note)
    return Route(name, d.kind, params=refs, note=d.note)


def parse_definition(data: Any, filename: str) -> ModelDefinition:
    """Validate already-decoded JSON: its shape and types through ``ModelFile``, then what
    needs the whole file; raise ModelDefinitionError naming file and field."""
    r = Checker(filename)
    d = validate(ModelFile, data, r.fail)
    stem = Path(filename).stem
    if d.id != stem:
        raise r.fail("id", f"'{d.id}' must match the file name '{stem}'")
    if (d.structure, d.parameterisation) not in REQUIRED_PARAMETERS:
        raise r.fail("parameterisation", f"'{d.parameterisation}' is not supported for {d.structure}")

    ws = d.weight_scaling
    scaling = WeightScaling(method=ws.method, note=ws.note)
    if ws.method == "allometric":
        for key in ("reference_weight_kg", "volume_exponent", "clearance_exponent"):
            if getattr(ws, key) is None:
                raise r.fail(f"weight_scaling.{key}", "is required")
        assert ws.reference_weight_kg and ws.volume_exponent and ws.clearance_exponent
        scaling = WeightScaling(ws.method, ws.reference_weight_kg, ws.volume_exponent,
                                ws.clearance_exponent, ws.note)

    params = {name: _parameter(r, name, p, ws.method) for name, p in d.parameters.items()}
    required = REQUIRED_PARAMETERS[(d.structure, d.parameterisation)]
    if d.metabolite is not None:
        if d.structure != "hepatic-3":
            raise r.fail("metabolite", "a metabolite (name string) needs structure hepatic-3")
        required = required + METABOLITE_PARAMETERS
    for name in required:
        if name not in params:
            raise r.fail(f"parameters.{name}", f"is required for {d.structure} ({d.parameterisation})")

    if not d.routes:
        raise r.fail("routes", "must list at least one route")
    routes = {name: _route(r, name, spec, params, (d.drug, d.form))
              for name, spec in d.routes.items()}

    var = d.variability
    applies_to: tuple[str, ...] = ()
    if var.default_cv is not None:
        if var.default_cv_applies_to is None:
            raise r.fail("variability.default_cv_applies_to", "is required")
        for name in var.default_cv_applies_to:
            if name not in params:
                raise r.fail("variability.default_cv_applies_to", f"unknown parameter '{name}'")
            if params[name].iiv is not None:
                raise r.fail("variability.default_cv_applies_to",
                             f"'{name}' already has published variability")
        applies_to = tuple(var.default_cv_applies_to)

    return ModelDefinition(
        id=d.id, name=d.name, drug=d.drug, form=d.form, structure=d.structure,
        parameterisation=d.parameterisation, parameters=params, weight_scaling=scaling,
        routes=routes, citation=d.citation, evidence=d.evidence, population=d.population,
        caveats=tuple(Caveat(c.kind, c.text) for c in d.caveats),
        default_cv=None if var.default_cv is None else float(var.default_cv),
        default_cv_applies_to=applies_to, default_cv_note=var.note, metabolite=d.metabolite,
        source_file=filename, covariates=_covariates(r, d.covariates, params),
        fitted_population=_fitted_population(r, d.fitted_population),
        discrepancies=_discrepancies(r, d.discrepancies, routes),
    )


FITTED_COVARIATES = ("age_years", "weight_kg")


def _fitted_population(r: Checker, data: fm.FittedPopulation) -> dict[str, FittedSpan]:
    """The fitted population's ages/weights: each a low-high range or a mean and SD."""
    out = {}
    for name in FITTED_COVARIATES:
        s: fm.FittedSpan | None = getattr(data, name)
        if s is None:
            continue
        where = f"fitted_population.{name}"
        ranged = s.low is not None or s.high is not None
        if ranged == (s.mean is not None or s.sd is not None):
            raise r.fail(where, "give either low and high or mean and sd")
        for key in ("low", "high") if ranged else ("mean", "sd"):
            if getattr(s, key) is None:
                raise r.fail(f"{where}.{key}", "is required")
        if ranged and not (s.low or 0) < (s.high or 0):
            raise r.fail(where, "needs low < high")
        out[name] = FittedSpan(name, s.low, s.high, s.mean, s.sd, s.evidence, s.source)
    return out


def _discrepancies(r: Checker, data: list[fm.Discrepancy],
                   routes: Mapping[str, Route]) -> tuple[Discrepancy, ...]:
    out = []
    for i, d in enumerate(data):
        if d.route not in routes:
            raise r.fail(f"discrepancies[{i}].route",
                         f"'{d.route}' is not one of {', '.join(routes)}")
        out.append(Discrepancy(d.route, d.quantity, float(d.model_value), d.model_source,
                               float(d.other_value), d.other_label, d.other_source, d.evidence))
    return tuple(out)


def read_json(path: Path) -> Any:
    """Decode a data file; invalid JSON is a ModelDefinitionError naming the file."""
    return shared_read_json(path, lambda field, problem: ModelDefinitionError(path.name, field, problem))


def load_definition(path: Path) -> ModelDefinition:
    """Read and validate one model file."""
    return parse_definition(read_json(path), path.name)


@cache
def load_all() -> dict[str, ModelDefinition]:
    """All shipped models by id, validated once per process."""
    return {d.id: d for d in map(load_definition, sorted(MODELS_DIR.glob("*.json")))}
