"""Instrument definitions: load and validate the JSON files under ``definitions/``.

A definition is clinical knowledge as data with a source (shared/reference/clinical.md
sections 1, 2 and 6.3). Every cut-off, code and rule carries an evidence tag and the
section it came from; choices the reference leaves to the clinic are ``settings`` with a
labelled default. The loader refuses a malformed file with a ``DefinitionError`` naming
the file and the field. A clinic adds an instrument by putting a file in a directory and
passing that directory to ``load_definitions`` (no code change).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from kapclinic.clinical.definitions import Setting, read_json, validate

from .conditions import Condition, Threshold, parse_condition
from .errors import DefinitionError, SettingError, UnknownInstrumentError
from .file_model import InstrumentFile

DEFINITIONS_DIR = Path(__file__).with_name("definitions")
SCHEMA_VERSION = 1

EVIDENCE = ("verified", "secondary", "derived", "unverified", "policy")
LICENCES = ("yes", "non_commercial", "no", "unknown", "unverified")
RATERS = ("self", "clinician", "observer", "mixed", "unspecified")
SCORING_KINDS = ("sum", "max_of_groups", "single", "triage")
MISSING_RULES = ("complete", "conditional", "partial_groups", "sum_of_rated")
ALERT_PRIORITIES = ("urgent", "follow_up")
ROUNDINGS = ("half_up", "up")
CHANGE_KINDS = ("percent_reduction", "point_reduction")
LOINC_SYSTEM = "http://loinc.org"
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
LINK_ID_PATTERN = re.compile(r"^[A-Za-z0-9_./-]{1,64}$")
LOINC_PATTERN = re.compile(r"^(\d{1,7})-(\d)$")
LOINC_ANSWER_PATTERN = re.compile(r"^LA\d{1,6}-\d$")


def loinc_check_digit(number: str) -> int:
    """LOINC's mod-10 check digit (Luhn) for the part before the hyphen."""
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10


@dataclass(frozen=True)
class Sourced:
    evidence: str
    source: str


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str | None
    evidence: str
    source: str


@dataclass(frozen=True)
class AnswerOption:
    value: int
    label: str | None = None
    code: Code | None = None
    anchor: bool = False
    counts_as_missing: bool = False  # e.g. BPRS 0 = "not rated"


@dataclass(frozen=True)
class EnableWhen:
    item: str
    op: str  # "==" or "!="
    value: int


@dataclass(frozen=True)
class Item:
    link_id: str
    options: tuple[AnswerOption, ...]
    label: str | None = None
    text: str | None = None
    code: Code | None = None
    scored: bool = True
    enable_when: tuple[EnableWhen, ...] = ()
    enable_behavior: str = "all"
    text_source: str | None = None  # id of the definition's wording source the text is from

    @property
    def values(self) -> tuple[int, ...]:
        """Answer values that count (a 'not rated' option counts as missing)."""
        return tuple(o.value for o in self.options if not o.counts_as_missing)

    @property
    def all_values(self) -> tuple[int, ...]:
        return tuple(o.value for o in self.options)

    def option(self, value: int) -> AnswerOption | None:
        return next((o for o in self.options if o.value == value), None)


@dataclass(frozen=True)
class SkipRule:
    when: Condition
    may_skip: tuple[str, ...]


@dataclass(frozen=True)
class Rounding:
    """How a fractional prorated total becomes the whole-number total that is banded and
    compared with cut-offs: a clinic setting (``allowed``) with a labelled ``default``.

    ``half_up``: 4.5 -> 5, 4.49 -> 4; ``up``: any fraction up (4.1 -> 5)."""

    label: str
    default: str
    allowed: tuple[str, ...]
    evidence: str
    source: str


# A prorating rule that does not say how it rounds (e.g. a clinic's older file) rounds half up.
DEFAULT_ROUNDING = Rounding(
    "A prorated total with a fraction is rounded half up (4.5 becomes 5) before it is banded",
    "half_up", ROUNDINGS, "policy",
    "rounding half up is the common convention; the definition's prorating rule does not say")


@dataclass(frozen=True)
class Prorate:
    max_missing: int
    method: str  # mean_of_answered
    evidence: str
    source: str
    rounding: Rounding


@dataclass(frozen=True)
class MissingRule:
    rule: str
    note: str
    evidence: str
    source: str
    always_required: tuple[str, ...] = ()
    skip_rules: tuple[SkipRule, ...] = ()
    prorate: Prorate | None = None


@dataclass(frozen=True)
class Scoring:
    kind: str
    missing: MissingRule
    evidence: str
    source: str
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Subscale:
    id: str
    label: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Band:
    code: str
    label: str
    min: int
    max: int


