"""A ``Chart`` drawn as SVG markup in Python.

The same drawing ``platform/_chart.html`` made with template loops, written here because a
vitals chart of a long session has hundreds of points and the template engine took most of
the session page's time on them. Every text and attribute is escaped; there is no script and
no inline style (colours are classes in app.css, or a line's own stroke attribute)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

if TYPE_CHECKING:
    from .charts import Chart


def _n(value: float) -> str:
    return f"{value:.1f}"


def _title(text: str) -> str:
    return f"<title>{escape(text)}</title>" if text else ""


def render(c: Chart) -> SafeString:
    e = escape
    out: list[str] = []
    if c.title:
        named = f'aria-labelledby="{e(c.id)}-title{" " + e(c.id) + "-desc" if c.desc else ""}"'
    else:
        named = f'aria-label="{e(c.label)}"'
    out.append(f'<svg class="chart {e(c.css_class)}" viewBox="0 0 {c.width} {c.height}" role="img" {named}>')
    if c.title:
        out.append(f'<title id="{e(c.id)}-title">{e(c.title)}</title>')
    if c.desc:
        out.append(f'<desc id="{e(c.id)}-desc">{e(c.desc)}</desc>')
    for b in c.bands:
        label = (f'<text class="band-label" x="{c.right + 8}" y="{_n(b.label_y)}">{e(b.label)}</text>'
                 if b.label else "")
        out.append(f'<g class="{e(b.css_class)}">{_title(b.title)}<rect x="{c.left}" y="{_n(b.y)}" '
                   f'width="{c.plot_w}" height="{_n(b.height)}"/>{label}</g>')
    for t in c.y_ticks:
        if c.grid:
            out.append(f'<line class="grid" x1="{c.left}" x2="{c.right}" y1="{_n(t.at)}" y2="{_n(t.at)}"/>')
        out.append(f'<text class="tick" x="{c.left - 6}" y="{_n(t.at)}" dy="4" text-anchor="end">'
                   f'{e(t.label)}</text>')
    for t in c.x_ticks:
        out.append(f'<line class="tick-mark" x1="{_n(t.at)}" x2="{_n(t.at)}" y1="{c.bottom}" '
                   f'y2="{c.bottom + 4}"/><text class="tick" x="{_n(t.at)}" y="{c.tick_y}" '
                   f'text-anchor="middle">{e(t.label)}</text>')
    for a in c.areas:
        out.append(f'<polygon class="{e(a.css_class)}" points="{e(a.points)}">{_title(a.title)}</polygon>')
    for r in c.rules:
        label = (f'<text x="{_n(r.label_x)}" y="{_n(r.y)}" dy="-6" text-anchor="{e(r.anchor)}">'
                 f'{e(r.label)}</text>' if r.label else "")
        out.append(f'<g class="{e(r.css_class)}">{_title(r.title)}<line x1="{c.left}" x2="{c.right}" '
                   f'y1="{_n(r.y)}" y2="{_n(r.y)}"/>{label}</g>')
    for line in c.lines:
        stroke = f' stroke="{e(line.colour)}"' if line.colour else ""
        key = f' data-series="{e(line.key)}"' if line.key else ""
        out.append(f'<polyline class="{e(line.css_class)}" points="{e(line.points)}"{stroke}{key}>'
                   f'{_title(line.title)}</polyline>')
    for m in c.markers:
        parts = [f'<g class="{e(m.css_class)}">', _title(m.title)]
        if m.x_bar:
            parts.append(f'<line class="spread" x1="{_n(m.x_bar[0])}" x2="{_n(m.x_bar[1])}" '
                         f'y1="{_n(m.y)}" y2="{_n(m.y)}"/>')
        if m.y_bar:
            parts.append(f'<line class="spread" x1="{_n(m.x)}" x2="{_n(m.x)}" '
                         f'y1="{_n(m.y_bar[0])}" y2="{_n(m.y_bar[1])}"/>')
        parts.append(f'<circle cx="{_n(m.x)}" cy="{_n(m.y)}" r="{e(m.r)}"/>')
        if m.label:
            parts.append(f'<text x="{_n(m.label_x)}" y="{_n(m.y)}" dy="-7">{e(m.label)}</text>')
        parts.append("</g>")
        out.append("".join(parts))
    out.append(f'<rect class="frame" x="{c.left}" y="{c.top}" width="{c.plot_w}" height="{c.plot_h}"/>')
    for t in c.texts:
        out.append(f'<text class="{e(t.css_class)}" x="{_n(t.x)}" y="{_n(t.y)}" '
                   f'text-anchor="{e(t.anchor)}">{e(t.text)}</text>')
    for entry in c.legend:
        stroke = f' stroke="{e(entry.colour)}"' if entry.colour else ""
        out.append(f'<line class="legend-line" x1="{c.legend_x}" x2="{c.legend_x + 18}" y1="{entry.y}" '
                   f'y2="{entry.y}"{stroke}/><text class="legend" x="{c.legend_x + 24}" y="{entry.y}" '
                   f'dy="4">{e(entry.label)}</text>')
    out.append("</svg>")
    return mark_safe("\n".join(out))  # noqa: S308 (every value above is escaped)
