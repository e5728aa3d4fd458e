"""The measures charts, drawn by the shared SVG partial (platform/_chart.html): a trajectory
per instrument (scores over time on its severity bands) and the clinic's relapse curve."""

from __future__ import annotations

from datetime import datetime, timedelta

from kapclinic.clinical import instruments, outcomes
from kapclinic.clinical.charts import format_figure
from kapclinic.platform.charts import Chart, local_text

# Light-to-dark warm shading for rising severity (classes band-level-0..5 in app.css);
# labels carry the meaning, not the colour.
BAND_LEVELS = 6


def trajectory(instrument: str, points: list[tuple[datetime, float, bool]]) -> Chart | None:
    """points: (taken_at, total, alerted), oldest first. None when nothing is plottable."""
    definition = instruments.get_instrument(instrument)
    if not points or definition.total_range is None:
        return None
    low, high = definition.total_range
    chart = Chart("trajectory-chart", width=640, height=220, margin=(44, 130, 12, 30),
                  label=f"{definition.short_name} scores over time; "
                        "the numbers are in the table below")
    chart.value_y(low, high, count=6, widen=False, clamp=True)
    # a single reading (or a single day of them) gets a day's width of axis, centred on them
    first, last = points[0][0], points[-1][0]
    pad = max(timedelta(0), timedelta(days=1) - (last - first)) / 2
    chart.time_x(first - pad, last + pad, min_span=timedelta(days=1))
    if definition.severity is not None:
        for index, band in enumerate(definition.severity.bands):
            # integer totals: a band 5-9 covers the stretch from 5 up to where 10 begins
            chart.band(band.min, min(band.max + 1, high),
                       f"severity band-level-{min(index, BAND_LEVELS - 1)}", label=band.label)
    if len(points) > 1:
        chart.line([t for t, _, _ in points], [v for _, v, _ in points], "score-line")
    for when, value, alerted in points:
        chart.marker(when, value, "dot alerted" if alerted else "dot", r=6 if alerted else 4,
                     title=f"{local_text(when)}: {format_figure(value)}"
                           f"{' (alert)' if alerted else ''}")
    return chart


def relapse_chart(curve: outcomes.KaplanMeier) -> Chart:
    """The Kaplan-Meier step curve of staying free of relapse, with its 95% band."""
    median = curve.median()
    chart = Chart("km-chart", width=560, height=250, margin=(44, 16, 12, 46), grid=True,
                  label="Kaplan-Meier curve of the share of responders without relapse over "
                        f"time; median {median or 'not reached'} days")
    chart.value_y(0.0, 1.0, count=4, widen=False, percent=True)
    t_max = float(max(curve.times.max(), 1.0))
    chart.value_x(0.0, t_max, count=6)
    chart.axis_titles(x_title="days")
    times = [float(t) for t in curve.times]
    chart.area(times, [float(v) for v in curve.ci_upper], [float(v) for v in curve.ci_lower],
               "km-band", title="95% interval (Greenwood)")
    xs, ys, previous = [0.0], [1.0], 1.0
    for t, s in zip(times, curve.survival, strict=True):
        xs += [t, t]
        ys += [previous, float(s)]
        previous = float(s)
    chart.line(xs + [t_max], ys + [previous], "km-line")
    return chart
