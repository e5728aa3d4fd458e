"""Readings and the clinical.md 4.4 data-entry limits (keying errors, not clinical thresholds).

The limits are read from the one file the screening core reads them from
(``clinical/screening/data/plausibility.json``), so intake and session readings agree.
A value outside the hard limits is refused naming the field; outside the soft limits it is
accepted with a warning to check it. MOAA/S is a whole number 0-5 (clinical.md 1.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
from typing import Literal

from .errors import ReadingError

Phase = Literal["pre_dose", "dosing", "after_dose"]
PHASES: tuple[str, ...] = ("pre_dose", "dosing", "after_dose")
VITALS = ("sbp_mmhg", "dbp_mmhg", "heart_rate_bpm", "spo2_pct", "resp_rate_per_min", "temp_c")
FIELD_WORDS = {"sbp_mmhg": ("systolic BP", "mmHg"), "dbp_mmhg": ("diastolic BP", "mmHg"),
               "heart_rate_bpm": ("heart rate", "/min"), "spo2_pct": ("SpO2", "%"),
               "resp_rate_per_min": ("breathing rate", "/min"), "temp_c": ("temperature", "°C"),
               "moaas": ("MOAA/S", "")}
MOAAS_RANGE = (0, 5)  # clinical.md 1.1 moaas row: 0-5


@dataclass(frozen=True)
class Reading:
    """One set of observations at ``observed_at`` (timezone-aware); any subset of fields."""

    observed_at: datetime
    phase: Phase
    sbp_mmhg: float | None = None
    dbp_mmhg: float | None = None
    heart_rate_bpm: float | None = None
    spo2_pct: float | None = None
    resp_rate_per_min: float | None = None
    temp_c: float | None = None
    moaas: int | None = None

    def values(self) -> dict[str, float]:
        return {f.name: float(v) for f in fields(self)
                if f.name not in ("observed_at", "phase") and (v := getattr(self, f.name)) is not None}


@dataclass(frozen=True)
class Limit:
    reject_below: float
    reject_above: float
    warn_below: float | None
    warn_above: float | None
    unit: str


@cache
def limits() -> dict[str, Limit]:
    from kapclinic.clinical.screening.definitions import load_plausibility

    pool = load_plausibility()
    return {name: Limit(pool[name].reject_below, pool[name].reject_above, pool[name].warn_below,
                        pool[name].warn_above, FIELD_WORDS[name][1]) for name in VITALS}


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def check_reading(reading: Reading, now: datetime | None = None) -> list[str]:
    """Refuse an impossible reading (``ReadingError`` naming the field); return warnings
    for values outside the usual range."""
    if reading.observed_at.tzinfo is None:
        raise ReadingError("observed_at", "must carry a time zone")
    if now is not None and reading.observed_at > now:
        raise ReadingError("observed_at", "is in the future")
    if reading.phase not in PHASES:
        raise ReadingError("phase", f"'{reading.phase}' is not one of {', '.join(PHASES)}")
    values = reading.values()
    if not values:
        raise ReadingError("reading", "has no values")
    warnings = []
    for name, value in values.items():
        raw = getattr(reading, name)
        if isinstance(raw, bool) or not math.isfinite(value):
            raise ReadingError(name, "must be a finite number")
        if name == "moaas":
            if not float(raw).is_integer() or not MOAAS_RANGE[0] <= value <= MOAAS_RANGE[1]:
                raise ReadingError(name, "must be a whole number from 0 to 5")
            continue
        lim = limits()[name]
        if not lim.reject_below <= value <= lim.reject_above:
            raise ReadingError(name, f"{_fmt(value)} {lim.unit} is outside the possible range "
                                     f"{_fmt(lim.reject_below)}-{_fmt(lim.reject_above)} {lim.unit}: "
                                     "check the entry")
        if (lim.warn_below is not None and value < lim.warn_below) or \
                (lim.warn_above is not None and value > lim.warn_above):
            warnings.append(f"{FIELD_WORDS[name][0]} {_fmt(value)} {lim.unit} is outside the usual "
                            "range: check the entry")
    sbp, dbp = values.get("sbp_mmhg"), values.get("dbp_mmhg")
    if sbp is not None and dbp is not None and dbp >= sbp:
        raise ReadingError("dbp_mmhg", f"{_fmt(dbp)} mmHg is not below the systolic {_fmt(sbp)} mmHg: "
                                       "check the entry")
    return warnings
