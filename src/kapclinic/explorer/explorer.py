"""Run the dose explorer's simulation: every applicable model, the band, the equivalence,
and the peaks observed in people by the same route."""

from __future__ import annotations

from dataclasses import dataclass, field

from kapclinic.clinical import pk
from kapclinic.clinical.pk import calibration
from kapclinic.clinical.pk.bands import reference_bands
from kapclinic.clinical.pk.definitions import load_all
from kapclinic.clinical.pk.observations import Observation, for_drug_route, matching
from kapclinic.clinical.pk.simulate import fitted_bioavailability
from kapclinic.explorer.chart import EnvelopeChart, envelope_svg

FIELD_ALIASES = {"dose_mg": "dose", "dose_mg_per_kg": "dose", "to_route": "compare_route"}


@dataclass
class Exploration:
    envelope: pk.Envelope
    chart: EnvelopeChart
    rows: list[dict]
    bands: tuple
    equivalent: pk.EquivalentDose | None = None
    equivalent_error: str = ""
    caveats: list[str] = field(default_factory=list)
    observed: list[Observation] = field(default_factory=list)  # drawn: same regimen
    observed_elsewhere: list[Observation] = field(default_factory=list)  # other doses
    misses: list[str] = field(default_factory=list)  # models over MISS_LIMIT from an observed level
    extrapolations: list[str] = field(default_factory=list)  # patient outside the fitted
    unchecked: list[str] = field(default_factory=list)  # nothing observed to compare with
    fitted_bioavailability: list[str] = field(default_factory=list)  # fitted F explained
    fitted_f: list[dict] = field(default_factory=list)  # per model: name and the values
    discrepancies: list[str] = field(default_factory=list)  # model vs another study

    @property
    def has_limits(self) -> bool:
        return bool(self.extrapolations or self.unchecked or self.fitted_bioavailability
                    or self.discrepancies)

    @property
    def miss_limit(self) -> str:
        """'30%': how far a model may be from an observed level before it is a miss."""
        return f"{calibration.MISS_LIMIT:.0%}"

    @property
    def elsewhere_doses(self) -> str:
        """'10 mg, 30 mg and 50 mg': the doses with observed peaks not drawn."""
        doses = list(dict.fromkeys(o.dose_text for o in self.observed_elsewhere))
        return doses[0] if len(doses) == 1 else f"{', '.join(doses[:-1])} and {doses[-1]}"


# the caveats flagged next to a model's name, once each
TAGS = {"icu": "ICU patients", "children": "fitted in children", "unverified": "unverified"}


def _tags(caveats: list[dict]) -> list[dict]:
    seen: dict[str, dict] = {}
    for caveat in caveats:
        kind = caveat.get("kind", "")
        if kind in TAGS and kind not in seen:
            seen[kind] = {"label": TAGS[kind], "text": caveat.get("text", "")}
    return list(seen.values())


def explore(*, drug: str, route: str, hours: int, compare_route: str = "",
            covariates: dict | None = None, **dose: float | None) -> Exploration:
    """Raises pk.PKInputError (with ``field``) on an input the models cannot take."""
    covariates = covariates or {}
    envelope = pk.envelope(drug, route, hours=hours, step_min=1.0, **dose, **covariates)
    names = {m["id"]: m["name"] for m in pk.list_models()}
    rows = []
    caveats: list[str] = []
    misses: list[str] = []
    limits: dict[str, list[str]] = {"extrapolations": [], "unchecked": [],
                                    "fitted_bioavailability": [], "discrepancies": []}
    for model, result in envelope.results.items():
        rows.append({"model": model, "name": names.get(model, model), "result": result,
                     "tags": _tags(result.caveats)})
        caveats += [f"{names.get(model, model)}: {c['text']}" for c in result.caveats
                    if c.get("text")]
        misses += result.observed_misses
        for name in ("extrapolations", "unchecked", "fitted_bioavailability", "discrepancies"):
            limits[name] += getattr(result, name)
    first = rows[0]["result"]
    observed = matching(drug, route, first.dose_mg, first.weight_kg, dose.get("duration_min"))
    elsewhere = [o for o in for_drug_route(drug, route)
                 if o.cmax_ng_per_ml is not None and o not in observed]
    models = load_all()
    fitted_f = [{"name": row["name"], "values": fb} for row in rows
                if (fb := fitted_bioavailability(models[row["model"]], route)) is not None]
    bands = reference_bands()
    exploration = Exploration(envelope, envelope_svg(envelope, bands, names, observed), rows,
                              bands, caveats=caveats, observed=observed,
                              observed_elsewhere=elsewhere, misses=misses, fitted_f=fitted_f,
                              **limits)
    if compare_route and compare_route != route:
        try:
            exploration.equivalent = pk.equivalent_dose(
                drug, route, compare_route, metric="auc", **dose, **covariates)
        except pk.PKInputError as exc:
            exploration.equivalent_error = str(exc)
    return exploration
