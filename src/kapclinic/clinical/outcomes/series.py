"""Typed inputs: a patient's scores on one instrument over time, and clinical events.

Datetimes must be timezone-aware (design.md: aware UTC in the database). Calendar-day
counts (the 5-15 day spacing of the SUSTAIN-1 relapse rule, clinical.md 2) use the date
of each datetime in the zone it carries, so pass datetimes in the clinic's zone when
calendar days matter; elapsed durations (time to response, durability) do not depend on
the zone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import SeriesError

SECONDS_PER_DAY = 86_400.0


def _aware(value: object, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise SeriesError(f"{what}: {value!r} is not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise SeriesError(f"{what}: {value.isoformat()} has no timezone (use an aware datetime)")
    return value


def days_between(earlier: datetime, later: datetime) -> float:
    """Elapsed time from ``earlier`` to ``later`` in days (float; 1 day = 86,400 s)."""
    return (later - earlier).total_seconds() / SECONDS_PER_DAY


def calendar_days_between(earlier: datetime, later: datetime) -> int:
    """Whole calendar days from ``earlier``'s date to ``later``'s date, both read in
    ``earlier``'s zone (e.g. Mon 23:00 to Tue 08:00 is 1 day)."""
    later_local = later.astimezone(earlier.tzinfo)
    return (later_local.date() - earlier.date()).days


@dataclass(frozen=True)
class ScorePoint:
    """One questionnaire total (instrument points) and when it was taken (aware datetime)."""

    taken_at: datetime
    total: float

    def __post_init__(self) -> None:
        _aware(self.taken_at, "taken_at")
        if (isinstance(self.total, bool) or not isinstance(self.total, int | float)
                or not math.isfinite(self.total)):
            raise SeriesError(f"total at {self.taken_at.isoformat()}: {self.total!r} must be a finite number")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ISO 8601 time and total."""
        return {"taken_at": self.taken_at.isoformat(), "total": self.total}


@dataclass(frozen=True)
class ScoreSeries:
    """A patient's totals on one instrument, sorted by time (ties keep input order).

    ``episode_start`` / ``course_start`` are the treatment episode and course starts
    (aware datetimes), used to pick the baseline (clinical.md 2 guidance: baseline per
    treatment episode).
    """

    instrument_id: str
    points: tuple[ScorePoint, ...]
    episode_start: datetime | None = None
    course_start: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.instrument_id, str) or not self.instrument_id:
            raise SeriesError("instrument_id must be a non-empty string")
        points = tuple(self.points)
        for p in points:
            if not isinstance(p, ScorePoint):
                raise SeriesError(f"points must be ScorePoint, not {type(p).__name__}")
        object.__setattr__(self, "points", tuple(sorted(points, key=lambda p: p.taken_at)))
        for name in ("episode_start", "course_start"):
            value = getattr(self, name)
            if value is not None:
                _aware(value, name)

    @classmethod
    def from_pairs(cls, instrument_id: str, pairs: Iterable[tuple[datetime, float]], *,
                   episode_start: datetime | None = None,
                   course_start: datetime | None = None) -> ScoreSeries:
        """Build from ``(taken_at, total)`` pairs (aware datetime, instrument points)."""
        return cls(instrument_id, tuple(ScorePoint(t, v) for t, v in pairs),
                   episode_start=episode_start, course_start=course_start)


@dataclass(frozen=True)
class ClinicalEvent:
    """A clinical event that can define relapse (clinical.md 2, SUSTAIN-1 row).

    ``kind`` is one of the relapse rule's ``event_kinds`` (e.g.
    ``hospitalisation_worsening_depression``, ``suicide_attempt``); ``at`` is the start of
    the hospitalisation if hospitalised, otherwise the date of the event (the row's
    "relapse date"). Kinds a rule does not list are ignored by that rule.
    """

    kind: str
    at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not self.kind:
            raise SeriesError("event kind must be a non-empty string")
        _aware(self.at, f"event {self.kind}")
