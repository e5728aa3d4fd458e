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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, get_args

from kapclinic.clinical.definitions import Setting, load_folders, read_json, validate

from . import file_model as fm
from .conditions import Condition, Threshold, parse_condition
from .errors import DefinitionError, SettingError, UnknownInstrumentError
from .file_model import InstrumentFile

DEFINITIONS_DIR = Path(__file__).with_name("definitions")

# The vocabularies, as the file model types them (one list of each).
EVIDENCE: tuple[str, ...] = get_args(fm.Evidence)
ROUNDINGS: tuple[str, ...] = get_args(fm.Rounding)
CHANGE_KINDS: tuple[str, ...] = get_args(fm.ChangeKind)
LOINC_SYSTEM = "http://loinc.org"
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


class _Checker:
    """The domain checks of one file, each problem a DefinitionError naming the field."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, where: str, problem: str) -> DefinitionError:
        return DefinitionError(self.filename, where, problem)

    def code(self, c: fm.Code | None, where: str) -> Code | None:
        """A code as read; a LOINC code must be in LOINC's form and pass its check digit."""
        if c is None:
            return None
        if c.system == LOINC_SYSTEM:
            m = LOINC_PATTERN.match(c.code)
            if m is None and not LOINC_ANSWER_PATTERN.match(c.code):
                raise self.fail(f"{where}.code", f"'{c.code}' is not a LOINC code (NNNNN-N or LANNNN-N)")
            if m is not None and loinc_check_digit(m.group(1)) != int(m.group(2)):
                raise self.fail(f"{where}.code", f"'{c.code}' fails the LOINC check digit (a typo?)")
        return Code(c.system, c.code, c.display, c.evidence, c.source)


def _option_list(r: _Checker, data: list[fm.AnswerOption], where: str,
                 labels_allowed: bool) -> tuple[AnswerOption, ...]:
    options = []
    seen: set[int] = set()
    for i, o in enumerate(data):
        w = f"{where}[{i}]"
        if o.value in seen:
            raise r.fail(f"{w}.value", f"duplicate answer value {o.value}")
        seen.add(o.value)
        if o.label is not None and not labels_allowed:
            raise r.fail(f"{w}.label", "answer wording needs licence.text_may_be_shipped 'yes'")
        options.append(AnswerOption(o.value, o.label, r.code(o.code, f"{w}.code"), o.anchor,
                                    o.counts_as_missing))
    if all(o.counts_as_missing for o in options):
        raise r.fail(where, "needs at least one answer that counts")
    return tuple(options)


def _wording_sources(r: _Checker, f: InstrumentFile) -> tuple[WordingSource, ...]:
    out: list[WordingSource] = []
    for j, x in enumerate(f.wording_sources):
        if any(x.id == o.id for o in out):
            raise r.fail(f"wording_sources[{j}].id", f"duplicate wording source '{x.id}'")
        out.append(WordingSource(x.id, x.artefact, x.url, x.identifier, x.licence, x.file,
                                 x.note or ""))
    return tuple(out)


