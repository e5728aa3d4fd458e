"""Observed concentrations in people (pk.md sections 2 and 3), as data with a source.

The models are checked against these peaks (``checks``) and the extravascular absorption
is calibrated to those marked ``fit`` (``calibration.py``). A malformed file is refused
with a ``ModelDefinitionError`` naming the file and the field, like a model file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from kapclinic.clinical.definitions import validate

from .definitions import Checker, read_json
from .file_model import ObservationsFile

OBSERVATIONS_FILE = Path(__file__).with_name("observations.json")
REFERENCE_WEIGHT_KG = 70.0  # weights were not reported: the typical adult of the models


@dataclass(frozen=True)
class Observation:
    """One observed peak (or time to peak) after one regimen. Times in minutes.

    ``dose_mg`` or ``dose_mg_per_kg`` (at ``REFERENCE_WEIGHT_KG``); ``auc_ng_h_per_ml``
    is derived [D] where the source gives it as a ratio; ``label`` names the source as a
    clinician would; ``fit`` says whether absorption was calibrated to it.
    """

    id: str
    drug: str
    form: str
    route: str
    dose_mg: float | None
    dose_mg_per_kg: float | None
    duration_min: float | None
    cmax_ng_per_ml: float | None
    cmax_sd_ng_per_ml: float | None
    tmax_min: float | None
    tmax_low_min: float | None
    tmax_high_min: float | None
    tmax_sd_min: float | None
    auc_ng_h_per_ml: float | None
    statistic: str
    population: str
    label: str
    source: str
    evidence: str
    fit: bool

    def dose_at(self, weight_kg: float = REFERENCE_WEIGHT_KG) -> float:
        """The dose in mg for a patient of ``weight_kg``."""
        if self.dose_mg is not None:
            return self.dose_mg
        assert self.dose_mg_per_kg is not None
        return self.dose_mg_per_kg * weight_kg

    @property
    def tmax_spread_min(self) -> tuple[float, float] | None:
        """The reported spread of the time of the peak (range, else mean +/- SD), if any."""
        if self.tmax_low_min is not None and self.tmax_high_min is not None:
            return self.tmax_low_min, self.tmax_high_min
        if self.tmax_min is not None and self.tmax_sd_min is not None:
            return max(self.tmax_min - self.tmax_sd_min, 0.0), self.tmax_min + self.tmax_sd_min
        return None

    @property
    def dose_text(self) -> str:
        return (f"{self.dose_mg:g} mg" if self.dose_mg is not None
                else f"{self.dose_mg_per_kg:g} mg/kg")


def parse_observations(data: Any, filename: str) -> tuple[Observation, ...]:
    """Validate decoded JSON: its shape and types through ``ObservationsFile``, then what
    needs more than one field; raise ModelDefinitionError naming file and field."""
    r = Checker(filename)
    top = validate(ObservationsFile, data, r.fail)
    out: list[Observation] = []
    seen: set[str] = set()
    for i, d in enumerate(top.observations):
        where = f"observations[{i}]."
        if d.id in seen:
            raise r.fail(f"{where}id", f"'{d.id}' is used twice")
        seen.add(d.id)
        if (d.dose_mg is None) == (d.dose_mg_per_kg is None):
            raise r.fail(f"{where}dose_mg", "give exactly one of dose_mg and dose_mg_per_kg")
        if (d.duration_min is not None) != (d.route == "iv-infusion"):
            raise r.fail(f"{where}duration_min", "is required for iv-infusion and only there")
        if d.cmax_ng_per_ml is None and d.tmax_min is None:
            raise r.fail(f"{where}cmax_ng_per_ml", "an observation needs a peak or a time")
        if d.auc_ng_h_per_ml is not None and d.route != "iv-bolus" and d.auc_source is None:
            raise r.fail(f"{where}auc_source", "a derived AUC must say how it was derived")
        out.append(Observation(
            id=d.id, drug=d.drug, form=d.form, route=d.route, dose_mg=d.dose_mg,
            dose_mg_per_kg=d.dose_mg_per_kg, duration_min=d.duration_min,
            cmax_ng_per_ml=d.cmax_ng_per_ml, cmax_sd_ng_per_ml=d.cmax_sd_ng_per_ml,
            tmax_min=d.tmax_min, tmax_low_min=d.tmax_low_min, tmax_high_min=d.tmax_high_min,
            tmax_sd_min=d.tmax_sd_min, auc_ng_h_per_ml=d.auc_ng_h_per_ml,
            statistic=d.statistic, population=d.population, label=d.label, source=d.source,
            evidence=d.evidence, fit=d.fit,
        ))
    return tuple(out)


def load_observations(path: Path = OBSERVATIONS_FILE) -> tuple[Observation, ...]:
    return parse_observations(read_json(path), path.name)


@cache
def observations() -> dict[str, Observation]:
    """The shipped observations by id, validated once per process."""
    return {o.id: o for o in load_observations()}


def for_route(drug: str, form: str, route: str) -> list[Observation]:
    """Observations of this drug form by this route, in file order."""
    return [o for o in observations().values()
            if o.drug == drug and o.form == form and o.route == route]


def for_drug_route(drug: str, route: str) -> list[Observation]:
    """Observations for the drug as the explorer names it (ketamine is racemic here)."""
    form = "racemic" if drug == "ketamine" else "S-enantiomer"
    return for_route(drug, form, route)


def matching(drug: str, route: str, dose_mg: float, weight_kg: float,
             duration_min: float | None = None, *, tolerance: float = 0.01) -> list[Observation]:
    """Observed peaks after the same regimen: same route and dose (mg, or mg/kg at this
    weight) within ``tolerance``, same infusion time. Only those with a concentration."""
    out = []
    for o in for_drug_route(drug, route):
        if o.cmax_ng_per_ml is None:
            continue
        if o.dose_mg is not None:
            same = abs(dose_mg / o.dose_mg - 1) <= tolerance
        else:
            assert o.dose_mg_per_kg is not None
            same = abs(dose_mg / weight_kg / o.dose_mg_per_kg - 1) <= tolerance
        if o.duration_min is not None:
            same = same and duration_min is not None and \
                abs(duration_min / o.duration_min - 1) <= tolerance
        if same:
            out.append(o)
    return out
