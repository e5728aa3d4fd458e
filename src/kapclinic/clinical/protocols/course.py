"""A course planned from a protocol's schedule: the dates of the dosing sessions, phase by
phase, within the protocol's spacing rules, and the therapy around them.

Only dates: the app chooses times, rooms and people. Each phase starts in its ``from_week``
(week 1 holds the first dose) or, when an earlier phase ran over, in the week after that
phase's last dose. A phase with a session count plans exactly that many at its rate; one
with an end week plans its weeks; an open-ended phase (maintenance) plans ``open_weeks``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .definitions import Protocol
from .errors import ProtocolSettingError

WEEK = 7
# Engineering bounds on a plan's reach: how far open-ended maintenance is planned ahead and
# how far around each dose the therapy visits fall.
OPEN_WEEKS_BOUNDS = (1, 52)
THERAPY_DAYS_BOUNDS = (0, 28)


@dataclass(frozen=True)
class PlannedDose:
    number: int  # 1 for the first dose of the course
    phase: str   # the protocol's phase name: induction, maintenance, continuation
    on: date


@dataclass(frozen=True)
class PlannedTherapy:
    kind: str                # "preparation" or "integration"
    on: date
    dose_number: int         # the dose it prepares for or integrates


@dataclass(frozen=True)
class CoursePlan:
    doses: tuple[PlannedDose, ...]
    therapy: tuple[PlannedTherapy, ...]


def _within(name: str, value: int, bounds: tuple[int, int]) -> None:
    lo, hi = bounds
    if not lo <= value <= hi:
        raise ProtocolSettingError(name, f"must be a whole number from {lo} to {hi}")


def _week_offsets(per_week: float) -> list[int]:
    """Days after a week's start for ``per_week`` sessions spread over it (2: Mon and Thu;
    3: Mon, Wed, Fri, as the repeated-infusion trials)."""
    count = max(1, math.floor(per_week))
    return [math.floor(i * WEEK / count) for i in range(count)]


def _phase_dates(start: date, per_week: float, *, weeks: int | None, count: int | None) -> list[date]:
    """The dates of one phase from ``start``: ``count`` sessions, or ``weeks`` weeks' worth."""
    dates: list[date] = []
    if per_week >= 1:
        offsets = _week_offsets(per_week)
        week = 0
        while (count is None and week < (weeks or 0)) or (count is not None and len(dates) < count):
            for offset in offsets:
                if count is not None and len(dates) == count:
                    break
                dates.append(start + timedelta(days=week * WEEK + offset))
            week += 1
    else:
        every = max(1, round(1 / per_week))  # 0.5 a week: every 2 weeks
        week = 0
        while (count is None and week < (weeks or 0)) or (count is not None and len(dates) < count):
            dates.append(start + timedelta(days=week * WEEK))
            week += every
    return dates


def _spaced(wanted: date, planned: list[date], min_days: int, max_per_week: int) -> date:
    """``wanted`` or the first later day keeping ``min_days`` from the previous dose and no
    more than ``max_per_week`` doses in any seven days."""
    day = wanted
    if planned:
        day = max(day, planned[-1] + timedelta(days=min_days))
    while sum(1 for d in planned if day - d < timedelta(days=WEEK)) >= max_per_week:
        day += timedelta(days=1)
    return day


