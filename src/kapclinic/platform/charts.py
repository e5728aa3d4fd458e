"""The plain chart object that the one SVG partial, ``platform/_chart.html``, draws
(through ``chart_svg``).

An app builds a ``Chart`` in data units (scores, ng/mL, aware datetimes); the chart turns
them into pixels with the scales of ``kapclinic.clinical.charts`` and the template draws
what it holds, in this order: bands, grid and ticks, areas, rules, lines, markers, frame,
axis titles, legend. Colours come from classes in app.css (the page's CSP allows no inline
style); a line's own colour, where each line is a different thing (a PK model), is an SVG
presentation attribute, which the CSP does not govern.

    chart = Chart("vitals-chart", label="Blood pressure over the session")
    chart.time_x(first, last)
    chart.value_y(60, 180)
    chart.line([(t, sbp) for t, sbp in readings], "sbp")
    {% include "platform/_chart.html" with chart=chart %}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from django.utils import timezone
from django.utils.safestring import SafeString

from kapclinic.clinical import charts as scales

from . import chart_svg


@dataclass
class Tick:
    at: float  # pixel position along its axis
    label: str


@dataclass
class Band:
    """A shaded stretch of the value axis across the plot (a severity band, a reference range)."""
    y: float
    height: float
    css_class: str
    title: str = ""
    label: str = ""  # written in the right margin, beside the band
    label_y: float = 0.0


@dataclass
class Rule:
    """A horizontal line across the plot at one value (a threshold, a level), with words."""
    y: float
    css_class: str
    title: str = ""
    label: str = ""
    label_x: float = 0.0
    anchor: str = "end"


@dataclass
class Line:
    points: str
    css_class: str
    title: str = ""
    colour: str = ""  # a presentation attribute when each line is its own thing
    key: str = ""  # data-series, for a test or a script to find one line


@dataclass
class Area:
    points: str
    css_class: str
    title: str = ""


@dataclass
class Marker:
    """A point, with an optional spread bar on either axis and a short label beside it."""
    x: float
    y: float
    css_class: str
    title: str = ""
    r: float = 4.0
    label: str = ""
    x_bar: tuple[float, float] | None = None
    y_bar: tuple[float, float] | None = None
    value: float | None = None  # the data value drawn, for a reader or a test

    @property
    def label_x(self) -> float:
        return self.x + 8


@dataclass
class Text:
    x: float
    y: float
    text: str
    css_class: str = "axis"
    anchor: str = "start"


@dataclass
class LegendEntry:
    y: float
    label: str
    colour: str = ""


def _coords(x: float, y: float) -> str:
    return f"{x:.1f},{y:.1f}"


@dataclass
class Chart:
    """``css_class`` names the chart's look in app.css; ``label`` is its accessible name, or
    ``title`` and ``desc`` (with ``id`` to tie them to the SVG) when it needs a description."""

    css_class: str
    width: int = 640
    height: int = 240
    margin: tuple[int, int, int, int] = (48, 16, 12, 30)  # left, right, top, bottom
    label: str = ""
    title: str = ""
    desc: str = ""
    id: str = "chart"
    grid: bool = False  # horizontal grid lines at the value ticks
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    areas: list[Area] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    legend: list[LegendEntry] = field(default_factory=list)
    x: Callable[[Any], float] = field(default=lambda v: 0.0, repr=False)
    y: Callable[[float], float] = field(default=lambda v: 0.0, repr=False)

    # the plot box, in pixels
    @property
    def left(self) -> int:
        return self.margin[0]

    @property
    def top(self) -> int:
        return self.margin[2]

    @property
    def right(self) -> int:
        return self.width - self.margin[1]

    @property
    def bottom(self) -> int:
        return self.height - self.margin[3]

    @property
    def plot_w(self) -> int:
        return self.right - self.left

    @property
    def plot_h(self) -> int:
        return self.bottom - self.top

    @property
    def tick_y(self) -> int:
        """Where the x axis's labels sit, under the plot."""
        return self.bottom + 18

    @property
    def legend_x(self) -> int:
        return self.right + 14

    # axes
    def value_y(self, low: float, high: float, count: int = 5, *, widen: bool = True,
                percent: bool = False, clamp: bool = False) -> tuple[float, float]:
        """A value axis up the left side; returns its (possibly widened) domain."""
        domain, ticks = scales.value_axis(low, high, count, widen=widen, percent=percent)
        self.y = scales.LinearScale(domain, (self.bottom, self.top), clamp=clamp)
        self.y_ticks = [Tick(self.y(t.value), t.label) for t in ticks]
        return domain

    def value_x(self, low: float, high: float, count: int = 8, *, widen: bool = False
                ) -> tuple[float, float]:
        """A numeric axis along the bottom (hours, days); returns its domain."""
        domain, ticks = scales.value_axis(low, high, count, widen=widen)
        self.x = scales.LinearScale(domain, (self.left, self.right), clamp=True)
        self.x_ticks = [Tick(self.x(t.value), t.label) for t in ticks]
        return domain

    def time_x(self, start: datetime, end: datetime, *, min_span: timedelta = timedelta(0),
               count: int = 6, zone: tzinfo | None = None) -> None:
        """A time axis along the bottom, ticked in the clinic's zone (the active one)."""
        scale = scales.TimeScale(start, end, (self.left, self.right), min_span)
        self.x = scale
        self.x_ticks = [Tick(scale(t.at), t.label) for t in scales.time_ticks(
            scale.start, scale.last, zone or timezone.get_current_timezone(), count)]

    # what is drawn
    def points(self, xs: Iterable[Any], ys: Iterable[float]) -> str:
        return " ".join(_coords(self.x(a), self.y(b)) for a, b in zip(xs, ys, strict=True))

    def line(self, xs: Iterable[Any], ys: Iterable[float], css_class: str, *, title: str = "",
             colour: str = "", key: str = "") -> Line:
        line = Line(self.points(xs, ys), css_class, title, colour, key)
        self.lines.append(line)
        return line

    def area(self, xs: Sequence[Any], upper: Sequence[float], lower: Sequence[float],
             css_class: str, *, title: str = "") -> Area:
        """The region between two curves over the same xs (an envelope, an interval)."""
        outline = f"{self.points(xs, upper)} {self.points(xs[::-1], lower[::-1])}"
        area = Area(outline, css_class, title)
        self.areas.append(area)
        return area

    def band(self, low: float, high: float, css_class: str, *, title: str = "",
             label: str = "") -> Band:
        top, bottom = self.y(high), self.y(low)
        band = Band(top, bottom - top, css_class, title, label, (top + bottom) / 2 + 4)
        self.bands.append(band)
        return band

    def rule(self, value: float, css_class: str, *, title: str = "", label: str = "") -> Rule:
        rule = Rule(self.y(value), css_class, title, label, self.right - 4)
        self.rules.append(rule)
        return rule

    def marker(self, x: Any, y: float, css_class: str, *, title: str = "", r: float = 4.0,
               label: str = "", x_spread: tuple[Any, Any] | None = None,
               y_spread: tuple[float, float] | None = None) -> Marker:
        marker = Marker(self.x(x), self.y(y), css_class, title, r, label,
                        (self.x(x_spread[0]), self.x(x_spread[1])) if x_spread else None,
                        (self.y(y_spread[1]), self.y(y_spread[0])) if y_spread else None,
                        y)
        self.markers.append(marker)
        return marker

    def axis_titles(self, x_title: str = "", y_title: str = "") -> None:
        """The x axis's title under its ticks; the y axis's unit above the axis."""
        if x_title:
            self.texts.append(Text(self.left, self.bottom + 38, x_title))
        if y_title:
            self.texts.append(Text(self.left, self.top - 10, y_title, anchor="middle"))

    @property
    def svg(self) -> SafeString:
        """The chart's SVG markup (``platform/_chart.html`` writes it)."""
        return chart_svg.render(self)

    def legend_entry(self, label: str, colour: str = "") -> LegendEntry:
        entry = LegendEntry(self.top + 10 + 22 * len(self.legend), label, colour)
        self.legend.append(entry)
        return entry


def local_text(when: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment as the clinic reads its clock (the zone the request activated)."""
    return timezone.localtime(when).strftime(fmt)
