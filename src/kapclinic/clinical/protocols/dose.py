"""Dose calculation against a protocol: mg and mg/kg, the range, the hard cap.

Rounding (stated, tested): a dose in mg is rounded to the nearest 0.1 mg, halves up; a dose
asked for in mg/kg on a mg/kg protocol is never rounded across a boundary of the protocol
(a dose asked for at the cap is rounded down rather than above it, one asked for at the
bottom of the range up rather than below it). Whether a dose is within the protocol is
judged on the dose asked for in mg/kg, or on the rounded mg when the dose is given in mg.
``dose_mg_per_kg`` reports the rounded dose divided by the weight, to 3 decimals.

A weight-based protocol cannot be dosed without today's weight: a weight taken more than
``WEIGHT_MAX_AGE_DAYS`` days before the session is refused (the reference says the weight
and its date are stored with each dose, clinical.md 5, but not how old it may be).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from kapclinic.clinical.definitions import Setting

from .definitions import Protocol
from .errors import DoseInputError
from .file_model import Param

ROUNDING_STEP_MG = Decimal("0.1")
ROUNDING_WORDS = "doses are rounded to the nearest 0.1 mg, never across the protocol's range or cap"
# A dose more than this many times the protocol's cap is taken for a keying error and refused
# (an engineering check, like clinical.md 4.4's limits), not judged as a dose above the cap.
IMPLAUSIBLE_TIMES_CAP = 10
# an engineering bound on any number typed here (weights, doses), before any arithmetic
LARGEST_NUMBER = 100_000

WEIGHT_MAX_AGE_DAYS: Setting[float] = Setting(
    "weight_max_age_days",
    "Today's weight: a weight-based dose needs a weight taken no more than this many days before "
    "the session (default 0: weighed on the day)",
    0, minimum=0, maximum=30, unit="d", integer=True, evidence="policy",
    source="clinical.md 5 encoding guidance stores the weight used and its measurement date with "
           "every dose; it does not say how old the weight may be: clinic setting")


@dataclass(frozen=True)
class WeightLimit:
    reject_below: float
    reject_above: float
    warn_below: float | None
    warn_above: float | None


@cache
def weight_limit() -> WeightLimit:
    """clinical.md 4.4 weight limits, from the one plausibility file the screening core reads."""
    from kapclinic.clinical.screening.definitions import load_ruleset

    w = load_ruleset().plausibility["weight_kg"]
    return WeightLimit(w.reject_below, w.reject_above, w.warn_below, w.warn_above)


@dataclass(frozen=True)
class DoseResult:
    protocol: str  # id@version
    route: str
    dose_mg: float
    dose_mg_per_kg: float | None
    weight_kg: float | None
    weight_date: str | None
    within_protocol: bool
    above_cap: bool
    needs_reason_and_second_clinician: bool
    messages: tuple[str, ...]
    rounding: str = ROUNDING_WORDS

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["messages"] = list(self.messages)
        return out


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DoseInputError(field, "must be a number")
    if not math.isfinite(value):
        raise DoseInputError(field, "must be a finite number")
    if value <= 0:
        raise DoseInputError(field, "must be above zero")
    if value > LARGEST_NUMBER:
        raise DoseInputError(field, f"is above {LARGEST_NUMBER:,.0f}: check the entry")
    return float(value)


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def _tenths(mg: Decimal) -> int:
    """Whole tenths of a mg, halves up (on the exact decimal product, not a float's)."""
    return int((mg / ROUNDING_STEP_MG).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _words(protocol: Protocol, param: Param) -> str:
    """Where a number comes from, in the words a clinician reads."""
    if param.setting is not None and param.setting.name in protocol.chosen \
            and protocol.chosen[param.setting.name] != param.value:
        return "your clinic's setting"
    return param.says


def _check_weight(protocol: Protocol, weight_kg: Any, weight_date: date | None, today: date | None,
                  max_age_days: int, messages: list[str]) -> float | None:
    if weight_kg is None:
        if protocol.weight_based:
            raise DoseInputError("weight_kg", f"{protocol.label} is dosed by weight: weigh the patient today")
        return None
    weight = _number("weight_kg", weight_kg)
    lim = weight_limit()
    if not lim.reject_below <= weight <= lim.reject_above:
        raise DoseInputError("weight_kg", f"{_fmt(weight)} kg is outside the plausible range "
                                          f"{_fmt(lim.reject_below)}-{_fmt(lim.reject_above)} kg: "
                                          "check the entry and its units (kg, not lb)")
    if (lim.warn_below is not None and weight < lim.warn_below) or \
            (lim.warn_above is not None and weight > lim.warn_above):
        messages.append(f"A weight of {_fmt(weight)} kg is outside the usual range: check it "
                        "was entered in kilograms.")
    if protocol.weight_based:
        if weight_date is None or today is None:
            raise DoseInputError("weight_date", "a weight-based dose needs the date the weight was taken")
        if weight_date > today:
            raise DoseInputError("weight_date", f"{weight_date.isoformat()} is after today")
        age = (today - weight_date).days
        if age > max_age_days:
            allowed = "today" if max_age_days == 0 else f"within {max_age_days} days"
            raise DoseInputError("weight_date", f"the weight is from {weight_date.isoformat()}, "
                                                f"{age} days ago; {protocol.label} needs a weight "
                                                f"taken {allowed}: weigh the patient")
    return weight


def calculate_dose(protocol: Protocol, weight_kg: float | None, *, dose_mg_per_kg: float | None = None,
                   dose_mg: float | None = None, weight_date: date | None = None,
                   today: date | None = None, weight_max_age_days: int | None = None,
                   age_years: float | None = None, first_dose: bool = False) -> DoseResult:
    """The dose in mg and mg/kg for ``protocol`` (already configured with the clinic's
    settings), whether it is within the protocol, and plain messages naming the range or
    cap and where it comes from. Exactly one of ``dose_mg_per_kg`` and ``dose_mg``.

    Raises ``DoseInputError`` (naming the field) for impossible input: a missing, zero,
    negative, non-finite or implausible (clinical.md 4.4) weight; a weight not taken today
    (``weight_max_age_days``) for a weight-based protocol; both or neither dose; a dose
    more than ten times the cap.

    A label's age and day-1 rules (esketamine: from 65 the range starts at 28 mg and the
    first dose is 28 mg; under 65 it is 56 mg) apply with ``age_years`` and ``first_dose``
    (the patient's first dose of the drug); without the age the under-age rules apply.
    """
    if (dose_mg_per_kg is None) == (dose_mg is None):
        raise DoseInputError("dose", "give exactly one of dose_mg_per_kg and dose_mg")
    max_age = WEIGHT_MAX_AGE_DAYS.default if weight_max_age_days is None else weight_max_age_days
    problem = WEIGHT_MAX_AGE_DAYS.problem(max_age)
    if problem is not None:
        raise DoseInputError("weight_max_age_days", problem)
    if age_years is not None and (isinstance(age_years, bool) or not isinstance(age_years, int | float)
                                  or not 0 <= age_years <= 130):
        raise DoseInputError("age_years", "must be an age in years from 0 to 130")
    messages: list[str] = []
    weight = _check_weight(protocol, weight_kg, weight_date, today, int(max_age), messages)
    unit = protocol.unit_words
    lo, hi = protocol.dose_range
    cap = protocol.cap
    dose = protocol.model.dose
    rule = dose.age_rule
    band = None
    if rule is not None:
        older = age_years is not None and age_years >= protocol.number(rule.from_age)
        band = rule.from_age_on if older else rule.under
    lowest = band.range_min if band is not None else dose.range_min
    lo = max(lo, protocol.number(lowest))
    # the dose in the protocol's unit, as asked for, and the mg to give
    if dose_mg_per_kg is not None:
        per_kg = _number("dose_mg_per_kg", dose_mg_per_kg)
        if weight is None:
            raise DoseInputError("weight_kg", "a dose in mg/kg needs the weight")
        tenths = _tenths(Decimal(repr(weight)) * Decimal(repr(per_kg)))
        if protocol.weight_based:
            asked = per_kg
            tenths = _keep_inside(tenths, per_kg, weight, lo, (hi, cap))
        else:
            asked = tenths / 10
    else:
        tenths = _tenths(Decimal(repr(_number("dose_mg", dose_mg))))
        if tenths == 0:
            raise DoseInputError("dose_mg", "rounds to 0 mg")
        asked = tenths / 10 / weight if protocol.weight_based and weight is not None else tenths / 10
    if asked > IMPLAUSIBLE_TIMES_CAP * cap:
        field = "dose_mg_per_kg" if dose_mg_per_kg is not None else "dose_mg"
        raise DoseInputError(field, f"{_fmt(asked)} {unit} is more than {IMPLAUSIBLE_TIMES_CAP} times "
                                    f"the protocol's cap of {_fmt(cap)} {unit}: check the entry")
    mg = tenths / 10
    if tenths == 0:
        raise DoseInputError("dose_mg_per_kg", "the dose rounds to 0 mg")
    above_cap = asked > cap
    in_range = lo <= asked <= hi
    whole = True
    if dose.whole_multiple_of is not None:
        step = protocol.number(dose.whole_multiple_of)
        whole = math.isclose(mg / step, round(mg / step), abs_tol=1e-9)
    day_one = _first_dose_problem(protocol, mg, band.first_dose if band is not None else None, first_dose)
    within = in_range and not above_cap and whole and day_one is None
    shown = f"{_fmt(asked)} {unit}"
    if weight is not None:
        shown += f" ({_fmt(mg)} mg for {_fmt(weight)} kg)" if protocol.weight_based else ""
    if above_cap:
        messages.append(f"{shown} is above the hard cap of {_fmt(cap)} {unit}: "
                        f"{_words(protocol, dose.cap)}.")
    elif not in_range:
        side = "above" if asked > hi else "below"
        messages.append(f"{shown} is {side} the protocol range of {_fmt(lo)}-{_fmt(hi)} {unit}: "
                        f"{_range_words(protocol, lowest)}.")
    else:
        messages.append(f"{shown} is within the protocol range of {_fmt(lo)}-{_fmt(hi)} {unit}: "
                        f"{_range_words(protocol, lowest)}.")
    if not whole and dose.whole_multiple_of is not None:
        messages.append(f"{_fmt(mg)} mg cannot be given in whole devices: "
                        f"{_words(protocol, dose.whole_multiple_of)}.")
    if rule is not None and age_years is None:
        from_age = _fmt(protocol.number(rule.from_age))
        messages.append(f"Age not given: the doses under {from_age} apply (from {from_age}, the "
                        f"lowest is {_fmt(protocol.number(rule.from_age_on.range_min))} mg).")
    if day_one is not None:
        messages.append(day_one)
    if not within:
        messages.append("Giving it needs a written reason and a second clinician's confirmation.")
    if dose_mg_per_kg is not None and not math.isclose(mg, (weight or 0) * dose_mg_per_kg, abs_tol=1e-9):
        messages.append(f"Rounded to {_fmt(mg)} mg ({ROUNDING_WORDS}).")
    return DoseResult(
        protocol=protocol.version_id, route=protocol.route, dose_mg=mg,
        dose_mg_per_kg=None if weight is None else round(mg / weight, 3),
        weight_kg=weight, weight_date=weight_date.isoformat() if weight_date else None,
        within_protocol=within, above_cap=above_cap,
        needs_reason_and_second_clinician=not within, messages=tuple(messages))


def usual_dose(protocol: Protocol, *, age_years: float | None = None,
               first_dose: bool = False) -> float | None:
    """The dose to plan, in the protocol's unit: on a patient's first dose, the label's first
    dose for their age where the protocol has one (esketamine: 56 mg, 28 mg from 65), else
    the protocol's standard dose (None when it names none)."""
    dose = protocol.model.dose
    rule = dose.age_rule
    if rule is not None and first_dose:
        older = age_years is not None and age_years >= protocol.number(rule.from_age)
        return protocol.number((rule.from_age_on if older else rule.under).first_dose)
    return None if dose.standard is None else protocol.number(dose.standard)


def _first_dose_problem(protocol: Protocol, mg: float, expected: Param | None,
                        first_dose: bool) -> str | None:
    """Why ``mg`` is not the label's first dose, when this is the patient's first."""
    if not first_dose or expected is None or math.isclose(mg, protocol.number(expected), abs_tol=1e-9):
        return None
    return f"This is the patient's first dose: {_words(protocol, expected)}, not {_fmt(mg)} mg."


def _range_words(protocol: Protocol, lowest: Param | None = None) -> str:
    low = _words(protocol, lowest or protocol.model.dose.range_min)
    high = _words(protocol, protocol.model.dose.range_max)
    return low if low == high else f"{low} and {high}"


def _keep_inside(tenths: int, per_kg: float, weight: float, lowest: float,
                 highest: tuple[float, ...]) -> int:
    """Round without leaving the protocol: a dose asked for at or above the range's bottom
    stays at or above it, one at or under the range's top or the cap stays at or under it
    (under wins when the range is narrower than one rounding step)."""
    if per_kg >= lowest:
        tenths = max(tenths, math.ceil(Decimal(repr(lowest)) * Decimal(repr(weight)) / ROUNDING_STEP_MG))
    for b in highest:
        if per_kg <= b:
            tenths = min(tenths, math.floor(Decimal(repr(b)) * Decimal(repr(weight)) / ROUNDING_STEP_MG))
    return tenths