@dataclass(frozen=True)
class Severity:
    bands: tuple[Band, ...]
    evidence: str
    source: str
    note: str

    def band_for(self, total: float) -> Band:
        """The band containing ``total``; a fractional (prorated) total belongs to the band
        whose lower cut-point it has reached (bands are [min, next band's min))."""
        chosen = self.bands[0]
        for band in self.bands:
            if total >= band.min:
                chosen = band
        return chosen


@dataclass(frozen=True)
class Rule:
    """A finding (screen result, interpretation) or an alert flag."""

    id: str
    label: str
    when: Condition
    evidence: str
    source: str
    # alerts only: "urgent" (crisis path, escalated when unacknowledged) or "follow_up"
    # (shown to the care team for follow-up by the clinic's protocol)
    priority: str = "urgent"


@dataclass(frozen=True)
class TriageLevel:
    code: str
    label: str
    when: Condition | None  # None: "otherwise" (every higher level ruled out)
    evidence: str
    source: str
    answer_code: Code | None = None  # e.g. LOINC LA6751-7 "Moderate" for 93374-7


@dataclass(frozen=True)
class ChangeRule:
    id: str
    kind: str
    at_least: float
    evidence: str
    source: str


@dataclass(frozen=True)
class RemissionRule:
    op: str  # "<=" or "<"
    value: Threshold
    evidence: str
    source: str


@dataclass(frozen=True)
class WordingSource:
    """A published artefact an instrument's item (and answer) wording was copied from
    verbatim: what it is, where it is (URL and identifier) and the terms it is under.
    ``file`` names the copy the import (``wording.py``) re-derives the wording from."""

    id: str
    artefact: str
    url: str
    identifier: str
    licence: str
    file: str
    note: str = ""


@dataclass(frozen=True)
class Licence:
    text_may_be_shipped: str
    note: str
    source: str


@dataclass(frozen=True, eq=False)
class InstrumentDefinition:
    """One validated instrument. ``total_range`` is None for a triage instrument.

    Compared and hashed by identity (it is loaded once and cached).
    """

    id: str
    name: str
    short_name: str
    version: str
    rater: str
    recall_period: str | None
    reference: str
    citation: str
    licence: Licence
    text_notice: str | None
    wording_sources: tuple[WordingSource, ...]
    code: Code | None
    total_code: Code | None
    triage_code: Code | None
    items: tuple[Item, ...]
    scoring: Scoring
    total_range: tuple[int, int] | None
    subscales: tuple[Subscale, ...]
    subscales_partition_total: bool
    severity: Severity | None
    triage: tuple[TriageLevel, ...]
    findings: tuple[Rule, ...]
    alerts: tuple[Rule, ...]
    settings: Mapping[str, Setting[int]]
    change_rules: tuple[ChangeRule, ...]
    remission: RemissionRule | None
    source_file: str

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(i.link_id for i in self.items)

    @property
    def item_text_included(self) -> bool:
        return all(i.text for i in self.items)

    @property
    def self_report_refusal(self) -> str | None:
        """Why this cannot be sent to a patient to answer alone (a link, a schedule), in
        plain words; None when it can: a self-report questionnaire whose wording is shipped
        (without it the patient sees only numbered items)."""
        if self.rater != "self":
            who = {"clinician": "rated by a clinician",
                   "observer": "rated by a clinician watching the patient",
                   "mixed": "rated partly by a clinician"}.get(
                self.rater, "not marked as a questionnaire patients fill in themselves")
            return f"{self.short_name} is {who}: enter it in clinic."
        if not self.item_text_included:
            return (f"{self.short_name}: its questions are not shipped with kapclinic, so a "
                    "patient would see only numbered items: enter it in clinic from the "
                    "clinic's copy.")
        return None

    def item(self, link_id: str) -> Item | None:
        return next((i for i in self.items if i.link_id == link_id), None)

    def wording_source(self, source_id: str | None) -> WordingSource | None:
        return next((w for w in self.wording_sources if w.id == source_id), None)

    def chosen_settings(self, settings: Mapping[str, int] | None) -> dict[str, int]:
        """The definition's setting defaults with the clinic's ``settings`` over them; each
        must be a setting of this instrument and one of its allowed values."""
        chosen = {s.name: s.default for s in self.settings.values()}
        for name, value in (settings or {}).items():
            spec = self.settings.get(name)
            if spec is None:
                known = ", ".join(self.settings) or "none"
                raise SettingError(self.id, name,
                                   f"is not a setting of {self.short_name} (settings: {known})")
            problem = spec.problem(value)
            if problem is not None:
                raise SettingError(self.id, name, problem)
            chosen[name] = value
        return chosen

    def summary(self) -> dict[str, Any]:
        """JSON-ready row for ``kapclinic instruments``."""
        return {
            "id": self.id,
            "name": self.name,
            "short_name": self.short_name,
            "version": self.version,
            "rater": self.rater,
            "items": len(self.items),
            "scoring": self.scoring.kind,
            "total_range": list(self.total_range) if self.total_range else None,
            "recall_period": self.recall_period,
            "item_text_included": self.item_text_included,
            "text_may_be_shipped": self.licence.text_may_be_shipped,
            "text_notice": self.text_notice,
            "licence": self.licence.note,
            "loinc": self.code.code if self.code else None,
            "citation": self.citation,
            "flags": sorted({a.id for a in self.alerts}),
            "settings": {s.name: s.default for s in self.settings.values()},
            "source_file": self.source_file,
        }


