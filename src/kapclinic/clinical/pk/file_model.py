"""The shape and types of the PK data files: a model definition (``models/*.json``) and the
observed concentrations the models are checked against (``observations.json``). ``Unit``
lists the units of ``definitions.UNITS`` (a test keeps the two the same).

Shape and types only; ``definitions.py`` checks what needs the whole file (a parameter's
unit fits its name and the weight scaling, the structure's parameters are all there, a
fraction is at most 1, calibrations, routes and covariates name real parameters and
observations). A route's fields depend on its ``kind``: each kind is its own model.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Tag

from kapclinic.clinical.definitions import NonEmpty, Strict, Text, tagged_by

Evidence = Literal["P", "C", "S", "D", "unverified"]
Unit = Literal["L", "L/kg", "L/min", "L/h", "L/min/kg", "L/h/kg", "1/min", "1/h", "min", "h", "1"]
RateUnit = Literal["1/min", "1/h"]
TimeUnit = Literal["min", "h"]
Drug = Literal["ketamine", "esketamine"]
Form = Literal["racemic", "S-enantiomer"]
RouteName = Literal["iv-bolus", "iv-infusion", "im", "intranasal", "sublingual", "oral"]
RouteKind = Literal["iv", "first-order", "zero-then-first-order", "esketamine-nasal"]
Positive = Annotated[float, Field(gt=0)]


class Variability(Strict):
    cv: Positive | None = None
    sd: Positive | None = None
    distribution: Literal["log-normal", "logit-normal"]
    evidence: Evidence
    source: Text


class Parameter(Strict):
    value: Positive
    unit: Unit
    evidence: Evidence
    source: Text
    iiv: Variability | None = None


class WeightScaling(Strict):
    method: Literal["per_kg", "allometric", "none"]
    reference_weight_kg: Positive | None = None
    volume_exponent: Positive | None = None
    clearance_exponent: Positive | None = None
    note: str = ""


class DefaultVariability(Strict):
    default_cv: Annotated[float, Field(gt=0, le=1.5)] | None = None
    default_cv_applies_to: NonEmpty[Text] | None = None
    note: Text


class Caveat(Strict):
    kind: Literal["children", "icu", "unverified", "extrapolated", "other"]
    text: Text


# ---- routes ---------------------------------------------------------------------------------

class Fraction(Strict):
    """A bioavailability: a fraction of the dose (no unit)."""

    value: Annotated[float, Field(gt=0, le=1)]
    evidence: Evidence
    source: Text


class Rate(Strict):
    value: Positive
    unit: RateUnit
    evidence: Evidence
    source: Text


class Time(Strict):
    value: Positive
    unit: TimeUnit
    evidence: Evidence
    source: Text


class Lag(Strict):
    value: Annotated[float, Field(ge=0)]
    unit: TimeUnit
    evidence: Evidence
    source: Text


class PublishedAbsorption(Strict):
    """What the sources report, beside the calibrated values."""

    bioavailability: Fraction
    tmax: Time


class BioavailabilityRange(Strict):
    low: Positive
    high: Positive
    source: Text


class Calibration(Strict):
    """How a first-order route's absorption was fitted to observed data (calibration.py)."""

    observations: NonEmpty[Text]
    fitted: NonEmpty[Literal["ka", "bioavailability", "lag"]]
    published: PublishedAbsorption
    bioavailability_range: BioavailabilityRange | None = None
    lag_max: Time | None = None
    note: str = ""


class IvRoute(Strict):
    kind: Literal["iv"]
    note: str = ""


class FirstOrderRoute(Strict):
    """Absorbed at a first-order rate ``ka`` (or one derived from ``tmax``), after ``lag``."""

    kind: Literal["first-order"]
    bioavailability: Fraction
    ka: Rate | None = None
    tmax: Time | None = None
    lag: Lag | None = None
    calibration: Calibration | None = None
    note: str = ""


class ZeroThenFirstOrderParams(Strict):
    """The model parameters (by name) each role of the route reads."""

    bioavailability: Text
    duration: Text
    ka: Text


