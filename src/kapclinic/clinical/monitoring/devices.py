"""What a bedside monitor's observation means (``devices.json``): an MDC code (decimal, or the
MDIL hex form ``0002-4bb8`` older HL7 2.4 monitors send) and its unit (an MDC code or UCUM) to
the vital sign it records, in the unit the record keeps. Pure: no Django, no HL7 parsing."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

FILE = Path(__file__).with_name("devices.json")
MDIL_HEX = re.compile(r"^([0-9A-Fa-f]{1,4})-([0-9A-Fa-f]{1,4})$")


@dataclass(frozen=True)
class Measurement:
    code: str          # MDC code, decimal
    refid: str
    label: str
    field: str | None  # the vital sign it records (None: known, but not a recorded vital)
    loinc: str | None


@dataclass(frozen=True)
class Value:
    """A monitor's value as the record keeps it, or why it is not kept."""

    measurement: Measurement | None
    value: float | None
    ucum: str
    problem: str = ""  # non-empty: not stored as a vital, kept on the message with this reason


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FILE.read_text(encoding="utf-8"))
    return data


def mdc_system() -> str:
    return str(_data()["mdc_system"])


def decimal_code(code: str) -> str:
    """``150456`` as is; MDIL hex ``0002-4bb8`` as partition × 65536 + code = ``150456``."""
    code = (code or "").strip()
    match = MDIL_HEX.match(code)
    if match and not code.isdigit():
        return str(int(match.group(1), 16) * 65536 + int(match.group(2), 16))
    return code


def measurement(code: str) -> Measurement | None:
    code = decimal_code(code)
    found = _data()["measurements"].get(code)
    if found is None:
        return None
    return Measurement(code=code, refid=found["refid"], label=found["label"], field=found["field"],
                       loinc=found["loinc"])


def is_container(code: str) -> bool:
    return decimal_code(code) in _data()["containers"]["codes"]


def ucum_of(unit: str) -> str | None:
    """A unit sent as an MDC code (``266016``, MDIL hex too) or in UCUM, as UCUM; None: unknown."""
    unit = (unit or "").strip()
    mdc = _data()["units"].get(decimal_code(unit))
    if mdc is not None:
        return str(mdc["ucum"])
    spelled = _data()["ucum_spellings"].get(unit)
    return None if spelled is None else str(spelled)


def reading(code: str, value: str, unit: str) -> Value:
    """The vital a monitor's (code, value, unit) records, converted to the record's unit; an
    unknown code, an unknown or wrong unit or a value that is not a number says why."""
    found = measurement(code)
    ucum = ucum_of(unit) or ""
    if found is None:
        return Value(None, None, ucum, f"code {code} is not a vital sign kapclinic records")
    if found.field is None:
        return Value(found, None, ucum, f"{found.label} is not a recorded vital sign")
    try:
        number = float(str(value).strip())
    except ValueError:
        return Value(found, None, ucum, f"{found.label}: “{value}” is not a number")
    if number != number or number in (float("inf"), float("-inf")):
        return Value(found, None, ucum, f"{found.label}: “{value}” is not a number")
    wanted = _data()["field_units"][found.field]
    if ucum == "[degF]" and wanted == "Cel":
        return Value(found, round((number - 32) * 5 / 9, 2), "Cel")
    if ucum != wanted:
        return Value(found, None, ucum, f"{found.label}: unit “{unit or 'none'}” is not {wanted}")
    return Value(found, number, ucum)


def field_code(field: str) -> dict[str, str]:
    """A recorded vital as an observation code: system, code, display and UCUM unit."""
    return dict(_data()["field_codes"][field])
