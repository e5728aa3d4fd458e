"""FHIR search over kapclinic's records: parameters checked and turned into queries, and pages.

Pages are keyset pages: the next link carries where the last page stopped (which source, which
row, how many of that row's resources were sent), so a page costs the same however deep it
is, and a page never holds more than ``_count`` resources. Every parameter that is not
understood is refused with its name (a silently ignored filter would return records the
caller did not ask for).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Q

from .sources import Source

DEFAULT_COUNT = 50
MAX_COUNT = 500  # an engineering bound: a page is one request's work
MAX_VALUES = 100  # values in one comma-separated parameter
COMMON = ("_count", "_cursor", "_format")
PARAMETERS = {
    "Patient": ("_id", "_lastUpdated", "identifier", "birthdate"),
    "Practitioner": ("_id",),
    "Organization": ("_id",),
    "Questionnaire": ("_id",),
}
PATIENT_RECORD = ("_id", "_lastUpdated", "patient", "subject", "date", "code")


ID = re.compile(r"[0-9]{1,18}")
MAX_BATCHES = 10  # reads of count + 1 rows a page may take before it answers with what it found


def number(text: str) -> int | None:
    """A record id as the database stores it, or None (digits only: "²" is a digit to Python)."""
    return int(text) if isinstance(text, str) and ID.fullmatch(text) else None


class SearchError(ValueError):
    """A parameter that cannot be used; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


def allowed(resource: str) -> tuple[str, ...]:
    return (*PARAMETERS.get(resource, PATIENT_RECORD), *COMMON)


def check_names(resource: str, names: list[str]) -> None:
    known = allowed(resource)
    for name in names:
        base = name.split(":", 1)[0]
        if base not in known:
            raise SearchError(name, f"'{name}' is not a search parameter kapclinic supports for "
                                    f"{resource}; use {', '.join(known)}")
        if ":" in name and name != "code:text":
            raise SearchError(name, f"the modifier in '{name}' is not supported: send the "
                                    "parameter without it")


def count_of(values: list[str]) -> int:
    if not values:
        return DEFAULT_COUNT
    text = values[-1].strip()
    if number(text) is None or not 1 <= int(text) <= MAX_COUNT:
        raise SearchError("_count", f"_count must be a whole number from 1 to {MAX_COUNT}, not '{text[:20]}'")
    return int(text)