class _Reader:
    """Typed field access that turns every problem into a DefinitionError."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, where: str, problem: str) -> DefinitionError:
        return DefinitionError(self.filename, where, problem)

    def obj(self, data: Any, where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, "must be an object")
        return data

    def lst(self, data: dict[str, Any], key: str, where: str = "", *,
            required: bool = True, nonempty: bool = False) -> list[Any]:
        if key not in data:
            if required:
                raise self.fail(f"{where}{key}", "is required")
            return []
        value = data[key]
        if not isinstance(value, list):
            raise self.fail(f"{where}{key}", "must be a list")
        if nonempty and not value:
            raise self.fail(f"{where}{key}", "must not be empty")
        return value

    def text(self, data: dict[str, Any], key: str, where: str = "", *,
             choices: tuple[str, ...] | None = None) -> str:
        if key not in data:
            raise self.fail(f"{where}{key}", "is required")
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}{key}", "must be a non-empty string")
        if choices is not None and value not in choices:
            raise self.fail(f"{where}{key}", f"'{value}' is not one of {', '.join(choices)}")
        return value

    def opt_text(self, data: dict[str, Any], key: str, where: str = "") -> str | None:
        if data.get(key) is None:
            return None
        return self.text(data, key, where)

    def integer(self, data: dict[str, Any], key: str, where: str = "") -> int:
        if key not in data:
            raise self.fail(f"{where}{key}", "is required")
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{where}{key}", "must be a whole number")
        return value

    def flag(self, data: dict[str, Any], key: str, where: str = "", default: bool = False) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{where}{key}", "must be true or false")
        return value

    def sourced(self, data: dict[str, Any], where: str) -> Sourced:
        return Sourced(self.text(data, "evidence", where, choices=EVIDENCE),
                       self.text(data, "source", where))

    def code(self, data: Any, where: str) -> Code:
        d = self.obj(data, where)
        system = self.text(d, "system", f"{where}.")
        code = self.text(d, "code", f"{where}.")
        if system == LOINC_SYSTEM:
            m = LOINC_PATTERN.match(code)
            if m is None and not LOINC_ANSWER_PATTERN.match(code):
                raise self.fail(f"{where}.code", f"'{code}' is not a LOINC code (NNNNN-N or LANNNN-N)")
            if m is not None and loinc_check_digit(m.group(1)) != int(m.group(2)):
                raise self.fail(f"{where}.code", f"'{code}' fails the LOINC check digit (a typo?)")
        s = self.sourced(d, f"{where}.")
        return Code(system, code, self.opt_text(d, "display", f"{where}."), s.evidence, s.source)


def _options(r: _Reader, data: Any, where: str, sets: Mapping[str, tuple[AnswerOption, ...]],
             labels_allowed: bool) -> tuple[AnswerOption, ...]:
    if isinstance(data, str):
        if data not in sets:
            raise r.fail(where, f"names unknown answer set '{data}'")
        return sets[data]
    return _option_list(r, data, where, labels_allowed)


def _option_list(r: _Reader, data: Any, where: str, labels_allowed: bool) -> tuple[AnswerOption, ...]:
    if not isinstance(data, list) or not data:
        raise r.fail(where, "must be a non-empty list of answer options (or an answer set name)")
    options = []
    seen: set[int] = set()
    for i, raw in enumerate(data):
        w = f"{where}[{i}]"
        d = r.obj(raw, w)
        value = r.integer(d, "value", f"{w}.")
        if value in seen:
            raise r.fail(f"{w}.value", f"duplicate answer value {value}")
        seen.add(value)
        label = r.opt_text(d, "label", f"{w}.")
        if label is not None and not labels_allowed:
            raise r.fail(f"{w}.label", "answer wording needs licence.text_may_be_shipped 'yes'")
        options.append(AnswerOption(
            value=value, label=label,
            code=r.code(d["code"], f"{w}.code") if "code" in d else None,
            anchor=r.flag(d, "anchor", f"{w}."),
            counts_as_missing=r.flag(d, "counts_as_missing", f"{w}."),
        ))
    if all(o.counts_as_missing for o in options):
        raise r.fail(where, "needs at least one answer that counts")
    return tuple(options)


def _wording_sources(r: _Reader, d: dict[str, Any]) -> tuple[WordingSource, ...]:
    out: list[WordingSource] = []
    for j, raw in enumerate(r.lst(d, "wording_sources", required=False)):
        w = f"wording_sources[{j}]"
        x = r.obj(raw, w)
        source = WordingSource(
            id=r.text(x, "id", f"{w}."), artefact=r.text(x, "artefact", f"{w}."),
            url=r.text(x, "url", f"{w}."), identifier=r.text(x, "identifier", f"{w}."),
            licence=r.text(x, "licence", f"{w}."), file=r.text(x, "file", f"{w}."),
            note=r.opt_text(x, "note", f"{w}.") or "")
        if any(source.id == o.id for o in out):
            raise r.fail(f"{w}.id", f"duplicate wording source '{source.id}'")
        out.append(source)
    return tuple(out)


def _items(r: _Reader, d: dict[str, Any], labels_allowed: bool,
           source_ids: tuple[str, ...] = ()) -> tuple[Item, ...]:
    sets: dict[str, tuple[AnswerOption, ...]] = {}
    raw_sets = r.obj(d.get("answer_sets", {}), "answer_sets")
    for name, spec in raw_sets.items():
        sets[name] = _option_list(r, spec, f"answer_sets.{name}", labels_allowed)
    items: list[Item] = []
    raw_items = r.lst(d, "items", nonempty=True)
    ids: list[str] = []
    for i, raw in enumerate(raw_items):
        w = f"items[{i}]"
        it = r.obj(raw, w)
        link_id = r.text(it, "link_id", f"{w}.")
        if not LINK_ID_PATTERN.match(link_id):
            raise r.fail(f"{w}.link_id", f"'{link_id}' must be 1-64 letters, digits or _ . / -")
        if link_id in ids:
            raise r.fail(f"{w}.link_id", f"duplicate link_id '{link_id}'")
        ids.append(link_id)
        text = r.opt_text(it, "text", f"{w}.")
        if text is not None and not labels_allowed:
            raise r.fail(f"{w}.text", "item wording needs licence.text_may_be_shipped 'yes'")
        text_source = r.opt_text(it, "text_source", f"{w}.")
        if text is not None and text_source is None:
            raise r.fail(f"{w}.text_source", "item wording needs the wording source it was "
                                             "copied from (never typed from memory)")
        if text_source is not None and text_source not in source_ids:
            raise r.fail(f"{w}.text_source", f"names unknown wording source '{text_source}'")
        if "answers" not in it:
            raise r.fail(f"{w}.answers", "is required")
        enable = []
        for j, cond in enumerate(r.lst(it, "enable_when", f"{w}.", required=False)):
            cw = f"{w}.enable_when[{j}]"
            c = r.obj(cond, cw)
            target = r.text(c, "item", f"{cw}.")
            if target not in ids[:-1]:
                raise r.fail(f"{cw}.item", f"must name an earlier item, not '{target}'")
            enable.append(EnableWhen(target, r.text(c, "op", f"{cw}.", choices=("==", "!=")),
                                     r.integer(c, "value", f"{cw}.")))
        behavior = str(it.get("enable_behavior", "all"))
        if behavior not in ("all", "any"):
            raise r.fail(f"{w}.enable_behavior", "must be all or any")
        items.append(Item(
            link_id=link_id,
            options=_options(r, it["answers"], f"{w}.answers", sets, labels_allowed),
            label=r.opt_text(it, "label", f"{w}."),
            text=text,
            code=r.code(it["code"], f"{w}.code") if "code" in it else None,
            scored=r.flag(it, "scored", f"{w}.", default=True),
            enable_when=tuple(enable),
            enable_behavior=behavior,
            text_source=text_source,
        ))
    by_id = {i.link_id: i for i in items}
    for i, item in enumerate(items):
        for j, ew in enumerate(item.enable_when):
            if ew.value not in by_id[ew.item].all_values:
                raise r.fail(f"items[{i}].enable_when[{j}].value",
                             f"{ew.value} is not an answer value of item {ew.item}")
    return tuple(items)


def _settings(r: _Reader, d: dict[str, Any]) -> dict[str, Setting[int]]:
    out: dict[str, Setting[int]] = {}
    for name, raw in r.obj(d.get("settings", {}), "settings").items():
        s = r.obj(raw, f"settings.{name}")
        setting = Setting(name, s["label"], s["default"], tuple(s["allowed"]),
                          evidence=s["evidence"], source=s["source"])
        if setting.problem(setting.default) is not None:
            raise r.fail(f"settings.{name}.default",
                         f"{setting.default} is not one of the allowed values {s['allowed']}")
        out[name] = setting
    return out


def _missing(r: _Reader, data: Any, kind: str, items: tuple[Item, ...], cond: Any) -> MissingRule:
    w = "scoring.missing"
    d = r.obj(data, w)
    rule = r.text(d, "rule", f"{w}.", choices=MISSING_RULES)
    src = r.sourced(d, f"{w}.")
    ids = [i.link_id for i in items]
    if rule == "partial_groups" and kind != "max_of_groups":
        raise r.fail(f"{w}.rule", "partial_groups only fits scoring kind max_of_groups")
    if rule == "sum_of_rated" and (kind != "sum" or not any(
            o.counts_as_missing for i in items if i.scored for o in i.options)):
        raise r.fail(f"{w}.rule", "sum_of_rated fits only a sum whose items have a "
                                  "'not rated' option (counts_as_missing)")
    always: tuple[str, ...] = ()
    skips: list[SkipRule] = []
    if rule == "conditional":
        always_raw = r.lst(d, "always_required", f"{w}.", nonempty=True)
        for a in always_raw:
            if a not in ids:
                raise r.fail(f"{w}.always_required", f"names unknown item '{a}'")
        always = tuple(always_raw)
        for j, raw in enumerate(r.lst(d, "skip_rules", f"{w}.", nonempty=True)):
            sw = f"{w}.skip_rules[{j}]"
            s = r.obj(raw, sw)
            may_skip = r.lst(s, "may_skip", f"{sw}.", nonempty=True)
            for m in may_skip:
                if m not in ids:
                    raise r.fail(f"{sw}.may_skip", f"names unknown item '{m}'")
                if m in always:
                    raise r.fail(f"{sw}.may_skip", f"item '{m}' is always required")
            if "when" not in s:
                raise r.fail(f"{sw}.when", "is required")
            skips.append(SkipRule(cond(s["when"], f"{sw}.when"), tuple(may_skip)))
    prorate = None
    if "prorate" in d:
        pw = f"{w}.prorate"
        p = r.obj(d["prorate"], pw)
        if kind != "sum" or rule != "complete":
            raise r.fail(pw, "prorating fits only a sum with rule 'complete'")
        max_missing = r.integer(p, "max_missing", f"{pw}.")
        scored = sum(1 for i in items if i.scored)
        if not 1 <= max_missing < scored:
            raise r.fail(f"{pw}.max_missing", f"must be between 1 and {scored - 1}")
        ps = r.sourced(p, f"{pw}.")
        method = r.text(p, "method", f"{pw}.", choices=("mean_of_answered",))
        rw = f"{pw}.rounding"
        if "rounding" not in p:
            prorate = Prorate(max_missing, method, ps.evidence, ps.source, DEFAULT_ROUNDING)
            return MissingRule(rule, r.text(d, "note", f"{w}."), src.evidence, src.source,
                               always, tuple(skips), prorate)
        ro = r.obj(p["rounding"], rw)
        allowed = r.lst(ro, "allowed", f"{rw}.", nonempty=True)
        for a in allowed:
            if a not in ROUNDINGS:
                raise r.fail(f"{rw}.allowed", f"'{a}' is not one of {', '.join(ROUNDINGS)}")
        default = r.text(ro, "default", f"{rw}.", choices=ROUNDINGS)
        if default not in allowed:
            raise r.fail(f"{rw}.default", f"'{default}' is not one of the allowed {allowed}")
        rs = r.sourced(ro, f"{rw}.")
        rounding = Rounding(r.text(ro, "label", f"{rw}."), default, tuple(allowed), rs.evidence,
                            rs.source)
        prorate = Prorate(max_missing, method, ps.evidence, ps.source, rounding)
    return MissingRule(rule, r.text(d, "note", f"{w}."), src.evidence, src.source, always,
                       tuple(skips), prorate)


def _total_range(kind: str, items: tuple[Item, ...],
                 groups: tuple[tuple[str, tuple[str, ...]], ...],
                 missing_rule: str = "complete") -> tuple[int, int] | None:
    by_id = {i.link_id: i for i in items}
    scored = [i for i in items if i.scored]
    if kind == "sum":
        return sum(min(i.values) for i in scored), sum(max(i.values) for i in scored)
    if kind == "single":
        return min(scored[0].values), max(scored[0].values)
    if kind == "max_of_groups":
        lo = sum(max(min(by_id[m].values) for m in members) for _, members in groups)
        hi = sum(max(max(by_id[m].values) for m in members) for _, members in groups)
        return lo, hi
    return None


def parse_definition(data: Any, filename: str) -> InstrumentDefinition:
    """Validate already-decoded JSON; raise DefinitionError naming file and field."""
    r = _Reader(filename)
    validate(InstrumentFile, data, r.fail)  # shape and types; the domain checks follow
    d = r.obj(data, "(top level)")
    if d.get("schema_version") != SCHEMA_VERSION:
        raise r.fail("schema_version", f"must be {SCHEMA_VERSION}")
    instrument_id = r.text(d, "id")
    if not ID_PATTERN.match(instrument_id):
        raise r.fail("id", "must be lower-case letters, digits and _ (starting with a letter)")
    stem = Path(filename).stem
    if instrument_id != stem:
        raise r.fail("id", f"'{instrument_id}' must match the file name '{stem}'")

    lic = r.obj(d.get("licence"), "licence") if "licence" in d else None
    if lic is None:
        raise r.fail("licence", "is required")
    licence = Licence(r.text(lic, "text_may_be_shipped", "licence.", choices=LICENCES),
                      r.text(lic, "note", "licence."), r.text(lic, "source", "licence."))
    wording_sources = _wording_sources(r, d)
    items = _items(r, d, licence.text_may_be_shipped == "yes",
                   tuple(w.id for w in wording_sources))
    ids = [i.link_id for i in items]
    scored = [i for i in items if i.scored]
    if not scored:
        raise r.fail("items", "needs at least one scored item")
    text_notice = r.opt_text(d, "text_notice")
    if text_notice is None and not all(i.text for i in items):
        raise r.fail("text_notice", "is required when item wording is not included (say why on screen)")
    settings = _settings(r, d)

    sc = r.obj(d.get("scoring"), "scoring") if "scoring" in d else None
    if sc is None:
        raise r.fail("scoring", "is required")
    kind = r.text(sc, "kind", "scoring.", choices=SCORING_KINDS)
    subscale_raw = r.lst(d, "subscales", required=False)
    subscale_ids = [str(r.obj(s, f"subscales[{i}]").get("id")) for i, s in enumerate(subscale_raw)]
    score_names = ["total", *subscale_ids] if kind != "triage" else []

    def cond(raw: Any, where: str) -> Condition:
        return parse_condition(raw, where, r.fail, ids, list(settings), score_names)

    groups: list[tuple[str, tuple[str, ...]]] = []
    if kind == "max_of_groups":
        seen: set[str] = set()
        for j, raw in enumerate(r.lst(sc, "groups", "scoring.", nonempty=True)):
            gw = f"scoring.groups[{j}]"
            g = r.obj(raw, gw)
            members = r.lst(g, "items", f"{gw}.", nonempty=True)
            for m in members:
                if m not in ids:
                    raise r.fail(f"{gw}.items", f"names unknown item '{m}'")
                if m in seen:
                    raise r.fail(f"{gw}.items", f"item '{m}' is already in another group")
                seen.add(m)
            groups.append((r.text(g, "id", f"{gw}."), tuple(members)))
        ungrouped = [i.link_id for i in scored if i.link_id not in seen]
        if ungrouped:
            raise r.fail("scoring.groups", f"scored items not in any group: {', '.join(ungrouped)}")
    if kind == "single" and len(scored) != 1:
        raise r.fail("items", "a single-rating instrument has exactly one scored item")
    if kind == "triage" and ("severity" in d or "subscales" in d):
        raise r.fail("severity" if "severity" in d else "subscales", "a triage instrument has no total")
    if "missing" not in sc:
        raise r.fail("scoring.missing", "is required (how missing items are handled)")
    missing = _missing(r, sc["missing"], kind, items, cond)
    ssrc = r.sourced(sc, "scoring.")
    scoring = Scoring(kind, missing, ssrc.evidence, ssrc.source, tuple(groups))

    total_range = _total_range(kind, items, scoring.groups, missing.rule)
    if kind != "triage":
        declared = r.lst(d, "total_range")
        if total_range is None or declared != list(total_range):
            raise r.fail("total_range", f"{declared} does not match the items ({list(total_range or ())})")

    subscales = []
    for j, raw in enumerate(subscale_raw):
        w = f"subscales[{j}]"
        s = r.obj(raw, w)
        members = r.lst(s, "items", f"{w}.", nonempty=True)
        for m in members:
            if m not in ids or not next(i for i in items if i.link_id == m).scored:
                raise r.fail(f"{w}.items", f"'{m}' is not a scored item")
        sid = r.text(s, "id", f"{w}.")
        if sid == "total" or subscale_ids.count(sid) > 1:
            raise r.fail(f"{w}.id", f"'{sid}' is reserved or duplicated")
        subscales.append(Subscale(sid, r.text(s, "label", f"{w}."), tuple(members)))
    partition = r.flag(d, "subscales_partition_total")
    if partition:
        covered = [m for s in subscales for m in s.items]
        if kind != "sum" or sorted(covered) != sorted(i.link_id for i in scored):
            raise r.fail("subscales_partition_total",
                         "subscales must cover every scored item exactly once in a sum")

    severity = None
    if "severity" in d:
        severity = _severity(r, d["severity"], total_range)

    triage: list[TriageLevel] = []
    if kind == "triage":
        levels = r.lst(d, "triage", nonempty=True)
        for j, raw in enumerate(levels):
            w = f"triage[{j}]"
            t = r.obj(raw, w)
            last = j == len(levels) - 1
            otherwise = r.flag(t, "otherwise", f"{w}.")
            if otherwise != last:
                raise r.fail(f"{w}.otherwise", "the last level, and only the last, is 'otherwise'")
            if not otherwise and "when" not in t:
                raise r.fail(f"{w}.when", "is required")
            src = r.sourced(t, f"{w}.")
            answer_code = (r.code(t["answer_code"], f"{w}.answer_code") if "answer_code" in t
                           else None)
            triage.append(TriageLevel(r.text(t, "code", f"{w}."), r.text(t, "label", f"{w}."),
                                      None if otherwise else cond(t["when"], f"{w}.when"),
                                      src.evidence, src.source, answer_code))

    def rules(key: str) -> tuple[Rule, ...]:
        out = []
        for j, raw in enumerate(r.lst(d, key, required=False)):
            w = f"{key}[{j}]"
            x = r.obj(raw, w)
            if "when" not in x:
                raise r.fail(f"{w}.when", "is required")
            src = r.sourced(x, f"{w}.")
            priority = "urgent"
            if "priority" in x:
                if key != "alerts":
                    raise r.fail(f"{w}.priority", "only an alert has a priority")
                priority = r.text(x, "priority", f"{w}.", choices=ALERT_PRIORITIES)
            out.append(Rule(r.text(x, "id", f"{w}."), r.text(x, "label", f"{w}."),
                            cond(x["when"], f"{w}.when"), src.evidence, src.source, priority))
        return tuple(out)

    findings = rules("findings")
    alerts = rules("alerts")
    used = set().union(*(x.when.settings() for x in (*findings, *alerts)), set())
    for level in triage:
        if level.when is not None:
            used |= level.when.settings()

    change_rules = []
    for j, raw in enumerate(r.lst(d, "change_rules", required=False)):
        w = f"change_rules[{j}]"
        c = r.obj(raw, w)
        ck = r.text(c, "kind", f"{w}.", choices=CHANGE_KINDS)
        at_least = c.get("at_least")
        if isinstance(at_least, bool) or not isinstance(at_least, int | float) or at_least <= 0 \
                or (ck == "percent_reduction" and at_least > 100):
            raise r.fail(f"{w}.at_least", "must be a positive number (a percentage at most 100)")
        src = r.sourced(c, f"{w}.")
        change_rules.append(ChangeRule(r.text(c, "id", f"{w}."), ck, float(at_least),
                                       src.evidence, src.source))
    if change_rules and kind == "triage":
        raise r.fail("change_rules", "a triage instrument has no total to change")

    remission = None
    if "remission" in d:
        if kind == "triage":
            raise r.fail("remission", "a triage instrument has no total")
        rm = r.obj(d["remission"], "remission")
        op = r.text(rm, "op", "remission.", choices=("<=", "<"))
        raw_value = rm.get("value")
        if isinstance(raw_value, dict):
            name = raw_value.get("setting")
            if name not in settings:
                raise r.fail("remission.value.setting", f"names unknown setting '{name}'")
            threshold = Threshold(setting=str(name))
            used.add(str(name))
        elif isinstance(raw_value, int) and not isinstance(raw_value, bool):
            threshold = Threshold(literal=float(raw_value))
        else:
            raise r.fail("remission.value", "must be a whole number or {\"setting\": name}")
        src = r.sourced(rm, "remission.")
        remission = RemissionRule(op, threshold, src.evidence, src.source)

    triage_code = None
    if "triage_code" in d:
        if kind != "triage":
            raise r.fail("triage_code", "only a triage instrument has a derived level to code")
        triage_code = r.code(d["triage_code"], "triage_code")

    for name in settings:
        if name not in used:
            raise r.fail(f"settings.{name}", "is not used by any rule")

    return InstrumentDefinition(
        id=instrument_id,
        name=r.text(d, "name"),
        short_name=r.text(d, "short_name"),
        version=r.text(d, "version"),
        rater=r.text(d, "rater", choices=RATERS),
        recall_period=r.opt_text(d, "recall_period"),
        reference=r.text(d, "reference"),
        citation=r.text(d, "citation"),
        licence=licence,
        text_notice=text_notice,
        wording_sources=wording_sources,
        code=r.code(d["code"], "code") if "code" in d else None,
        total_code=r.code(d["total_code"], "total_code") if "total_code" in d else None,
        triage_code=triage_code,
        items=items,
        scoring=scoring,
        total_range=total_range,
        subscales=tuple(subscales),
        subscales_partition_total=partition,
        severity=severity,
        triage=tuple(triage),
        findings=findings,
        alerts=alerts,
        settings=settings,
        change_rules=tuple(change_rules),
        remission=remission,
        source_file=filename,
    )


def _severity(r: _Reader, data: Any, total_range: tuple[int, int] | None) -> Severity:
    w = "severity"
    s = r.obj(data, w)
    raw = r.lst(s, "bands", f"{w}.", nonempty=True)
    bands: list[Band] = []
    for j, b in enumerate(raw):
        bw = f"{w}.bands[{j}]"
        bo = r.obj(b, bw)
        band = Band(r.text(bo, "code", f"{bw}."), r.text(bo, "label", f"{bw}."),
                    r.integer(bo, "min", f"{bw}."), r.integer(bo, "max", f"{bw}."))
        if band.max < band.min:
            raise r.fail(f"{bw}.max", "is below min")
        if any(band.code == x.code for x in bands):
            raise r.fail(f"{bw}.code", f"duplicate band code '{band.code}'")
        if bands and band.min != bands[-1].max + 1:
            what = "a gap" if band.min > bands[-1].max + 1 else "an overlap"
            raise r.fail(f"{bw}.min", f"leaves {what} after {bands[-1].code} (max {bands[-1].max})")
        bands.append(band)
    assert total_range is not None
    if bands[0].min != total_range[0]:
        raise r.fail(f"{w}.bands[0].min", f"must start at the lowest total {total_range[0]}")
    if bands[-1].max != total_range[1]:
        raise r.fail(f"{w}.bands[{len(bands) - 1}].max", f"must end at the highest total {total_range[1]}")
    src = r.sourced(s, f"{w}.")
    return Severity(tuple(bands), src.evidence, src.source, str(s.get("note", "")))


def load_definition(path: Path) -> InstrumentDefinition:
    """Read and validate one definition file."""
    data = read_json(path, lambda field, problem: DefinitionError(path.name, field, problem))
    return parse_definition(data, path.name)


def load_definitions(*extra_dirs: Path | str,
                     include_shipped: bool = True) -> dict[str, InstrumentDefinition]:
    """Definitions by id: the shipped ones plus every ``*.json`` in ``extra_dirs``.

    A clinic's file may not reuse a shipped id (or another clinic file's id): that is
    refused naming both files, so a definition is never silently replaced.
    """
    dirs: list[Path] = [DEFINITIONS_DIR] if include_shipped else []
    dirs += [Path(p) for p in extra_dirs]
    out: dict[str, InstrumentDefinition] = {}
    for directory in dirs:
        if not directory.is_dir():
            raise DefinitionError(str(directory), "(directory)", "does not exist")
        for path in sorted(directory.glob("*.json")):
            definition = load_definition(path)
            if definition.id in out:
                raise DefinitionError(path.name, "id", f"'{definition.id}' is already defined by "
                                                       f"{out[definition.id].source_file}")
            out[definition.id] = definition
    return out


# A folder of the clinic's own definition files, added to the shipped ones everywhere
# (app, API, command line): a clinic adds an instrument by dropping a file there.
CLINIC_DIR_ENV = "KAPCLINIC_INSTRUMENTS_DIR"


@cache
def load_all() -> dict[str, InstrumentDefinition]:
    """The shipped definitions, plus the clinic's folder (``KAPCLINIC_INSTRUMENTS_DIR``) when
    set, by id; validated once per process. A broken file raises ``DefinitionError``."""
    clinic_dir = os.environ.get(CLINIC_DIR_ENV, "").strip()
    return load_definitions(clinic_dir) if clinic_dir else load_definitions()


def resolve(instrument_id: str,
            definitions: Mapping[str, InstrumentDefinition] | None = None) -> InstrumentDefinition:
    pool = load_all() if definitions is None else definitions
    if instrument_id not in pool:
        raise UnknownInstrumentError(instrument_id, sorted(pool))
    return pool[instrument_id]
