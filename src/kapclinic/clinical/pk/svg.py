"""A plain SVG concentration-time chart (no plotting library, no scripts, no external refs).

This is the ``kapclinic pk simulate --plot`` file: a standalone SVG the core writes without
Django, so it cannot use the web's chart partial (platform/_chart.html) and carries its
colours as presentation attributes (there is no stylesheet beside it). Its axes come from
the same scale helper as every web chart (``kapclinic.clinical.charts``).
"""

from __future__ import annotations

from html import escape

from ..charts import LinearScale, value_axis
from .simulate import SimulationResult

WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 50


def render(result: SimulationResult) -> str:
    """SVG text of the typical curve (and the 5-95th percentile band in population mode)."""
    t = result.times_h
    top_value = max(float(result.conc_ng_per_ml.max()),
                    float(result.p95.max()) if result.p95 is not None else 0.0, 1e-9)
    (_, y_max), y_ticks = value_axis(0.0, top_value, 5)
    x_max = float(t[-1]) if t[-1] > 0 else 1.0
    _, x_ticks = value_axis(0.0, x_max, 8, widen=False)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    px = LinearScale((0.0, x_max), (LEFT, LEFT + plot_w))
    py = LinearScale((0.0, y_max), (TOP + plot_h, TOP))

    def xy(x: float, y: float) -> str:
        return f"{px(x):.2f},{py(y):.2f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>']
    title = (f"{result.model_name}: {result.route} {result.dose_mg:g} mg, "
             f"{result.weight_kg:g} kg")
    parts.append(f'<text x="{LEFT}" y="22" font-size="14">{escape(title)}</text>')
    for tick in y_ticks:
        y = py(tick.value)
        parts.append(f'<line x1="{LEFT}" y1="{y:.2f}" x2="{WIDTH - RIGHT}" y2="{y:.2f}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.2f}" text-anchor="end">{tick.label}</text>')
    for tick in x_ticks:
        parts.append(f'<text x="{px(tick.value):.2f}" y="{TOP + plot_h + 18}" '
                     f'text-anchor="middle">{tick.label}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 10}" text-anchor="middle">'
                 'time since start of dose (h)</text>')
    parts.append(f'<text x="16" y="{TOP + plot_h / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 16 {TOP + plot_h / 2})">plasma concentration '
                 '(ng/mL)</text>')
    if result.p05 is not None and result.p95 is not None:
        upper = [xy(a, b) for a, b in zip(t, result.p95, strict=True)]
        lower = [xy(a, b) for a, b in zip(t[::-1], result.p05[::-1], strict=True)]
        parts.append(f'<polygon points="{" ".join(upper + lower)}" fill="#9ecae1" '
                     'fill-opacity="0.5" stroke="none"><title>5th-95th percentile</title>'
                     '</polygon>')
    line = " ".join(xy(a, b) for a, b in zip(t, result.conc_ng_per_ml, strict=True))
    parts.append(f'<polyline points="{line}" fill="none" stroke="#08519c" stroke-width="2">'
                 '<title>typical patient</title></polyline>')
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
                 'stroke="#333"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
