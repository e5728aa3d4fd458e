"""Session visit codes: which billing code a dosing session's visit carries, as data.

``visit_codes.json`` lists, by drug and route, the codes the reference verifies with the
doses each covers (esketamine: G2082 up to 56 mg, G2083 above 56 mg, both including 2 hours
of observation; clinical.md 3.4 and 6.2), or, where the reference verifies none (racemic
ketamine), why no code is given. No code is ever made up: a visit without a verified code
gets a blank code and a note saying so.

    visit_codes() -> VisitCodeTable           the shipped table (validated once)
    table.code_for(drug, route, dose_mg, ended_as=..., observed_minutes=...) -> CodedVisit

A code is suggested only for a session discharged after at least the observation the code
includes; a session stopped early, or discharged sooner, gets a blank code and a note for
whoever bills it to review (the code's description promises the observation).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from kapclinic.clinical.definitions import validate
from kapclinic.clinical.protocols.file_model import Param

from .file_model import VisitCodesFile, VisitFile

DATA_FILE = Path(__file__).with_name("visit_codes.json")
EndedAs = Literal["discharged", "stopped"]


class VisitCodeTableError(ValueError):
    """visit_codes.json cannot be used: names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"visit_codes.json: {field}: {problem}")
        self.field, self.problem = field, problem


@dataclass(frozen=True)
class CodeBand:
    code: str
    description: str
    dose_mg_above: float | None  # exclusive; None: from any dose above 0
    dose_mg_at_most: float | None  # inclusive; None: no upper end

    def covers(self, dose_mg: float) -> bool:
        return ((self.dose_mg_above is None or dose_mg > self.dose_mg_above)
                and (self.dose_mg_at_most is None or dose_mg <= self.dose_mg_at_most))


@dataclass(frozen=True)
class Visit:
    drug: str
    route: str | None  # None: every route of the drug without its own entry
    label: str
    codes: tuple[CodeBand, ...]
    no_code: str  # why no code, when ``codes`` is empty
    included_observation_minutes: float | None


@dataclass(frozen=True)
class CodedVisit:
    """The code for one session's visit: ``code`` is "" when none is suggested, and
    ``note`` then says why (and may add a caution when a code is given)."""

    code: str
    description: str
    note: str
    visit_label: str


@dataclass(frozen=True)
class VisitCodeTable:
    version: str
    system: str
    citation: str
    note: str
    visits: tuple[Visit, ...]

    def visit_for(self, drug: str, route: str) -> Visit | None:
        """The drug and route's own entry, else the drug's entry for every other route."""
        exact = next((v for v in self.visits if v.drug == drug and v.route == route), None)
        return exact or next((v for v in self.visits if v.drug == drug and v.route is None), None)

    def code_for(self, drug: str, route: str, dose_mg: float, *, ended_as: EndedAs,
                 observed_minutes: float | None) -> CodedVisit:
        """The code of a visit in which ``dose_mg`` (the total given, mg) of ``drug`` was given
        by ``route``, ended as ``ended_as``, observed ``observed_minutes`` from the dose's
        start (None: not known). Raises ValueError for a dose that is not a positive number."""
        if isinstance(dose_mg, bool) or not isinstance(dose_mg, int | float) \
                or not math.isfinite(dose_mg) or dose_mg <= 0:
            raise ValueError(f"dose_mg must be a positive number of mg, not {dose_mg!r}")
        visit = self.visit_for(drug, route)
        if visit is None:
            return CodedVisit("", "", f"No verified code for {drug} ({route}): code it by hand "
                                      "from the payer's rules.", "")
        if not visit.codes:
            return CodedVisit("", "", visit.no_code, visit.label)
        band = next(b for b in visit.codes if b.covers(dose_mg))  # the bands cover every dose
        included = visit.included_observation_minutes
        if ended_as == "stopped":
            return CodedVisit("", "", _review("Stopped early after the dose", band, included),
                              visit.label)
        if included is not None and (observed_minutes is None or observed_minutes < included):
            seen = "not known" if observed_minutes is None else f"{observed_minutes:.0f} min"
            return CodedVisit("", "", _review(f"Observation {seen}", band, included), visit.label)
        return CodedVisit(band.code, band.description, "", visit.label)


def _review(what: str, band: CodeBand, included: float | None) -> str:
    promise = "" if included is None else f" includes {_duration(included)} of observation"
    return (f"{what}: {band.code}{promise or ' applies to a completed visit'}, so no code is "
            "suggested; review before billing.")


def _duration(minutes: float) -> str:
    hours = minutes / 60
    if hours.is_integer():
        return f"{hours:.0f} hour{'s' if hours != 1 else ''}"
    return f"{minutes:g} minutes"


def _minutes(param: Param | None, where: str) -> float | None:
    if param is None:
        return None
    if isinstance(param.value, str) or param.unit != "min" or param.value <= 0:
        raise VisitCodeTableError(where, "must be a positive number of minutes (unit 'min')")
    return float(param.value)


def _bands(visit: VisitFile, where: str) -> tuple[CodeBand, ...]:
    """The visit's code bands, checked to cover every dose above 0 once, in order."""
    if bool(visit.codes) == (visit.no_code is not None):
        raise VisitCodeTableError(where, "needs either codes or no_code (why no code is given), "
                                         "not both")
    bands = tuple(CodeBand(c.code, c.description, c.dose_mg_above, c.dose_mg_at_most)
                  for c in visit.codes)
    previous_top: float | None = None
    for i, band in enumerate(bands):
        here = f"{where}.codes[{i}]"
        if i == 0 and band.dose_mg_above is not None:
            raise VisitCodeTableError(f"{here}.dose_mg_above", "the first code starts from any dose: "
                                                               "leave it out")
        if i > 0 and band.dose_mg_above != previous_top:
            raise VisitCodeTableError(f"{here}.dose_mg_above",
                                      f"must be {previous_top:g}, where the code before ends")
        last = i == len(bands) - 1
        if last != (band.dose_mg_at_most is None):
            raise VisitCodeTableError(f"{here}.dose_mg_at_most", "only the last code has no upper end"
                                      if not last else "the last code covers every larger dose: "
                                                       "leave it out")
        if band.dose_mg_above is not None and band.dose_mg_at_most is not None \
                and band.dose_mg_at_most <= band.dose_mg_above:
            raise VisitCodeTableError(f"{here}.dose_mg_at_most", "must be above dose_mg_above")
        previous_top = band.dose_mg_at_most
    return bands


def parse_visit_codes(raw: Any) -> VisitCodeTable:
    def fail(field: str, problem: str) -> VisitCodeTableError:
        return VisitCodeTableError(field, problem)

    data = validate(VisitCodesFile, raw, fail)
    visits: list[Visit] = []
    for i, v in enumerate(data.visits):
        where = f"visits[{i}]"
        if any(o.drug == v.drug and o.route == v.route for o in visits):
            raise VisitCodeTableError(f"{where}.route", f"{v.drug} {v.route or '(every route)'} "
                                                        "is listed twice")
        visits.append(Visit(v.drug, v.route, v.label, _bands(v, where), v.no_code or "",
                            _minutes(v.included_observation, f"{where}.included_observation")))
    return VisitCodeTable(data.version, data.system, data.citation, data.note, tuple(visits))


@cache
def visit_codes() -> VisitCodeTable:
    try:
        raw = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise VisitCodeTableError("(file)", f"is not valid JSON: {exc}") from exc
    return parse_visit_codes(raw)