def _items(r: _Checker, f: InstrumentFile, labels_allowed: bool,
           source_ids: tuple[str, ...] = ()) -> tuple[Item, ...]:
    sets = {name: _option_list(r, spec, f"answer_sets.{name}", labels_allowed)
            for name, spec in f.answer_sets.items()}
    items: list[Item] = []
    ids: list[str] = []
    for i, it in enumerate(f.items):
        w = f"items[{i}]"
        if it.link_id in ids:
            raise r.fail(f"{w}.link_id", f"duplicate link_id '{it.link_id}'")
        ids.append(it.link_id)
        if it.text is not None and not labels_allowed:
            raise r.fail(f"{w}.text", "item wording needs licence.text_may_be_shipped 'yes'")
        if it.text is not None and it.text_source is None:
            raise r.fail(f"{w}.text_source", "item wording needs the wording source it was "
                                             "copied from (never typed from memory)")
        if it.text_source is not None and it.text_source not in source_ids:
            raise r.fail(f"{w}.text_source", f"names unknown wording source '{it.text_source}'")
        for j, c in enumerate(it.enable_when):
            if c.item not in ids[:-1]:
                raise r.fail(f"{w}.enable_when[{j}].item", f"must name an earlier item, not '{c.item}'")
        if isinstance(it.answers, str):
            if it.answers not in sets:
                raise r.fail(f"{w}.answers", f"names unknown answer set '{it.answers}'")
            options = sets[it.answers]
        else:
            options = _option_list(r, it.answers, f"{w}.answers", labels_allowed)
        items.append(Item(
            link_id=it.link_id, options=options, label=it.label, text=it.text,
            code=r.code(it.code, f"{w}.code"), scored=it.scored,
            enable_when=tuple(EnableWhen(c.item, c.op, c.value) for c in it.enable_when),
            enable_behavior=it.enable_behavior, text_source=it.text_source,
        ))
    by_id = {i.link_id: i for i in items}
    for i, item in enumerate(items):
        for j, ew in enumerate(item.enable_when):
            if ew.value not in by_id[ew.item].all_values:
                raise r.fail(f"items[{i}].enable_when[{j}].value",
                             f"{ew.value} is not an answer value of item {ew.item}")
    return tuple(items)


def _settings(r: _Checker, f: InstrumentFile) -> dict[str, Setting[int]]:
    out: dict[str, Setting[int]] = {}
    for name, s in f.settings.items():
        setting = Setting(name, s.label, s.default, tuple(s.allowed), evidence=s.evidence,
                          source=s.source)
        if setting.problem(setting.default) is not None:
            raise r.fail(f"settings.{name}.default",
                         f"{setting.default} is not one of the allowed values {s.allowed}")
        out[name] = setting
    return out


def _missing(r: _Checker, d: fm.MissingRule, kind: str, items: tuple[Item, ...],
             cond: Callable[[fm.Condition, str], Condition]) -> MissingRule:
    w = "scoring.missing"
    rule = d.rule
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
        if d.always_required is None:
            raise r.fail(f"{w}.always_required", "is required")
        for a in d.always_required:
            if a not in ids:
                raise r.fail(f"{w}.always_required", f"names unknown item '{a}'")
        always = tuple(d.always_required)
        if d.skip_rules is None:
            raise r.fail(f"{w}.skip_rules", "is required")
        for j, s in enumerate(d.skip_rules):
            sw = f"{w}.skip_rules[{j}]"
            for m in s.may_skip:
                if m not in ids:
                    raise r.fail(f"{sw}.may_skip", f"names unknown item '{m}'")
                if m in always:
                    raise r.fail(f"{sw}.may_skip", f"item '{m}' is always required")
            skips.append(SkipRule(cond(s.when, f"{sw}.when"), tuple(s.may_skip)))
    prorate = None
    if d.prorate is not None:
        pw = f"{w}.prorate"
        p = d.prorate
        if kind != "sum" or rule != "complete":
            raise r.fail(pw, "prorating fits only a sum with rule 'complete'")
        scored = sum(1 for i in items if i.scored)
        if not 1 <= p.max_missing < scored:
            raise r.fail(f"{pw}.max_missing", f"must be between 1 and {scored - 1}")
        rounding = DEFAULT_ROUNDING
        if p.rounding is not None:
            ro = p.rounding
            if ro.default not in ro.allowed:
                raise r.fail(f"{pw}.rounding.default",
                             f"'{ro.default}' is not one of the allowed {list(ro.allowed)}")
            rounding = Rounding(ro.label, ro.default, tuple(ro.allowed), ro.evidence, ro.source)
        prorate = Prorate(p.max_missing, p.method, p.evidence, p.source, rounding)
    return MissingRule(rule, d.note, d.evidence, d.source, always, tuple(skips), prorate)


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


