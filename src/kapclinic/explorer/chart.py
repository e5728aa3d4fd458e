"""The dose explorer's chart of the model envelope, drawn by the shared SVG partial
(platform/_chart.html): no script, so it obeys the page's CSP."""

from __future__ import annotations

from dataclasses import dataclass, field

from kapclinic.clinical.charts import format_figure
from kapclinic.clinical.pk import Envelope
from kapclinic.clinical.pk.bands import ReferenceBand
from kapclinic.clinical.pk.observations import Observation
from kapclinic.explorer.words import plain
from kapclinic.platform.charts import Chart

# Colour-blind-safe (Okabe-Ito) line colours, one per model.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
MAX_VERTICES = 400  # per line: plenty on screen


def short_name(name: str) -> str:
    """'Herd & Anderson 2007 ...' -> 'Herd & Anderson 2007'; 'Domino (STANPUMP set)' -> 'Domino'."""
    words: list[str] = []
    for word in name.split():
        if word.startswith("(") or len(words) == 4:
            break
        words.append(word)
        if word.isdigit() and len(word) == 4:
            break
    return " ".join(words)


@dataclass
class EnvelopeChart(Chart):
    """The chart plus what its key below lists: the bands drawn and the numbered peaks."""
    shown_bands: list[ReferenceBand] = field(default_factory=list)
    observed: list[dict] = field(default_factory=list)  # {"number", "observation"}: points
    observed_levels: list[dict] = field(default_factory=list)  # ... drawn as a level


def _band_title(band: ReferenceBand) -> str:
    span = (f"{band.low_ng_per_ml}–{band.high_ng_per_ml}" if band.high_ng_per_ml
            else f"{band.low_ng_per_ml}")
    return f"{band.label}: {span} ng/mL ({plain(band.source)})"


def envelope_svg(envelope: Envelope, bands: tuple[ReferenceBand, ...],
                 names: dict[str, str], observed: list[Observation] | None = None) -> EnvelopeChart:
    """The chart: each model's curve, the range across models, the reference bands.

    ``observed``: peaks seen in people after the same regimen, drawn as points (with the
    reported spread) or, when the time of the peak was not reported, as a level.
    """
    times = envelope.times_h
    observed = observed or []
    desc = " ".join(
        f"{plain(names.get(model, model))}: peak {result.cmax_ng_per_ml:.0f} ng/mL at "
        f"{result.tmax_h:.2f} h." for model, result in envelope.results.items())
    chart = EnvelopeChart("pk-chart", width=760, height=380, margin=(64, 185, 30, 46), grid=True,
                  title="Plasma concentration over time for each model", desc=desc,
                  id="chart")
    # The axis always reaches past the reference ranges, so a dose change moves the curve
    # against fixed landmarks instead of rescaling into the same shape.
    landmark = max((b.high_ng_per_ml for b in bands if b.high_ng_per_ml), default=0.0)
    seen = max(((o.cmax_ng_per_ml or 0) + (o.cmax_sd_ng_per_ml or 0) for o in observed),
               default=0.0)
    top = max(float(envelope.upper_ng_per_ml.max()), landmark, seen, 1.0) * 1.1
    _, y_max = chart.value_y(0.0, top, count=5, clamp=True)
    x_max = float(times[-1]) or 1.0
    chart.value_x(0.0, x_max, count=8)
    chart.axis_titles(x_title="hours since the start of the dose", y_title="ng/mL")

    for band in bands:
        if band.low_ng_per_ml >= y_max:
            continue
        chart.shown_bands.append(band)
        if band.high_ng_per_ml:
            chart.band(band.low_ng_per_ml, band.high_ng_per_ml, "band", title=_band_title(band))
        else:
            chart.rule(band.low_ng_per_ml, "threshold", title=_band_title(band))

    stride = max(1, len(times) // MAX_VERTICES)
    shown = times[::stride]
    chart.area(shown, envelope.upper_ng_per_ml[::stride], envelope.lower_ng_per_ml[::stride],
               "envelope", title="Range across models")
    for number, o in enumerate(observed, start=1):
        if o.tmax_min is None:
            assert o.cmax_ng_per_ml is not None
            chart.observed_levels.append({"number": number, "observation": o})
            chart.rule(o.cmax_ng_per_ml, "observed-level",
                       title=f"Observed peak {format_figure(o.cmax_ng_per_ml)} ng/mL, time of the "
                             f"peak not reported ({o.label})",
                       label=f"observed peak {format_figure(o.cmax_ng_per_ml)} ng/mL, time not "
                             f"reported ({number})")
    for i, (model, result) in enumerate(envelope.results.items()):
        label = plain(short_name(names.get(model, model)))
        colour = PALETTE[i % len(PALETTE)]
        chart.line(shown, result.conc_ng_per_ml[::stride], "curve", title=label,
                   colour=colour, key=model)
        chart.legend_entry(label, colour)
    for number, o in enumerate(observed, start=1):
        if o.tmax_min is None:
            continue
        assert o.cmax_ng_per_ml is not None
        chart.observed.append({"number": number, "observation": o})
        sd = o.cmax_sd_ng_per_ml or 0.0
        spread = o.tmax_spread_min
        chart.marker(o.tmax_min / 60.0, o.cmax_ng_per_ml, "observed", r=5.5, label=str(number),
                     title=f"Observed peak {format_figure(o.cmax_ng_per_ml)} ng/mL at "
                           f"{format_figure(o.tmax_min)} min ({o.label})",
                     x_spread=(spread[0] / 60.0, spread[1] / 60.0) if spread else None,
                     y_spread=(max(o.cmax_ng_per_ml - sd, 0.0), o.cmax_ng_per_ml + sd)
                     if sd else None)
    return chart