class ZeroThenFirstOrderRoute(Strict):
    kind: Literal["zero-then-first-order"]
    params: ZeroThenFirstOrderParams
    note: str = ""


class EsketamineNasalParams(Strict):
    nasal_fraction: Text
    nasal_ka: Text
    later_device_factor: Text
    swallowed_bioavailability: Text
    swallowed_duration: Text
    swallowed_ka: Text


class EsketamineNasalRoute(Strict):
    kind: Literal["esketamine-nasal"]
    params: EsketamineNasalParams
    device_mg: Positive
    device_interval: Time
    note: str = ""


Route = Annotated[
    Annotated[IvRoute, Tag("·iv")] | Annotated[FirstOrderRoute, Tag("·first-order")]
    | Annotated[ZeroThenFirstOrderRoute, Tag("·zero-then-first-order")]
    | Annotated[EsketamineNasalRoute, Tag("·esketamine-nasal")],
    tagged_by("kind", ("iv", "first-order", "zero-then-first-order", "esketamine-nasal")),
]


# ---- who the model was fitted on, covariates, disagreements -------------------------------------

class CovariateEffect(Strict):
    """``multiply``: the parameter times ``value`` when a yes/no covariate holds;
    ``per_year_above``: ``value`` (in ``unit``) added per year of age above ``threshold``."""

    covariate: Literal["asian", "japanese", "age_years"]
    parameter: Text
    effect: Literal["multiply", "per_year_above"]
    value: float
    unit: Unit | None = None
    threshold: Positive | None = None
    evidence: Evidence
    source: Text


class FittedSpan(Strict):
    """A range (``low``-``high``), or a ``mean`` and ``sd`` where the paper gives no range."""

    low: Positive | None = None
    high: Positive | None = None
    mean: Positive | None = None
    sd: Positive | None = None
    evidence: Evidence
    source: Text


class FittedPopulation(Strict):
    age_years: FittedSpan | None = None
    weight_kg: FittedSpan | None = None


class Discrepancy(Strict):
    """A quantity of the model that another published study found very different."""

    route: RouteName
    quantity: Literal["bioavailability"]
    model_value: Positive
    model_source: Text
    other_value: Positive
    other_label: Text
    other_source: Text
    evidence: Evidence


class ModelFile(Strict):
    """A published pharmacokinetic model, every parameter with its unit and source."""

    schema_version: Literal[1]
    id: Text
    name: Text
    drug: Drug
    form: Form
    structure: Literal["mammillary-2", "mammillary-3", "hepatic-3"]
    parameterisation: Literal["micro", "clearance"]
    parameters: dict[str, Parameter]
    weight_scaling: WeightScaling
    variability: DefaultVariability
    routes: dict[str, Route]
    citation: Text
    evidence: Evidence
    population: Text
    caveats: list[Caveat]
    metabolite: Text | None = None
    covariates: list[CovariateEffect] = []
    fitted_population: FittedPopulation = FittedPopulation()
    discrepancies: list[Discrepancy] = []


# ---- observations.json --------------------------------------------------------------------------

class ObservationFile(Strict):
    """One observed peak (or time to peak) after one regimen; times in minutes."""

    id: Text
    drug: Drug
    form: Form
    route: RouteName
    dose_mg: Positive | None = None
    dose_mg_per_kg: Positive | None = None
    duration_min: Positive | None = None
    cmax_ng_per_ml: Positive | None = None
    cmax_sd_ng_per_ml: Positive | None = None
    tmax_min: Positive | None = None
    tmax_low_min: Positive | None = None
    tmax_high_min: Positive | None = None
    tmax_sd_min: Positive | None = None
    auc_ng_h_per_ml: Positive | None = None
    auc_source: Text | None = None
    statistic: Text
    population: Text
    label: Text
    source: Text
    evidence: Evidence
    fit: bool


class ObservationsFile(Strict):
    schema_version: Literal[1]
    citation: Text
    note: Text | None = None
    observations: NonEmpty[ObservationFile]
