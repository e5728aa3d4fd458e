"""Score one completed instrument: total, severity band, subscales, flags, missing items.

``score(instrument_id, answers)`` is pure: no I/O, no Django, no clock. Answers map item
linkIds to whole numbers (``None`` or absent = not answered). Missing items are handled by
the instrument's own rule where the reference gives one; otherwise the total is withheld
with the reason. Prorating is a clinic setting (``prorate=True``), off by default, applied
only where the definition carries a prorating rule, and a prorated total is marked. A
prorated total is a whole number: the fraction is rounded by the definition's rounding rule
(a clinic setting, default half up) before it is banded, and the unrounded value is kept
(``missing.unrounded_total``) for display.
"""

from __future__ import annotations

import weakref
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from itertools import product
from types import MappingProxyType
from typing import Any, NamedTuple

from . import fastpath
from .conditions import Env
from .definitions import EnableWhen, InstrumentDefinition, Item, MissingRule, TriageLevel, resolve
from .errors import (
    AnswerRangeError,
    AnswerTypeError,
    NotAskedError,
    SettingError,
    UnknownItemError,
)

SEXES = ("female", "male")
_NO_SETTINGS: Mapping[str, int] = MappingProxyType({})


class MissingHandling(NamedTuple):
    """How missing answers were handled (immutable).

    ``missing``: scored items with no usable answer that the instrument's rules do not skip;
    ``optional_unanswered``: unanswered items that are not scored (e.g. PHQ-9 item 10);
    ``not_applicable``: items the instrument's own rules skip (not asked);
    ``not_rated``: items answered with a "not rated" option (counted as missing);
    ``rule``: the rule applied; ``withheld``: why the total (or triage level) is None;
    ``unrounded_total``: a prorated total before rounding, ``rounding`` the rule used.
    """

    rule: str
    missing: tuple[str, ...] = ()
    optional_unanswered: tuple[str, ...] = ()
    not_applicable: tuple[str, ...] = ()
    not_rated: tuple[str, ...] = ()
    prorated: bool = False
    withheld: str | None = None
    note: str = ""
    unrounded_total: float | None = None
    rounding: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "missing": list(self.missing),
                "optional_unanswered": list(self.optional_unanswered),
                "not_applicable": list(self.not_applicable), "not_rated": list(self.not_rated),
                "prorated": self.prorated, "withheld": self.withheld, "note": self.note,
                "unrounded_total": self.unrounded_total, "rounding": self.rounding}


