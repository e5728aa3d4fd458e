"""Validate an intake mapping into a flat, typed view the rules read.

A key that is absent is missing information; ``null`` means unknown and is treated the same
(both become ``None``). Unknown keys, wrong types and impossible values raise ``IntakeError``
naming the field. Impossible means outside the hard-reject limits of clinical.md 4.4
(data-validation limits only, not clinical thresholds), a diastolic pressure at or above the
systolic, a date of birth after the evaluation date or an ICD-10-CM code the clinic's code
table (clinical.md 6.1) does not know. Values outside the 4.4 soft range are kept and
reported as warnings ("check the units").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from kapclinic.clinical.codes import diagnoses

from .definitions import PlausibilityLimit
from .errors import IntakeError
from .schema import HISTORY_KEYS, INPUT_FIELDS, SEX_AT_BIRTH, TOP_LEVEL_KEYS

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# An engineering limit, not a clinical fact: the most a count field (adequate antidepressant
# trials) takes. A larger count is a typing error, and 20-digit numbers do not fit the store.
MAX_COUNT = 100


@dataclass(frozen=True)
class Intake:
    """Validated intake: ``values`` maps every field in ``INPUT_FIELDS`` to a value or None."""

    values: Mapping[str, Any]
    warnings: tuple[str, ...]

    def get(self, field: str) -> Any:
        return self.values.get(field)


def _fmt(x: float) -> str:
    return f"{x:g}"


def validate_intake(raw: Any, as_of: date, limits: Mapping[str, PlausibilityLimit]) -> Intake:
    """Check ``raw`` and return an ``Intake``; raise ``IntakeError`` naming the first bad field."""
    if not isinstance(raw, Mapping):
        raise IntakeError("(intake)", "must be a JSON object of intake fields")
    for key in sorted(map(str, raw)):
        if key not in TOP_LEVEL_KEYS:
            raise IntakeError(key, "is not a known intake field")
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for field, kind in INPUT_FIELDS.items():
        if field.startswith("history."):
            continue
        value = raw.get(field)
        values[field] = None if value is None else _value(field, kind, value, as_of, limits, warnings)
    history = raw.get("history")
    if history is not None and not isinstance(history, Mapping):
        raise IntakeError("history", "must be an object of yes/no answers (or null if unknown)")
    history = history or {}
    for key in sorted(map(str, history)):
        if key not in HISTORY_KEYS:
            raise IntakeError(f"history.{key}", "is not a known history field")
    for key in HISTORY_KEYS:
        value = history.get(key)
        if value is not None and not isinstance(value, bool):
            raise IntakeError(f"history.{key}", "must be true, false or null")
        values[f"history.{key}"] = value
    sbp, dbp = values["sbp_mmhg"], values["dbp_mmhg"]
    if sbp is not None and dbp is not None and dbp >= sbp:
        raise IntakeError("dbp_mmhg", f"diastolic {_fmt(dbp)} must be below systolic {_fmt(sbp)}: "
                                      "check the two readings")
    return Intake(values, tuple(warnings))


def _value(field: str, kind: str, value: Any, as_of: date, limits: Mapping[str, PlausibilityLimit],
           warnings: list[str]) -> Any:
    if kind == "date":
        return _date(field, value, as_of)
    if kind == "choice":
        if not isinstance(value, str) or value not in SEX_AT_BIRTH:
            raise IntakeError(field, f"must be one of {', '.join(SEX_AT_BIRTH)}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise IntakeError(field, "must be true, false or null")
        return value
    if kind in ("number", "count", "score"):
        return _number(field, kind, value, limits, warnings)
    if kind == "codes":
        codes = _names(field, value)
        out = []
        for i, code in enumerate(codes):
            dx = diagnoses().get(code)
            if dx is None:
                raise IntakeError(f"{field}[{i}]", f"'{code}' is not an ICD-10-CM code "
                                                   f"({diagnoses().code_set}); write it like F33.1")
            if not dx.billable:
                raise IntakeError(f"{field}[{i}]", dx.heading_message())
            out.append(dx.code)
        return tuple(out)
    return _names(field, value)


def _date(field: str, value: Any, as_of: date) -> date:
    if isinstance(value, date):
        born = value
    elif isinstance(value, str) and _ISO_DATE.match(value):
        try:
            born = date.fromisoformat(value)
        except ValueError as exc:
            raise IntakeError(field, f"'{value}' is not a real date") from exc
    else:
        raise IntakeError(field, "must be a date written YYYY-MM-DD")
    if born > as_of:
        raise IntakeError(field, f"{born.isoformat()} is after the evaluation date {as_of.isoformat()}")
    return born


def _number(field: str, kind: str, value: Any, limits: Mapping[str, PlausibilityLimit],
            warnings: list[str]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IntakeError(field, "must be a number")
    if not math.isfinite(value):
        raise IntakeError(field, "must be a finite number")
    if kind in ("count", "score") and not float(value).is_integer():
        raise IntakeError(field, "must be a whole number")
    if kind == "count" and value < 0:
        raise IntakeError(field, "must not be negative")
    if kind == "count" and value > MAX_COUNT:
        raise IntakeError(field, f"must be at most {MAX_COUNT} (an engineering limit): check "
                                 "the number")
    limit = limits.get(field)
    if limit is not None:
        if not limit.reject_below <= value <= limit.reject_above:
            raise IntakeError(field, f"{_fmt(value)} is outside the plausible range "
                                     f"{_fmt(limit.reject_below)}-{_fmt(limit.reject_above)} {limit.unit}")
        low = limit.warn_below is not None and value < limit.warn_below
        high = limit.warn_above is not None and value > limit.warn_above
        if low or high:
            lo = limit.reject_below if limit.warn_below is None else limit.warn_below
            hi = limit.reject_above if limit.warn_above is None else limit.warn_above
            warnings.append(f"{field} {_fmt(value)} {limit.unit} is outside the usual range "
                            f"{_fmt(lo)}-{_fmt(hi)}: check the entry and its units")
    return float(value)


def _names(field: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise IntakeError(field, "must be a list of names (or null if unknown)")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise IntakeError(f"{field}[{i}]", "must be a non-empty string")
        out.append(" ".join(item.split()))
    return tuple(out)
