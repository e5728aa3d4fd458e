"""What a bedside monitor's observation means (``devices.json``): an MDC code (decimal, or the
MDIL hex form ``0002-4bb8`` older HL7 2.4 monitors send; else its reference id, such as
``MDC_PULS_OXIM_SAT_O2``) and its unit (an MDC code or reference id, UCUM, or a spelling monitors
send as text, such as ``mmHg``) to the vital sign it records, in the unit the record keeps.
Pure: no Django, no HL7 parsing."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

FILE = Path(__file__).with_name("devices.json")
MDIL_HEX = re.compile(r"^([0-9A-Fa-f]{1,4})-([0-9A-Fa-f]{1,4})$")
# UCUM's annotations (printable ASCII in braces) where monitors put them: before a division
# (``{beats}/min``) or at the end (``%{SpO2}``); one inside a unit's symbol leaves it unknown
ANNOTATION = re.compile(r"\{[!-z|~]*\}(?=/|$)")
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)  # HL7 v2 NM


@dataclass(frozen=True)
class Measurement:
    code: str          # MDC code, decimal
    refid: str
    label: str
    field: str | None  # the vital sign it records (None: known, but not a recorded vital)
    loinc: str | None
    not_recorded: str = ""  # for a known code without a field: why it is not recorded


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


@cache
def _by_refid(table: str) -> dict[str, str]:
    """An MDC table's codes by reference id (``MDC_DIM_MMHG``: ``266016``)."""
    return {entry["refid"]: code for code, entry in _data()[table].items()}


def measurement(code: str, refid: str = "") -> Measurement | None:
    """What an OBX-3 names: its code (component 1), else its MDC reference id (component 2)."""
    code = decimal_code(code)
    found = _data()["measurements"].get(code)
    if found is None and refid.strip() in _by_refid("measurements"):
        code = _by_refid("measurements")[refid.strip()]
        found = _data()["measurements"][code]
    if found is None:
        return None
    return Measurement(code=code, refid=found["refid"], label=found["label"], field=found["field"],
                       loinc=found["loinc"], not_recorded=found.get("not_recorded", ""))


def preference(code: str) -> int:
    """Of two codes for one vital (an ECG's heart rate, an oximeter's pulse), the one the
    reference lists first is the one recorded: its place in the list."""
    return _places().get(decimal_code(code), len(_places()))


@cache
def _places() -> dict[str, int]:
    return {code: place for place, code in enumerate(_data()["measurements"])}


def is_container(code: str, refid: str = "") -> bool:
    found = measurement(code, refid)
    return (found.code if found else decimal_code(code)) in _data()["containers"]["codes"]


def ucum_of(unit: str, name: str = "") -> str | None:
    """A unit as UCUM, or None when unknown: OBX-6's code (component 1) as an MDC code
    (``266016``, MDIL hex too), in UCUM (its case-insensitive form too) or as a spelling monitors
    send (``mmHg``, ``bpm``), UCUM's annotations set aside (``{beats}/min``); else its name
    (component 2) the same ways, or as an MDC reference id (``MDC_DIM_MMHG``)."""
    for text in (unit, name):
        text = (text or "").strip()
        if not text:
            continue
        mdc = _data()["units"].get(decimal_code(text)) or _data()["units"].get(
            _by_refid("units").get(text, ""))
        if mdc is not None:
            return str(mdc["ucum"])
        plain = _without_annotations(text)
        spelled = (_data()["ucum_spellings"].get(plain) or _ucum_ignoring_case().get(plain.upper())
                   or _data()["unit_spellings"]["spellings"].get(text.lower()))
        if spelled is not None:
            return str(spelled)
    return None


def _without_annotations(unit: str) -> str:
    """A UCUM unit without its annotations: text in curly braces changes no unit's meaning
    (UCUM 2.1, section 12), so ``{beats}/min`` is ``/min`` and ``%{SpO2}`` is ``%``; one standing
    alone leaves nothing, which names no unit."""
    return ANNOTATION.sub("", unit) if "{" in unit else unit


@cache
def _ucum_ignoring_case() -> dict[str, str]:
    """UCUM's case-insensitive forms (``MM[HG]``, ``/MIN``, ``CEL``) of the units it knows."""
    return {spelling.upper(): ucum for spelling, ucum in _data()["ucum_spellings"].items()}


def reading(code: str, value: str, unit: str, *, refid: str = "", unit_name: str = "") -> Value:
    """The vital a monitor's (code, value, unit) records, converted to the record's unit; an
    unknown code, an unknown or wrong unit or a value that is not a number says why.
    ``refid`` and ``unit_name``: OBX-3's and OBX-6's second components, read when the first
    names nothing known."""
    found = measurement(code, refid)
    ucum = ucum_of(unit, unit_name) or ""
    if found is None:
        named = code or refid or "(none)"
        return Value(None, None, ucum, f"code {named} is not a vital sign kapclinic records")
    if found.field is None:
        return Value(found, None, ucum, f"{found.label} is not recorded: {found.not_recorded}")
    text = str(value).strip()
    if not NUMBER.fullmatch(text):  # HL7's NM: digits, a sign, a decimal point; nothing float() also takes
        return Value(found, None, ucum, f"{found.label}: “{value}” is not a number")
    number = float(text)
    wanted = _data()["field_units"][found.field]
    if ucum == "[degF]" and wanted == "Cel":
        return Value(found, round((number - 32) * 5 / 9, 2), "Cel")
    if ucum != wanted:
        sent = unit or unit_name or "none"
        return Value(found, None, ucum, f"{found.label}: unit “{sent}” is not {wanted}")
    return Value(found, number, ucum)


def disagreement(found: Measurement, ucum: str, code_first: tuple[str, str, str],
                 unit_first: tuple[str, str, str]) -> str:
    """Why a value read from OBX-3's or OBX-6's alternate (MDC) triplet is unclear, "" when it is
    not: its first triplet, in another coding system, names another vital (a LOINC code
    kapclinic knows) or another unit."""
    code, _, system = code_first
    if system == "LN":
        named = _fields_by_loinc().get(code)
        if named is not None and named != found.field:
            return (f"OBX-3 names LOINC {code} and MDC {found.code} ({found.label}), two different "
                    "vitals: which is meant is unclear")
    if unit_first[:2] != ("", ""):
        named_unit = ucum_of(*unit_first[:2])
        if named_unit is not None and named_unit != ucum:
            return (f"OBX-6 names two different units ({unit_first[0] or unit_first[1]} and {ucum}): "
                    "which is meant is unclear")
    return ""


@cache
def _fields_by_loinc() -> dict[str, str]:
    return {entry["loinc"]: entry["field"] for entry in _data()["measurements"].values()
            if entry["loinc"] and entry["field"]}


def field_code(field: str) -> dict[str, str]:
    """A recorded vital as an observation code: system, code, display and UCUM unit."""
    return dict(_data()["field_codes"][field])
