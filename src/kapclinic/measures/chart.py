"""A server-rendered trajectory chart per instrument: scores over time on its severity bands."""

from __future__ import annotations

from datetime import datetime

from kapclinic.clinical import instruments

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 130, 12, 30
# Light-to-dark warm shading for rising severity; labels carry the meaning, not the colour.
BAND_FILLS = ["#eef7f1", "#fbf6e3", "#fcefdc", "#fbe3d6", "#f8d7d7", "#f3c9c9"]


def trajectory(instrument: str, points: list[tuple[datetime, float, bool]]) -> dict | None:
    """points: (taken_at, total, alerted), oldest first. None when nothing is plottable."""
    definition = instruments.get_instrument(instrument)
    if not points or definition.total_range is None:
        return None
    low, high = definition.total_range
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    first, last = points[0][0], points[-1][0]
    span = max((last - first).total_seconds(), 86400.0)

    def px(when: datetime) -> float:
        return LEFT + (when - first).total_seconds() / span * plot_w

    def py(value: float) -> float:
        return TOP + plot_h - (value - low) / max(high - low, 1) * plot_h

    bands = []
    if definition.severity is not None:
        for index, band in enumerate(definition.severity.bands):
            top, bottom = py(min(band.max + 1, high)), py(band.min)
            bands.append({"y": top, "height": bottom - top, "label": band.label,
                          "label_y": (top + bottom) / 2 + 4,
                          "fill": BAND_FILLS[min(index, len(BAND_FILLS) - 1)]})
    dots = [{"x": px(t), "y": py(v), "value": v, "alerted": alerted, "when": t}
            for t, v, alerted in points]
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "top": TOP, "plot_w": plot_w,
        "plot_h": plot_h, "right": LEFT + plot_w, "bottom": TOP + plot_h,
        "label_x": LEFT + plot_w + 8, "bands": bands, "dots": dots,
        "line": " ".join(f"{d['x']:.1f},{d['y']:.1f}" for d in dots),
        "y_ticks": [{"y": py(v), "label": v} for v in (low, (low + high) // 2, high)],
        "first": first, "last": last,
    }