def plan_doses(protocol: Protocol, first_dose: date, *, open_weeks: int) -> list[PlannedDose]:
    """Every dosing session of a course that starts on ``first_dose``."""
    _within("open_weeks", open_weeks, OPEN_WEEKS_BOUNDS)
    spacing = protocol.model.spacing
    min_days = math.ceil(protocol.number(spacing.min_days_between_sessions))
    max_per_week = max(1, math.floor(protocol.number(spacing.max_sessions_per_week)))
    planned: list[PlannedDose] = []
    previous = None
    for phase in protocol.model.schedule:
        nominal = first_dose + timedelta(days=(phase.from_week - 1) * WEEK)
        per_week = protocol.number(phase.sessions_per_week)
        if planned:  # a phase that ran over pushes the next one to the week after it
            weeks_in = (planned[-1].on - first_dose).days // WEEK + 1
            nominal = max(nominal, first_dose + timedelta(days=weeks_in * WEEK))
        if planned and previous is not None and previous.sessions is not None and per_week < 1:
            # after a series counted in sessions (IV: six infusions), sparser maintenance
            # begins one of its own intervals after the series' last dose, not days after it
            nominal = max(nominal, planned[-1].on + timedelta(days=round(WEEK / per_week)))
        previous = phase
        count = None if phase.sessions is None else round(protocol.number(phase.sessions))
        weeks = (open_weeks if phase.to_week is None
                 else phase.to_week - phase.from_week + 1)
        for wanted in _phase_dates(nominal, per_week, weeks=weeks, count=count):
            on = _spaced(wanted, [dose.on for dose in planned], min_days, max_per_week)
            planned.append(PlannedDose(len(planned) + 1, phase.name, on))
    return planned


def plan_course(protocol: Protocol, first_dose: date, *, open_weeks: int,
                preparation_days_before: int, integration_days_after: int) -> CoursePlan:
    """The doses, one preparation visit before the first, and an integration visit after
    each dose (``integration_days_after`` 0: the same day, after the session)."""
    _within("preparation_days_before", preparation_days_before, THERAPY_DAYS_BOUNDS)
    _within("integration_days_after", integration_days_after, THERAPY_DAYS_BOUNDS)
    doses = plan_doses(protocol, first_dose, open_weeks=open_weeks)
    therapy = [PlannedTherapy("preparation", first_dose - timedelta(days=preparation_days_before), 1)]
    therapy += [PlannedTherapy("integration", dose.on + timedelta(days=integration_days_after),
                               dose.number) for dose in doses]
    return CoursePlan(tuple(doses), tuple(therapy))


PREPARATION_GAP = timedelta(hours=1)  # scheduling: a late preparation visit ends before the dose


def preparation_time(planned: datetime, first_dose_at: datetime, now: datetime) -> datetime:
    """When the preparation visit is booked: at ``planned`` (the lead time before the first
    dose) unless that is already past, as when a course starts sooner than the lead. Then the
    next whole hour, or an hour before the first dose when that is sooner, and never before
    ``now`` (a dose within the hour: now). All three times are aware; the answer is in
    ``now``'s zone when it moved."""
    if planned >= now:
        return planned
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return max(now, min(next_hour, first_dose_at - PREPARATION_GAP))


def chair_minutes(protocol: Protocol) -> float:
    """How long a session of ``protocol`` holds its chair at the least, in minutes: the dosing
    (the infusion time, when it infuses) and the minimum observation, counted from the start
    or the end of dosing as the protocol counts it. The check-in and the checklist before the
    dose come on top; the clinic books them as it needs."""
    infusion = protocol.infusion_minutes or 0.0
    observation = protocol.min_observation_minutes
    if protocol.observation_counted_from == "dose_end":
        return infusion + observation
    return max(infusion, observation)


def spacing_problem(protocol: Protocol, on: date, others: list[date]) -> str | None:
    """Why a dose on ``on`` would break the protocol's spacing beside the course's other
    dose dates, in words; None when it keeps it."""
    min_days = math.ceil(protocol.number(protocol.model.spacing.min_days_between_sessions))
    max_per_week = max(1, math.floor(protocol.number(protocol.model.spacing.max_sessions_per_week)))
    close = [d for d in others if abs((on - d).days) < min_days]
    if close:
        return (f"it would be {abs((on - close[0]).days)} day(s) from the dose of "
                f"{close[0].isoformat()}; the protocol keeps at least {min_days} days between doses")
    for start in (on - timedelta(days=k) for k in range(WEEK)):
        in_week = [d for d in [*others, on] if timedelta(0) <= d - start < timedelta(days=WEEK)]
        if len(in_week) > max_per_week:
            return (f"it would make {len(in_week)} doses in the seven days from "
                    f"{start.isoformat()}; the protocol allows at most {max_per_week}")
    return None