def _groups(r: _Checker, sc: fm.Scoring, ids: list[str],
            scored: list[Item]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The groups of a max_of_groups scoring: each scored item in exactly one."""
    if sc.groups is None:
        raise r.fail("scoring.groups", "is required")
    groups: list[tuple[str, tuple[str, ...]]] = []
    seen: set[str] = set()
    for j, g in enumerate(sc.groups):
        gw = f"scoring.groups[{j}]"
        for m in g.items:
            if m not in ids:
                raise r.fail(f"{gw}.items", f"names unknown item '{m}'")
            if m in seen:
                raise r.fail(f"{gw}.items", f"item '{m}' is already in another group")
            seen.add(m)
        groups.append((g.id, tuple(g.items)))
    ungrouped = [i.link_id for i in scored if i.link_id not in seen]
    if ungrouped:
        raise r.fail("scoring.groups", f"scored items not in any group: {', '.join(ungrouped)}")
    return tuple(groups)


def parse_definition(data: Any, filename: str) -> InstrumentDefinition:
    """Validate already-decoded JSON: its shape and types through ``InstrumentFile``, then
    what needs the whole file; raise DefinitionError naming file and field."""
    r = _Checker(filename)
    f = validate(InstrumentFile, data, r.fail)
    stem = Path(filename).stem
    if f.id != stem:
        raise r.fail("id", f"'{f.id}' must match the file name '{stem}'")

    licence = Licence(f.licence.text_may_be_shipped, f.licence.note, f.licence.source)
    wording_sources = _wording_sources(r, f)
    items = _items(r, f, licence.text_may_be_shipped == "yes",
                   tuple(w.id for w in wording_sources))
    ids = [i.link_id for i in items]
    scored = [i for i in items if i.scored]
    if not scored:
        raise r.fail("items", "needs at least one scored item")
    if f.text_notice is None and not all(i.text for i in items):
        raise r.fail("text_notice", "is required when item wording is not included (say why on screen)")
    settings = _settings(r, f)

    sc = f.scoring
    kind = sc.kind
    given = f.model_fields_set
    subscale_ids = [s.id for s in f.subscales]
    score_names = ["total", *subscale_ids] if kind != "triage" else []

    def cond(raw: fm.Condition, where: str) -> Condition:
        return parse_condition(raw, where, r.fail, ids, list(settings), score_names)

    groups = _groups(r, sc, ids, scored) if kind == "max_of_groups" else ()
    if kind == "single" and len(scored) != 1:
        raise r.fail("items", "a single-rating instrument has exactly one scored item")
    if kind == "triage" and ("severity" in given or "subscales" in given):
        raise r.fail("severity" if "severity" in given else "subscales", "a triage instrument has no total")
    missing = _missing(r, sc.missing, kind, items, cond)
    scoring = Scoring(kind, missing, sc.evidence, sc.source, groups)

    total_range = _total_range(kind, items, scoring.groups, missing.rule)
    if kind != "triage":
        if f.total_range is None:
            raise r.fail("total_range", "is required")
        if total_range is None or f.total_range != list(total_range):
            raise r.fail("total_range",
                         f"{f.total_range} does not match the items ({list(total_range or ())})")

    subscales = []
    for j, s in enumerate(f.subscales):
        w = f"subscales[{j}]"
        for m in s.items:
            if m not in ids or not next(i for i in items if i.link_id == m).scored:
                raise r.fail(f"{w}.items", f"'{m}' is not a scored item")
        if s.id == "total" or subscale_ids.count(s.id) > 1:
            raise r.fail(f"{w}.id", f"'{s.id}' is reserved or duplicated")
        subscales.append(Subscale(s.id, s.label, tuple(s.items)))
    if f.subscales_partition_total:
        covered = [m for s in subscales for m in s.items]
        if kind != "sum" or sorted(covered) != sorted(i.link_id for i in scored):
            raise r.fail("subscales_partition_total",
                         "subscales must cover every scored item exactly once in a sum")

    severity = _severity(r, f.severity, total_range) if f.severity is not None else None

    triage: list[TriageLevel] = []
    if kind == "triage":
        if f.triage is None:
            raise r.fail("triage", "is required")
        for j, t in enumerate(f.triage):
            w = f"triage[{j}]"
            if t.otherwise != (j == len(f.triage) - 1):
                raise r.fail(f"{w}.otherwise", "the last level, and only the last, is 'otherwise'")
            if not t.otherwise and t.when is None:
                raise r.fail(f"{w}.when", "is required")
            when = None if t.when is None or t.otherwise else cond(t.when, f"{w}.when")
            triage.append(TriageLevel(t.code, t.label, when, t.evidence, t.source,
                                      r.code(t.answer_code, f"{w}.answer_code")))

    def rules(key: str, raw: list[fm.Rule]) -> tuple[Rule, ...]:
        out = []
        for j, x in enumerate(raw):
            w = f"{key}[{j}]"
            if x.priority is not None and key != "alerts":
                raise r.fail(f"{w}.priority", "only an alert has a priority")
            out.append(Rule(x.id, x.label, cond(x.when, f"{w}.when"), x.evidence, x.source,
                            x.priority or "urgent"))
        return tuple(out)

    findings = rules("findings", f.findings)
    alerts = rules("alerts", f.alerts)
    used = set().union(*(x.when.settings() for x in (*findings, *alerts)), set())
    for level in triage:
        if level.when is not None:
            used |= level.when.settings()

    change_rules = []
    for j, c in enumerate(f.change_rules):
        if c.at_least <= 0 or (c.kind == "percent_reduction" and c.at_least > 100):
            raise r.fail(f"change_rules[{j}].at_least",
                         "must be a positive number (a percentage at most 100)")
        change_rules.append(ChangeRule(c.id, c.kind, float(c.at_least), c.evidence, c.source))
    if change_rules and kind == "triage":
        raise r.fail("change_rules", "a triage instrument has no total to change")

    remission = None
    if f.remission is not None:
        if kind == "triage":
            raise r.fail("remission", "a triage instrument has no total")
        rm = f.remission
        if isinstance(rm.value, fm.SettingRef):
            name = rm.value.setting
            if name not in settings:
                raise r.fail("remission.value.setting", f"names unknown setting '{name}'")
            threshold = Threshold(setting=name)
            used.add(name)
        else:
            threshold = Threshold(literal=float(rm.value))
        remission = RemissionRule(rm.op, threshold, rm.evidence, rm.source)

    if f.triage_code is not None and kind != "triage":
        raise r.fail("triage_code", "only a triage instrument has a derived level to code")

    for name in settings:
        if name not in used:
            raise r.fail(f"settings.{name}", "is not used by any rule")

    return InstrumentDefinition(
        id=f.id, name=f.name, short_name=f.short_name, version=f.version, rater=f.rater,
        recall_period=f.recall_period, reference=f.reference, citation=f.citation,
        licence=licence, text_notice=f.text_notice, wording_sources=wording_sources,
        code=r.code(f.code, "code"), total_code=r.code(f.total_code, "total_code"),
        triage_code=r.code(f.triage_code, "triage_code"), items=items, scoring=scoring,
        total_range=total_range, subscales=tuple(subscales),
        subscales_partition_total=f.subscales_partition_total, severity=severity,
        triage=tuple(triage), findings=findings, alerts=alerts, settings=settings,
        change_rules=tuple(change_rules), remission=remission, source_file=filename,
    )


def _severity(r: _Checker, s: fm.Severity, total_range: tuple[int, int] | None) -> Severity:
    w = "severity"
    bands: list[Band] = []
    for j, b in enumerate(s.bands):
        bw = f"{w}.bands[{j}]"
        band = Band(b.code, b.label, b.min, b.max)
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
    return Severity(tuple(bands), s.evidence, s.source, s.note)


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
    dirs = [DEFINITIONS_DIR, *extra_dirs] if include_shipped else list(extra_dirs)
    return load_folders(dirs, load_definition, DefinitionError)


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