# --- paging --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    source: int = 0   # which of the searched sources
    row: int = 0      # rows with this id or later
    skip: int = 0     # resources of that first row already sent

    def encode(self) -> str:
        raw = json.dumps([self.source, self.row, self.skip], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            if len(text) > 100:
                raise ValueError
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            source, row, skip = json.loads(raw)
            if not all(isinstance(v, int) and 0 <= v < 2**63 for v in (source, row, skip)):
                raise ValueError
        except (ValueError, TypeError, RecursionError, binascii.Error, json.JSONDecodeError):
            raise SearchError("_cursor", "the page link is damaged: start the search again "
                                         "from its first page") from None
        return cls(source, row, skip)


# --- values --------------------------------------------------------------------------------

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
                   r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def date_range(parameter: str, text: str) -> tuple[str, datetime, datetime]:
    """A FHIR date search value as (prefix, start, end): the span the value names, in UTC."""
    prefix = text[:2] if text[:2] in PREFIXES else "eq"
    value = text[2:] if text[:2] in PREFIXES else text
    if prefix not in ("eq", "gt", "lt", "ge", "le"):
        raise SearchError(parameter, f"the prefix '{prefix}' is not supported: use eq, gt, ge, lt or le")
    match = _DATE.match(value.strip())
    if match is None:
        raise SearchError(parameter, f"'{text[:40]}' is not a FHIR date: write 2026-11-30, 2026-11 or "
                                     "2026-11-30T09:00:00Z, after an optional prefix (ge2026-11-30)")
    year, month, dayn, hour, minute, second, zone = match.groups()
    try:
        if hour is None:
            start = datetime(int(year), int(month or 1), int(dayn or 1), tzinfo=UTC)
            if dayn:
                end = start + timedelta(days=1)
            elif month:
                end = (start + timedelta(days=32)).replace(day=1)
            else:
                end = start.replace(year=start.year + 1)
        else:
            if zone is None:
                raise SearchError(parameter, f"'{value}' has a time but no zone: add Z or an offset "
                                             "such as +01:00")
            stamp = datetime.fromisoformat(f"{year}-{month}-{dayn}T{hour}:{minute}:{second or '00'}"
                                           + ("+00:00" if zone == "Z" else zone))
            start = stamp.astimezone(UTC)
            end = start + timedelta(seconds=1)
    except (ValueError, OverflowError):
        raise SearchError(parameter, f"'{value[:40]}' is not a date that exists (years 1 to 9998)") from None
    return prefix, start, end


def _date_q(field: str, prefix: str, start: datetime, end: datetime, is_date: bool) -> Q:
    low: date | datetime = start.date() if is_date else start
    high: date | datetime = end.date() if is_date else end
    if prefix == "eq":
        return Q(**{f"{field}__gte": low, f"{field}__lt": high})
    if prefix == "ge":
        return Q(**{f"{field}__gte": low})
    if prefix == "gt":
        return Q(**{f"{field}__gte": high})
    if prefix == "le":
        return Q(**{f"{field}__lt": high})
    return Q(**{f"{field}__lt": low})  # lt


def _updated_q(fields: tuple[str, ...], prefix: str, start: datetime, end: datetime) -> Q:
    """When a record last changed is the latest of its times: ``after`` holds when any of them
    is, ``before`` when all the ones it has are."""
    def after(moment: datetime) -> Q:
        query = Q()
        for name in fields:
            query |= Q(**{f"{name}__gte": moment})
        return query

    def before(moment: datetime) -> Q:
        query = Q()
        for name in fields:
            query &= Q(**{f"{name}__lt": moment}) | Q(**{f"{name}__isnull": True})
        return query

    if prefix == "eq":
        return after(start) & before(end)
    if prefix == "ge":
        return after(start)
    if prefix == "gt":
        return after(end)
    if prefix == "le":
        return before(end)
    return before(start)


def _values(parameter: str, values: list[str]) -> list[str]:
    parts = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if len(parts) > MAX_VALUES:
        raise SearchError(parameter, f"at most {MAX_VALUES} values may be given in {parameter}")
    return parts


def _token(text: str) -> tuple[str, str]:
    if "|" in text:
        system, code = text.split("|", 1)
        return system, code
    return "", text


def patient_reference(parameter: str, text: str) -> int:
    value = text.removeprefix("Patient/")
    if number(value) is None:
        raise SearchError(parameter, f"'{text[:40]}' is not a patient reference: write Patient/123 or 123")
    return int(value)


# --- the query of one source ---------------------------------------------------------------


@dataclass
class Filter:
    """What the parameters ask of one source: a query on its rows (None: none of its rows can
    match) and what a rendered resource must be (its id, its code)."""

    query: Q | None
    ids: set[str] | None = None
    codes: list[tuple[str, str]] | None = None

    def keeps(self, resource: dict[str, Any]) -> bool:
        if self.ids is not None and resource["id"] not in self.ids:
            return False
        if self.codes is not None:
            coded = resource.get("code", {}).get("coding", [])
            if not any(c.get("code") == code and (not system or c.get("system") == system)
                       for system, code in self.codes for c in coded):
                return False
        return True


def filter_for(source: Source, params: dict[str, list[str]], *, patient_id: int | None = None,
               own_system: str = "") -> Filter:
    """The query one source answers for these parameters (already checked by name);
    ``own_system``: the clinic's MRN system (an identifier of any other system matches nobody)."""
    query = Q()
    found = Filter(query)
    if patient_id is not None:
        query &= Q(**{source.patient: patient_id})
    for name in ("patient", "subject"):
        if params.get(name):
            ids = [patient_reference(name, v) for v in _values(name, params[name])]
            query &= Q(**{f"{source.patient}__in": ids})
    if params.get("_id"):
        wanted = _values("_id", params["_id"])
        rows = {source.ids(v) for v in wanted} - {None}
        if not rows:
            return Filter(None)
        query &= Q(pk__in=rows)
        found.ids = set(wanted)
    if params.get("identifier"):
        values = []
        for text in _values("identifier", params["identifier"]):
            system, value = _token(text)
            if not system or system == (own_system or system):
                values.append(value)
        if not values:
            return Filter(None)
        query &= Q(mrn__in=values)
    for name, field in (("date", source.date), ("birthdate", source.date)):
        for text in params.get(name, []):
            if field is None:
                raise SearchError(name, f"{source.resource} has no date to search")
            prefix, start, end = date_range(name, text)
            is_date = source.model._meta.get_field(field).get_internal_type() == "DateField"
            query &= _date_q(field, prefix, start, end, is_date)
    for text in params.get("_lastUpdated", []):
        prefix, start, end = date_range("_lastUpdated", text)
        query &= _updated_q(source.updated, prefix, start, end)
    if params.get("code"):
        tokens = [_token(v) for v in _values("code", params["code"])]
        if source.codes is None:
            raise SearchError("code", f"{source.resource} cannot be searched by code")
        matching = Q(pk__in=[])
        for system, code in tokens:
            matching |= source.codes(system, code) or Q()
        query &= matching
        found.codes = tokens
    found.query = query
    return found


def since_q(source: Source, moment: datetime) -> Q:
    return _updated_q(source.updated, "ge", moment, moment)


# --- one page ------------------------------------------------------------------------------


@dataclass
class Page:
    resources: list[dict[str, Any]]
    sent: list[tuple[Source, Any]]  # the rows whose resources were sent (for the audit trail)
    next: Cursor | None


def page(plan: list[tuple[Source, Filter]], clinic_id: int, count: int, cursor: Cursor) -> Page:
    """Up to ``count`` resources from the sources in ``plan``, from ``cursor`` on. Reads at most
    ``count + 1`` rows a query, and a bounded number of queries."""
    out: list[dict[str, Any]] = []
    sent: list[tuple[Source, Any]] = []
    index, after, skip = cursor.source, cursor.row, cursor.skip
    batches = 0
    while index < len(plan):
        batches += 1
        if batches > MAX_BATCHES:  # a page's cost is bounded: the rest is on the next page
            return Page(out, sent, Cursor(index, after, skip))
        source, wanted = plan[index]
        if wanted.query is None:
            index, after, skip = index + 1, 0, 0
            continue
        rows = list(source.rows(clinic_id).filter(wanted.query).filter(pk__gte=after)
                    .order_by("pk")[: count + 1])
        if not rows:
            index, after, skip = index + 1, 0, 0
            continue
        for row, made in zip(rows, source.render(rows), strict=True):
            kept = [r for r in made if wanted.keeps(r)]
            if row.pk == after:
                kept = kept[skip:]
                first = skip
            else:
                first = 0
            room = count - len(out)
            if len(kept) > room:  # the page ends inside this row's resources
                out.extend(kept[:room])
                if room:
                    sent.append((source, row))
                return Page(out, sent, Cursor(index, row.pk, first + room))
            out.extend(kept)
            if kept:
                sent.append((source, row))
            if len(out) == count:
                following = Cursor(index, row.pk + 1, 0)
                return Page(out, sent, following if _more(plan, clinic_id, following) else None)
        after, skip = rows[-1].pk + 1, 0
    return Page(out, sent, None)


def _more(plan: list[tuple[Source, Filter]], clinic_id: int, cursor: Cursor) -> bool:
    """Whether anything is left from ``cursor`` (so the last page has no empty next page)."""
    for index in range(cursor.source, len(plan)):
        source, wanted = plan[index]
        if wanted.query is None:
            continue
        rows = source.rows(clinic_id).filter(wanted.query)
        if index == cursor.source:
            rows = rows.filter(pk__gte=cursor.row)
        if rows.exists():
            return True
    return False
