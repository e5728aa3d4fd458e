"""The shape and types of a PK model definition file (``models/*.json``). ``Unit`` lists
the units of ``definitions.UNITS`` (a test keeps the two the same).

Shape and types only; ``definitions.py`` checks what needs the whole file (a parameter's
unit fits its name and the weight scaling, the structure's parameters are all there, a
fraction is at most 1, calibrations and routes name real parameters and observations). A
route's fields depend on its kind, so each route is an object read by ``definitions._route``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from kapclinic.clinical.definitions import NonEmpty, Strict, Text

Evidence = Literal["P", "C", "S", "D", "unverified"]
Unit = Literal["L", "L/kg", "L/min", "L/h", "L/min/kg", "L/h/kg", "1/min", "1/h", "min", "h", "1"]
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
    default_cv: Positive | None = None
    default_cv_applies_to: NonEmpty[Text] | None = None
    note: Text


class Caveat(Strict):
    kind: Literal["children", "icu", "unverified", "extrapolated", "other"]
    text: Text


class ModelFile(Strict):
    """A published pharmacokinetic model, every parameter with its unit and source."""

    schema_version: Literal[1]
    id: Text
    name: Text
    drug: Literal["ketamine", "esketamine"]
    form: Literal["racemic", "S-enantiomer"]
    structure: Literal["mammillary-2", "mammillary-3", "hepatic-3"]
    parameterisation: Literal["micro", "clearance"]
    parameters: dict[str, Parameter]
    weight_scaling: WeightScaling
    variability: DefaultVariability
    routes: dict[str, dict[str, Any]]
    citation: Text
    evidence: Evidence
    population: Text
    caveats: list[Caveat]
    metabolite: Text | None = None
    covariates: list[dict[str, Any]] = []
    fitted_population: dict[str, dict[str, Any]] = {}
    discrepancies: list[dict[str, Any]] = []
