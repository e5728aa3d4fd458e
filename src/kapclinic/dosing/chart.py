"""Server-rendered SVG of the model envelope: no script, so it obeys the page's CSP."""

from __future__ import annotations

import math
from dataclasses import dataclass

from kapclinic.clinical.pk import Envelope
from kapclinic.clinical.pk.bands import ReferenceBand
from kapclinic.clinical.pk.observations import Observation

WIDTH, HEIGHT = 760, 380
LEFT, RIGHT, TOP, BOTTOM = 64, 185, 30, 46
# Colour-blind-safe (Okabe-Ito) line colours, one per model.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]


@dataclass
class Line:
    model: str
    label: str
    colour: str
    points: str
    legend_y: float


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


def _nice_step(span: float, ticks: int) -> float:
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def envelope_svg(envelope: Envelope, bands: tuple[ReferenceBand, ...],
                 names: dict[str, str], observed: list[Observation] | None = None) -> dict:
    """Everything the template needs to draw the chart: coordinates, ticks, labels.

    ``observed``: peaks seen in people after the same regimen, drawn as points (with the
    reported spread) or, when the time of the peak was not reported, as a level.
    """
    times = envelope.times_h
    observed = observed or []
    # The axis always reaches past the reference ranges, so a dose change moves the curve
    # against fixed landmarks instead of rescaling into the same shape.
    landmark = max((b.high_ng_per_ml for b in bands if b.high_ng_per_ml), default=0.0)
    seen = max(((o.cmax_ng_per_ml or 0) + (o.cmax_sd_ng_per_ml or 0) for o in observed),
               default=0.0)
    top = max(float(envelope.upper_ng_per_ml.max()), landmark, seen, 1.0) * 1.1
    y_step = _nice_step(top, 5)
    y_max = y_step * math.ceil(top / y_step)
    x_max = float(times[-1]) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    stride = max(1, len(times) // 400)  # ~400 vertices per line is plenty on screen

    def px(x: float) -> float:
        return LEFT + x / x_max * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - min(y, y_max) / y_max * plot_h

    def path(values) -> str:
        return " ".join(f"{px(t):.1f},{py(v):.1f}"
                        for t, v in zip(times[::stride], values[::stride], strict=True))

    upper = path(envelope.upper_ng_per_ml)
    lower = " ".join(reversed(path(envelope.lower_ng_per_ml).split(" ")))
    lines = [Line(model, short_name(names.get(model, model)), PALETTE[i % len(PALETTE)],
                  path(result.conc_ng_per_ml), TOP + 10 + 22 * i)
             for i, (model, result) in enumerate(envelope.results.items())]
    shown_bands = []
    for band in bands:
        if band.low_ng_per_ml >= y_max:
            continue
        high = band.high_ng_per_ml
        shown_bands.append({
            "band": band, "y": py(high) if high else py(band.low_ng_per_ml),
            "height": (py(band.low_ng_per_ml) - py(high)) if high else 0,
            "label_y": (py(high) + 12) if high else py(band.low_ng_per_ml) - 4,
        })
    points, levels = [], []
    for number, o in enumerate(observed, start=1):
        assert o.cmax_ng_per_ml is not None
        sd = o.cmax_sd_ng_per_ml or 0.0
        item = {"observation": o, "number": number, "y": py(o.cmax_ng_per_ml),
                "y_lo": py(max(o.cmax_ng_per_ml - sd, 0.0)), "y_hi": py(o.cmax_ng_per_ml + sd),
                "has_y_bar": bool(sd)}
        if o.tmax_min is None:
            levels.append({**item, "label_x": LEFT + plot_w - 4})
            continue
        t_lo, t_hi = o.tmax_spread_min or (0.0, 0.0)
        x = px(min(o.tmax_min / 60.0, x_max))
        item.update(x=x, label_x=x + 8, has_x_bar=o.tmax_spread_min is not None,
                    x_lo=px(t_lo / 60.0), x_hi=px(min(t_hi / 60.0, x_max)))
        points.append(item)
    y_ticks = [{"y": py(v), "label": f"{v:g}"}
               for v in (y_step * k for k in range(int(round(y_max / y_step)) + 1))]
    x_step = _nice_step(x_max, 8)
    x_ticks = [{"x": px(v), "label": f"{v:g}"}
               for v in (x_step * k for k in range(int(x_max / x_step) + 1))]
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "top": TOP, "plot_w": plot_w,
        "plot_h": plot_h, "bottom": TOP + plot_h, "right": LEFT + plot_w,
        "envelope": f"{upper} {lower}", "lines": lines, "bands": shown_bands,
        "observed": points, "observed_levels": levels,
        "y_ticks": y_ticks, "x_ticks": x_ticks, "legend_x": LEFT + plot_w + 14,
        "legend_end_x": LEFT + plot_w + 32, "legend_text_x": LEFT + plot_w + 38,
    }
