"""Run the dose explorer's simulation: every applicable model, the band, the equivalence."""

from __future__ import annotations

from dataclasses import dataclass, field

from kapclinic.clinical import pk
from kapclinic.clinical.pk.bands import reference_bands
from kapclinic.dosing.chart import envelope_svg

FIELD_ALIASES = {"dose_mg": "dose", "dose_mg_per_kg": "dose", "to_route": "compare_route"}


@dataclass
class Exploration:
    envelope: pk.Envelope
    chart: dict
    rows: list[dict]
    bands: tuple
    equivalent: pk.EquivalentDose | None = None
    equivalent_error: str = ""
    caveats: list[str] = field(default_factory=list)


def explore(*, drug: str, route: str, hours: int, compare_route: str = "",
            **dose: float | None) -> Exploration:
    """Raises pk.PKInputError (with ``field``) on an input the models cannot take."""
    envelope = pk.envelope(drug, route, hours=hours, step_min=1.0, **dose)
    names = {m["id"]: m["name"] for m in pk.list_models()}
    rows = []
    caveats: list[str] = []
    for model, result in envelope.results.items():
        rows.append({"model": model, "name": names.get(model, model), "result": result})
        caveats += [f"{names.get(model, model)}: {c['text']}" for c in result.caveats
                    if c.get("text")]
    bands = reference_bands()
    exploration = Exploration(envelope, envelope_svg(envelope, bands, names), rows, bands,
                              caveats=caveats)
    if compare_route and compare_route != route:
        try:
            exploration.equivalent = pk.equivalent_dose(
                drug, route, compare_route, metric="auc", **dose)
        except pk.PKInputError as exc:
            exploration.equivalent_error = str(exc)
    return exploration