class ScoreResult(NamedTuple):
    """The result of scoring one completed instrument (immutable).

    ``total`` is None when withheld (reason in ``missing.withheld``) and for a triage
    instrument; it is always a whole number: a prorated total is rounded by the clinic's
    rounding rule (``prorated`` is True, ``missing.unrounded_total`` holds the fraction). ``severity`` is the
    band code (or the triage level code). ``flags`` are alert ids that fired;
    ``undetermined_flags`` could not be ruled out because an answer is missing.
    ``findings`` are screen results and interpretations (None = undetermined).
    """

    instrument: str
    definition_version: str
    total: int | float | None
    total_range: tuple[int, int] | None
    severity: str | None
    severity_label: str | None
    subscales: Mapping[str, int | None]
    flags: tuple[str, ...]
    undetermined_flags: tuple[str, ...]
    findings: Mapping[str, bool | None]
    missing: MissingHandling
    settings: Mapping[str, int]
    # a triage level that could not be settled: the level it is at least, the higher levels
    # not ruled out and the questions to ask (see ``_triage_floor``); None otherwise
    triage_floor: Mapping[str, Any] | None = None

    @property
    def prorated(self) -> bool:
        return self.missing.prorated

    @property
    def partial(self) -> bool:
        """A total over only some items (an item rated "not rated", BPRS 0): shown marked,
        kept out of trend charts and outcome comparisons."""
        return self.total is not None and bool(self.missing.not_rated)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``kapclinic score --json``."""
        return {
            "instrument": self.instrument,
            "definition_version": self.definition_version,
            "total": self.total,
            "total_range": list(self.total_range) if self.total_range else None,
            "prorated": self.missing.prorated,
            "partial": self.partial,
            "unrounded_total": self.missing.unrounded_total,
            "severity": self.severity,
            "severity_label": self.severity_label,
            "subscales": dict(self.subscales),
            "flags": list(self.flags),
            "undetermined_flags": list(self.undetermined_flags),
            "findings": dict(self.findings),
            "missing": list(self.missing.missing),
            "missing_handling": self.missing.to_dict(),
            "settings": dict(self.settings),
            "triage_floor": dict(self.triage_floor) if self.triage_floor else None,
        }


@dataclass(frozen=True)
class _Plan:
    """Per-definition lookups computed once."""

    items: Mapping[str, Item]
    item_ids: tuple[str, ...]
    allowed: Mapping[str, frozenset[int]]
    not_rated: Mapping[str, frozenset[int]]
    candidates: Mapping[str, tuple[int, ...]]
    scored: tuple[str, ...]
    gated: tuple[Item, ...]
    defaults: Mapping[str, int]
    band_mins: tuple[int, ...]
    missing_rule: MissingRule
    complete: dict[tuple[str, ...], MissingHandling]
    scorers: dict[tuple[tuple[str, int], ...], fastpath.CompleteScorer | None]

    def handling_for(self, unanswered: tuple[str, ...]) -> MissingHandling:
        """The missing-item record of a complete questionnaire (shared: it is immutable)."""
        handling = self.complete.get(unanswered)
        if handling is None:
            rule = self.missing_rule
            handling = MissingHandling(rule.rule, (), unanswered, (), (), False, None, rule.note)
            self.complete[unanswered] = handling
        return handling

    def scorer_for(self, d: InstrumentDefinition, settings: Mapping[str, int]
                   ) -> fastpath.CompleteScorer | None:
        key = tuple(sorted(settings.items()))
        if key not in self.scorers:
            frozen = MappingProxyType(dict(settings)) if settings else _NO_SETTINGS
            # the scorer refers to the plan's cache, never to ``d``: the plan is the value of
            # a weak dictionary keyed by ``d`` and must not keep its key alive
            self.scorers[key] = fastpath.build(d, settings, ScoreResult, self.handling_for, frozen)
        return self.scorers[key]


_PLANS: weakref.WeakKeyDictionary[InstrumentDefinition, _Plan] = weakref.WeakKeyDictionary()


def _plan(d: InstrumentDefinition) -> _Plan:
    plan = _PLANS.get(d)
    if plan is None:
        plan = _Plan(
            items={i.link_id: i for i in d.items},
            item_ids=d.item_ids,
            allowed={i.link_id: frozenset(i.all_values) for i in d.items},
            not_rated={i.link_id: frozenset(o.value for o in i.options if o.counts_as_missing)
                       for i in d.items if any(o.counts_as_missing for o in i.options)},
            candidates={i.link_id: i.values for i in d.items},
            scored=tuple(i.link_id for i in d.items if i.scored),
            gated=tuple(i for i in d.items if i.enable_when),
            defaults={s.name: s.default for s in d.settings.values()},
            band_mins=tuple(b.min for b in d.severity.bands) if d.severity else (),
            missing_rule=d.scoring.missing,
            complete={},
            scorers={},
        )
        _PLANS[d] = plan
    return plan


def _check_answers(d: InstrumentDefinition, plan: _Plan, answers: Mapping[str, int | None]
                   ) -> tuple[dict[str, int], list[str]]:
    values: dict[str, int] = {}
    not_rated: list[str] = []
    allowed_by_item = plan.allowed
    for key, value in answers.items():
        allowed = allowed_by_item.get(key) if type(key) is str else None
        if allowed is None:
            raise UnknownItemError(d.id, str(key), f"is not an item of {d.short_name} "
                                   f"(items: {', '.join(d.item_ids)})")
        if value is None:
            continue
        if type(value) is not int:
            raise AnswerTypeError(d.id, key, f"answer {value!r} must be a whole number "
                                  "(or None when not answered)")
        if value not in allowed:
            raise AnswerRangeError(d.id, key, f"answer {value} is out of range; allowed: "
                                   f"{', '.join(map(str, sorted(allowed)))}")
        if key in plan.not_rated and value in plan.not_rated[key]:
            not_rated.append(key)
            continue
        values[key] = value
    return values, not_rated


def _settings(d: InstrumentDefinition, plan: _Plan, settings: Mapping[str, int] | None
              ) -> Mapping[str, int]:
    return plan.defaults if not settings else d.chosen_settings(settings)


def _gates(plan: _Plan, values: Mapping[str, int]
           ) -> dict[str, tuple[bool | None, EnableWhen | None]]:
    """Whether each item with a skip rule is asked given ``values``: True, False (not
    asked) or None (it depends on an unanswered item), with the condition that failed."""
    state: dict[str, tuple[bool | None, EnableWhen | None]] = {}
    for item in plan.gated:
        results: list[tuple[bool | None, EnableWhen]] = []
        for ew in item.enable_when:
            if ew.item in values:
                got = values[ew.item]
                results.append((got == ew.value if ew.op == "==" else got != ew.value, ew))
            elif state.get(ew.item, (None, None))[0] is False:
                results.append((False, ew))  # the item it depends on is not asked either
            else:
                results.append((None, ew))
        verdicts = [r for r, _ in results]
        failed = next((ew for r, ew in results if r is False), None)
        if item.enable_behavior == "all":
            enabled = False if False in verdicts else (None if None in verdicts else True)
        else:
            enabled = True if True in verdicts else (None if None in verdicts else False)
        state[item.link_id] = (enabled, failed if enabled is False else None)
    return state


def _question(item: Item) -> str:
    """An item as a person names it: "question 6b" for a numbered item, else its label."""
    link_id = item.link_id
    if link_id[:1].isdigit() and len(link_id) <= 4:
        return f"question {link_id}"
    return (item.label or link_id.replace("_", " ")).lower()


def _answer_words(item: Item, value: int) -> str:
    option = item.option(value)
    return option.label if option is not None and option.label else str(value)


def not_asked_answers(d: InstrumentDefinition, answers: Mapping[str, int | None]
                      ) -> list[tuple[str, str]]:
    """Answers to items the instrument's skip rules say are not asked, as (item, message)
    in item order; each message says in words what to correct. Empty when consistent.
    An item whose rule depends on an unanswered item is not refused (that is unknown)."""
    plan = _plan(d)
    if not plan.gated:
        return []
    values = {k: v for k, v in answers.items()
              if v is not None and type(v) is int and k in plan.items}
    refused = []
    for link_id, (enabled, ew) in _gates(plan, values).items():
        if enabled is not False or link_id not in values or ew is None:
            continue
        item, gate = plan.items[link_id], plan.items[ew.item]
        this, that = _question(item), _question(gate)
        wanted = _answer_words(gate, ew.value)
        condition = f"{that} is {'answered ' if ew.op == '==' else 'not answered '}{wanted}"
        if ew.item in values:
            actual = f"{that} is answered {_answer_words(gate, values[ew.item])}"
        else:
            actual = f"{that} is not asked either"
        refused.append((link_id, (
            f"{this[:1].upper()}{this[1:]} is answered {_answer_words(item, values[link_id])} "
            f"but was not asked: it is asked only if {condition}, and {actual}. Correct "
            f"{that}, or clear the answer to {this}.")))
    return refused


def _check_asked(d: InstrumentDefinition, values: Mapping[str, int]) -> None:
    refused = not_asked_answers(d, values)
    if refused:
        item, problem = refused[0]
        raise NotAskedError(d.id, item, problem)


def _level_name(level: TriageLevel) -> str:
    """"High risk" from "High risk: Yes to item 4 or 5 ..."."""
    return level.label.split(":", 1)[0].strip()


MAX_FLOOR_COMPLETIONS = 4096  # engineering bound: 12 open yes/no questions


def _triage_floor(d: InstrumentDefinition, plan: _Plan, values: Mapping[str, int],
                  open_items: list[str], chosen: Mapping[str, int],
                  context: Mapping[str, str]) -> dict[str, Any] | None:
    """For a triage level withheld because answers are missing: every way the open items
    could be answered (consistent with the skip rules) is triaged; the lowest level any of
    them reaches is the level the patient is at least, the others are not ruled out, and
    the open items that are asked now are the questions to ask. None when it cannot tell."""
    choices = [(None, *plan.candidates[i]) for i in open_items]
    count = 1
    for c in choices:
        count *= len(c)
    if not open_items or count > MAX_FLOOR_COMPLETIONS:
        return None
    order = {level.code: n for n, level in enumerate(d.triage)}
    possible: set[str] = set()
    for combo in product(*choices):
        filled = dict(values)
        filled.update({i: v for i, v in zip(open_items, combo, strict=True) if v is not None})
        gates = _gates(plan, filled)
        if any((gates.get(i, (True, None))[0] is False) == (v is not None)
               for i, v in zip(open_items, combo, strict=True)):
            continue  # an answer to a question not asked, or an asked one left empty
        skipped = frozenset(i for i, (on, _) in gates.items() if on is False and i not in filled)
        e = Env(filled, skipped, plan.candidates, {"total": None}, chosen, context)
        for level in d.triage:
            verdict = True if level.when is None else level.when.evaluate(e)
            if verdict is None:
                return None
            if verdict:
                possible.add(level.code)
                break
    if not possible:
        return None
    floor = max(possible, key=order.__getitem__)
    higher = sorted((c for c in possible if c != floor), key=order.__getitem__)
    levels = {level.code: level for level in d.triage}
    gates = _gates(plan, values)
    ask = [i for i in open_items if gates.get(i, (True, None))[0] is True] or list(open_items)
    questions = " and ".join(
        f"{_question(plan.items[i])} ({plan.items[i].text})" if plan.items[i].text
        else _question(plan.items[i]) for i in ask)
    names = [_level_name(levels[c]) for c in higher]
    ruled = (", ".join(names[:-1]) + " and " + names[-1]) if len(names) > 1 else "".join(names)
    head = ("Not determined" if levels[floor].when is None
            else f"At least {_level_name(levels[floor])}")
    summary = f"{head}; {ruled} not ruled out: ask {questions}" if higher else head
    return {"code": floor, "name": _level_name(levels[floor]), "not_ruled_out": higher,
            "ask": ask, "summary": summary}


def _not_applicable(plan: _Plan, values: Mapping[str, int]) -> set[str]:
    """Unanswered items whose enable-when rule is definitely false (not asked)."""
    skipped: set[str] = set()
    for item in plan.gated:
        if item.link_id in values:
            continue
        results: list[bool | None] = []
        for ew in item.enable_when:
            if ew.item in skipped:
                results.append(False)
            elif ew.item in values:
                got = values[ew.item]
                results.append(got == ew.value if ew.op == "==" else got != ew.value)
            else:
                results.append(None)
        if item.enable_behavior == "all":
            enabled = False if False in results else (None if None in results else True)
        else:
            enabled = True if True in results else (None if None in results else False)
        if enabled is False:
            skipped.add(item.link_id)
    return skipped


def round_total(value: Fraction | float, rounding: str) -> int:
    """A fractional (prorated) total as a whole number: ``half_up`` (4.5 -> 5, 4.49 -> 4;
    not Python's ``round``, which takes 4.5 to 4) or ``up`` (any fraction up)."""
    exact = Fraction(value)
    if rounding == "half_up":
        return int((exact + Fraction(1, 2)).__floor__())
    if rounding == "up":
        return int(exact.__ceil__())
    raise ValueError(f"rounding {rounding!r} is not 'half_up' or 'up'")


def chosen_rounding(d: InstrumentDefinition, rounding: str | None) -> str | None:
    """The rounding rule for ``d``'s prorated totals: the clinic's ``rounding`` if given
    (one of the definition's allowed values), else the definition's labelled default;
    None when the definition has no prorating rule."""
    prorate = d.scoring.missing.prorate
    if prorate is None:
        return None
    if rounding is None:
        return prorate.rounding.default
    if rounding not in prorate.rounding.allowed:
        raise SettingError(d.id, "rounding", f"{rounding!r} is not one of "
                                             f"{list(prorate.rounding.allowed)}")
    return rounding


def score(instrument_id: str, answers: Mapping[str, int | None], *, prorate: bool = False,
          settings: Mapping[str, int] | None = None, sex: str | None = None,
          rounding: str | None = None,
          definitions: Mapping[str, InstrumentDefinition] | None = None) -> ScoreResult:
    """Score ``answers`` (linkId -> whole number or None) for one instrument.

    ``prorate``: clinic setting, off by default; used only where the definition has a
    prorating rule (PHQ-9: clinical.md 1.2), and the result is marked ``prorated``.
    ``settings``: clinic values for the definition's settings (e.g. QIDS-SR16
    ``suicide_item_threshold``); each must be one of the allowed values.
    ``sex``: ``"female"``/``"male"`` for sex-specific cut-offs (AUDIT-C), else undetermined.
    ``rounding``: clinic setting for a fractional prorated total (``"half_up"``, the
    definition's default, or ``"up"``); ignored where there is no prorating rule.
    ``definitions``: a clinic's set from ``load_definitions(dir)``; default the shipped set.
    Raises ``AnswerError`` subclasses (ValueError) naming the item for a bad answer.
    """
    d = resolve(instrument_id, definitions)
    return score_definition(d, answers, prorate=prorate, settings=settings, sex=sex,
                            rounding=rounding)


def score_definition(d: InstrumentDefinition, answers: Mapping[str, int | None], *,
                     prorate: bool = False, settings: Mapping[str, int] | None = None,
                     sex: str | None = None, rounding: str | None = None) -> ScoreResult:
    """``score`` for an already-resolved definition.

    A complete questionnaire goes through the definition's compiled scorer; anything it
    does not cover (missing, skipped or bad answers) through the general scorer.
    """
    plan = _plan(d)
    chosen = _settings(d, plan, settings)
    rounding = chosen_rounding(d, rounding)
    if sex is None or sex in SEXES:
        scorer = plan.scorer_for(d, chosen)
        if scorer is not None:
            result = scorer(answers, sex)
            if result is not None:
                return result
    return _score_general(d, plan, chosen, answers, prorate, sex, rounding)


def _score_general(d: InstrumentDefinition, plan: _Plan, chosen: Mapping[str, int],
                   answers: Mapping[str, int | None], prorate: bool, sex: str | None,
                   rounding: str | None = None) -> ScoreResult:
    """The reference scorer: three-valued rules, every missing-item rule, every error."""
    if sex is not None and sex not in SEXES:
        raise SettingError(d.id, "sex", f"{sex!r} must be one of {', '.join(SEXES)} or None")
    values, not_rated = _check_answers(d, plan, answers)
    if plan.gated:
        _check_asked(d, values)
    na = _not_applicable(plan, values) if plan.gated else set()
    context = {"sex": sex} if sex else {}
    rule = d.scoring.missing

    def env(scores: Mapping[str, float | None]) -> Env:
        return Env(values, frozenset(na), plan.candidates, scores, chosen, context)

    if rule.rule == "conditional":
        pre = env({})
        for skip in rule.skip_rules:
            if skip.when.evaluate(pre) is True:
                na.update(m for m in skip.may_skip if m not in values)

    if len(values) == len(plan.item_ids) and not na:
        unanswered: list[str] = []
        scored_missing: list[str] = []
    else:
        unanswered = [i for i in plan.item_ids if i not in values and i not in na]
        scored_missing = [i for i in plan.scored if i not in values and i not in na]
    if rule.rule == "sum_of_rated":
        # an item rated "not rated" is left out of the sum (the definition's convention);
        # only an item with no rating at all is missing
        scored_missing = [i for i in scored_missing if i not in not_rated]
    missing = scored_missing
    total: int | None = None
    unrounded: float | None = None
    withheld: str | None = None
    prorated = False
    applied = rule.rule
    kind = d.scoring.kind

    if kind in ("sum", "single"):
        if rule.rule == "sum_of_rated" and not scored_missing and not any(
                i in values for i in plan.scored):
            withheld = f"no item of {d.short_name} is rated (every item is 'not rated')"
        elif not scored_missing:
            total = sum([values[i] for i in plan.scored if i in values])
        elif rule.rule == "conditional":
            withheld = (f"required item(s) {', '.join(scored_missing)} missing under "
                        f"{d.short_name}'s completeness rule")
        elif prorate and rule.prorate is not None:
            answered = [values[i] for i in plan.scored if i in values]
            n = len(plan.scored)
            if len(scored_missing) <= rule.prorate.max_missing and answered:
                exact = Fraction(sum(answered) * n, len(answered))
                rounding = rounding or rule.prorate.rounding.default
                total = round_total(exact, rounding)
                unrounded = float(exact)
                prorated = True
                applied = "prorated"
            else:
                withheld = (f"{len(scored_missing)} of {n} items missing "
                            f"({', '.join(scored_missing)}); prorating allows at most "
                            f"{rule.prorate.max_missing}")
        else:
            why = ("prorating is off (clinic setting)" if rule.prorate is not None
                   else "no prorating rule for this instrument" if prorate
                   else "every item is needed")
            withheld = (f"{len(scored_missing)} of {len(plan.scored)} items missing "
                        f"({', '.join(scored_missing)}); {why}")
    elif kind == "max_of_groups":
        parts = []
        for group_id, members in d.scoring.groups:
            got = [values[m] for m in members if m in values]
            if not got:
                withheld = f"domain '{group_id}' has no answered item ({', '.join(members)})"
                break
            parts.append(max(got))
        else:
            if scored_missing and rule.rule != "partial_groups":
                withheld = f"item(s) {', '.join(scored_missing)} missing; every item is needed"
            else:
                total = sum(parts)

    subscales: dict[str, int | None] = {}
    for sub in d.subscales:
        if scored_missing and any(m in scored_missing for m in sub.items):
            subscales[sub.id] = None
        else:
            subscales[sub.id] = sum([values.get(m, 0) for m in sub.items])

    severity = severity_label = None
    if total is not None and d.severity is not None:
        band = d.severity.bands[max(0, bisect_right(plan.band_mins, total) - 1)]
        severity, severity_label = band.code, band.label
    scores: dict[str, float | None] = {"total": total, **subscales}
    flags: list[str] = []
    undetermined: list[str] = []
    e = env(scores)
    floor = None
    for level in d.triage:
        verdict = True if level.when is None else level.when.evaluate(e)
        if verdict is True:
            severity, severity_label = level.code, level.label
            break
        if verdict is None:
            needed = sorted(level.when.items() & set(missing)) if level.when else []
            withheld = (f"cannot rule out triage level '{level.code}': "
                        f"item(s) {', '.join(needed)} missing")
            floor = _triage_floor(d, plan, values, [i for i in plan.item_ids if i in missing],
                                  chosen, context)
            break
    for alert in d.alerts:
        verdict = alert.when.evaluate(e)
        if verdict is True:
            if alert.id not in flags:
                flags.append(alert.id)
        elif verdict is None and alert.id not in undetermined:
            undetermined.append(alert.id)
    undetermined = [u for u in undetermined if u not in flags]
    findings = {f.id: f.when.evaluate(e) for f in d.findings}

    if (not missing and not na and not not_rated and withheld is None and not prorated):
        handling = plan.handling_for(tuple(unanswered))
    else:
        handling = MissingHandling(
            applied, tuple(missing),
            tuple(i for i in unanswered if i not in scored_missing and i not in not_rated),
            tuple(i for i in plan.item_ids if i in na) if na else (), tuple(not_rated),
            prorated, withheld, rule.note, unrounded, rounding if prorated else None)
    return ScoreResult(
        d.id, d.version, total, d.total_range, severity, severity_label, subscales,
        tuple(flags), tuple(undetermined), findings, handling,
        MappingProxyType(dict(chosen)) if chosen else _NO_SETTINGS,
        MappingProxyType(floor) if floor else None,
    )
