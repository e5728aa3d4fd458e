"""Scales and axes for every chart: pure arithmetic, no Django, no drawing.

A chart maps values (a score, a concentration, a time) onto pixels. This module does that
mapping and chooses the ticks a reader sees; a template draws the result. Times are
timezone-aware and their ticks fall on the clinic's local hours and midnights, so a day on
which the clocks change is 23 or 25 hours wide and no reading is lost or doubled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

# A tick step is 1, 2, 2.5 or 5 times a power of ten: the steps a reader counts in.
NICE_MULTIPLES = (1.0, 2.0, 2.5, 5.0, 10.0)
# Sub-day steps for a time axis, in hours, and day steps, in days.
HOUR_STEPS = (1, 2, 3, 6, 12)
DAY_STEPS = (1, 2, 7, 14, 28, 56, 91, 182, 364)
HOUR = timedelta(hours=1)


def nice_step(span: float, count: int = 5) -> float:
    """The smallest nice step that cuts ``span`` into at most ``count`` intervals.

    >>> nice_step(27, 5)
    10.0
    >>> nice_step(1, 4)
    0.25
    """
    if not math.isfinite(span) or span <= 0:
        return 1.0
    raw = span / max(count, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in NICE_MULTIPLES if m * magnitude >= raw * (1 - 1e-9))


def _spread(low: float, high: float) -> tuple[float, float]:
    """A domain with a width: one value alone (or values a rounding error apart) is widened
    by one either side, or by 10% of a large value."""
    if high < low:
        low, high = high, low
    if high - low <= 1e-12 * max(1.0, abs(low), abs(high)):
        pad = abs(low) * 0.1 if abs(low) >= 10 else 1.0
        return low - pad, high + pad
    return low, high


def nice_domain(low: float, high: float, count: int = 5) -> tuple[float, float, float]:
    """``(low, high, step)`` widened outwards to whole steps, so the ticks cover the data."""
    low, high = _spread(low, high)
    step = nice_step(high - low, count)
    digits = decimals(step) + 2
    return (round(math.floor(low / step + 1e-9) * step, digits),
            round(math.ceil(high / step - 1e-9) * step, digits), step)


def ticks(low: float, high: float, step: float) -> list[float]:
    """Every multiple of ``step`` between ``low`` and ``high`` inclusive (rounded, so
    0.1 + 0.2 reads 0.3)."""
    if step <= 0 or not math.isfinite(step):
        return [low]
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    digits = decimals(step) + 2
    return [round(k * step, digits) for k in range(first, last + 1)]


def decimals(step: float) -> int:
    """How many decimals a label needs to tell ticks ``step`` apart (2.5 -> 1, 20 -> 0)."""
    if step <= 0 or not math.isfinite(step):
        return 0
    least = max(0, -math.floor(math.log10(step)))
    for places in range(least, least + 3):
        scaled = step * 10.0**places
        if abs(scaled - round(scaled)) < 1e-6 * max(1.0, scaled):
            return places
    return least + 2


def format_value(value: float, step: float = 1.0) -> str:
    """A tick or data label with as many decimals as the step needs and no "-0"."""
    text = f"{value:.{decimals(step)}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def format_figure(value: float) -> str:
    """A value to one decimal with no trailing ".0", as the tables write it (12, 12.5)."""
    text = format_value(value, 0.1)
    return text[:-2] if text.endswith(".0") else text


def format_percent(share: float, step: float = 0.1) -> str:
    """A share as a percentage label: 0.5 -> "50%"."""
    return f"{format_value(share * 100, step * 100)}%"


@dataclass(frozen=True)
class LinearScale:
    """Maps a value from ``domain`` to a pixel in ``range`` (range may run downwards, as an
    SVG y axis does). A domain of one value maps everything to the middle of the range."""

    domain: tuple[float, float]
    range: tuple[float, float]
    clamp: bool = False

    def __call__(self, value: float) -> float:
        d0, d1 = self.domain
        r0, r1 = self.range
        if d1 == d0:
            return (r0 + r1) / 2
        share = (value - d0) / (d1 - d0)
        if self.clamp:
            share = min(max(share, 0.0), 1.0)
        return r0 + share * (r1 - r0)


@dataclass(frozen=True)
class Tick:
    value: float
    label: str


def value_axis(low: float, high: float, count: int = 5, *, widen: bool = True,
               percent: bool = False) -> tuple[tuple[float, float], list[Tick]]:
    """A domain and its labelled ticks. ``widen``: stretch the domain to whole steps (a
    concentration axis); otherwise keep it (a questionnaire's fixed total range)."""
    if widen:
        low, high, step = nice_domain(low, high, count)
    else:
        low, high = _spread(low, high)
        step = nice_step(high - low, count)
    fmt = format_percent if percent else format_value
    return (low, high), [Tick(v, fmt(v, step)) for v in ticks(low, high, step)]


def _elapsed(start: datetime, end: datetime) -> timedelta:
    """Real time between two aware moments. (Python subtracts two datetimes that share a
    tzinfo by their wall clocks, which is an hour off across a DST change.)"""
    return end.astimezone(UTC) - start.astimezone(UTC)


@dataclass(frozen=True)
class TimeScale:
    """Maps an aware datetime onto a pixel by elapsed seconds (a DST day is 23 or 25 hours
    wide). A span shorter than ``min_span`` is widened after its start (one reading alone)."""

    start: datetime
    end: datetime
    range: tuple[float, float]
    min_span: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a time axis needs timezone-aware datetimes")

    @property
    def span(self) -> timedelta:
        return max(_elapsed(self.start, self.end), self.min_span)

    @property
    def last(self) -> datetime:
        return self.start + self.span

    def __call__(self, when: datetime) -> float:
        seconds = self.span.total_seconds()
        r0, r1 = self.range
        if seconds <= 0:
            return (r0 + r1) / 2
        return r0 + _elapsed(self.start, when).total_seconds() / seconds * (r1 - r0)


@dataclass(frozen=True)
class TimeTick:
    at: datetime
    label: str


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    """The first instant of ``day`` in ``zone`` (a zone that skips midnight starts at 01:00)."""
    naive = datetime.combine(day, time())
    for hour in range(3):
        candidate = (naive + timedelta(hours=hour)).replace(tzinfo=zone)
        back = candidate.astimezone(UTC).astimezone(zone)
        if back.replace(tzinfo=None) == candidate.replace(tzinfo=None):
            return candidate
    return naive.replace(tzinfo=zone)


def time_ticks(start: datetime, end: datetime, zone: tzinfo, count: int = 6) -> list[TimeTick]:
    """Ticks on local whole hours (a few hours shown) or local midnights (days and more),
    at most about ``count`` of them, labelled as the clinic reads its clock.

    Each tick is a real instant: on the night the clocks go back 01:00 appears twice (an
    hour apart) and on the night they go forward 02:00 never appears. Day ticks fall on
    each local midnight, whatever the day's length.
    """
    start, end = sorted((start.astimezone(UTC), end.astimezone(UTC)))
    hours = max(_elapsed(start, end).total_seconds() / 3600, 1e-9)
    hour_step = next((h for h in HOUR_STEPS if hours / h <= count), None)
    if hour_step is not None:
        # walk the real hours and keep those whose local clock reads a multiple of the step
        at = start.astimezone(zone).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        out = []
        while at <= end:
            local = at.astimezone(zone)
            if at >= start and local.hour % hour_step == 0:
                out.append(TimeTick(local, local.strftime("%H:%M")))
            at += HOUR
        return out
    days = hours / 24
    day_step = next((d for d in DAY_STEPS if days / d <= count), DAY_STEPS[-1])
    day = start.astimezone(zone).date()
    if day_step % 7 == 0:
        day -= timedelta(days=day.weekday())  # weekly ticks fall on Mondays
    out = []
    while True:
        at = _local_midnight(day, zone)
        if at > end:
            return out
        if at >= start:
            out.append(TimeTick(at, at.strftime("%Y-%m-%d")))
        day += timedelta(days=day_step)
