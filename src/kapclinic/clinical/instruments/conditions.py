"""A small condition language for alert, finding, triage, skip and enable-when rules.

Conditions are JSON objects in a definition file::

    {"item": "9", "op": ">=", "value": 1}                 one item's answer
    {"item": "12", "op": ">=", "value": {"setting": "suicide_item_threshold"}}
    {"score": "total", "op": ">=", "value": 3}            the total or a subscale id
    {"sum": ["2", "3"], "op": "==", "value": 0}           sum of item answers
    {"count": [<condition>, ...], "op": ">=", "value": 5} how many conditions hold
    {"any": [...]}, {"all": [...]}, {"not": <condition>}
    {"context": "sex", "equals": "female"}                a fact passed in by the caller

They are evaluated with three-valued logic: ``True``, ``False`` or ``None`` (cannot tell,
because an answer it depends on is missing). A missing item could hold any of its answer
values, so ``item 9 >= 0`` is True even when item 9 is missing, and ``item 9 >= 1`` is
None. An item that was not asked because of a skip/enable-when rule (not applicable) makes
any comparison on it False and counts 0 in a sum.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from . import file_model as fm

Tri = bool | None

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
    "==": operator.eq, "!=": operator.ne,
}


@dataclass(frozen=True)
class Env:
    """What a condition is evaluated against."""

    answers: Mapping[str, int]               # answered, scored values
    not_applicable: frozenset[str]           # skipped by the instrument's own rules
    candidates: Mapping[str, tuple[int, ...]]  # possible values of each item
    scores: Mapping[str, float | None]       # "total" and subscale ids; None = withheld
    settings: Mapping[str, int]
    context: Mapping[str, str]


@dataclass(frozen=True)
class Threshold:
    """A literal number or the name of a clinic setting."""

    literal: float | None = None
    setting: str | None = None

    def value(self, settings: Mapping[str, int]) -> float:
        """The number, reading the setting from ``settings`` when it names one."""
        if self.setting is not None:
            return float(settings[self.setting])
        assert self.literal is not None
        return float(self.literal)

    def resolve(self, env: Env) -> float:
        return self.value(env.settings)


def _interval(lo: float, hi: float, op: str, value: float) -> Tri:
    """Does ``x op value`` hold for every / no / some x in [lo, hi]?"""
    f = OPS[op]
    if lo == hi:
        return f(lo, value)
    if op in (">=", ">"):
        return True if f(lo, value) else (False if not f(hi, value) else None)
    if op in ("<=", "<"):
        return True if f(hi, value) else (False if not f(lo, value) else None)
    inside = lo <= value <= hi
    if op == "==":
        return None if inside else False
    return None if inside else True


class Condition:
    def evaluate(self, env: Env) -> Tri:
        raise NotImplementedError

    def source(self, settings: Mapping[str, int]) -> str:
        """A two-valued Python expression over ``v`` (answers), ``s`` (scores) and ``c``
        (context), valid when every item it names is answered (none skipped), every score
        it names is present and every context it names is given. Names and numbers go
        through ``repr``, so a definition file cannot inject code."""
        raise NotImplementedError

    # What a condition refers to, gathered over the tree: a leaf adds its own item, score,
    # threshold setting or context; a combination (any/all/not/count) adds its children's.

    def children(self) -> tuple[Condition, ...]:
        return ()

    def threshold(self) -> Threshold | None:
        return None

    def items(self) -> set[str]:
        return set().union(*(c.items() for c in self.children()))

    def scores(self) -> set[str]:
        return set().union(*(c.scores() for c in self.children()))

    def uses_context(self) -> bool:
        return any(c.uses_context() for c in self.children())

    def settings(self) -> set[str]:
        own = self.threshold()
        mine = {own.setting} if own is not None and own.setting else set()
        return mine.union(*(c.settings() for c in self.children()))


@dataclass(frozen=True)
class ItemCompare(Condition):
    item: str
    op: str
    value: Threshold

    def threshold(self) -> Threshold:
        return self.value

    def source(self, settings: Mapping[str, int]) -> str:
        return f"(v[{self.item!r}] {self.op} {self.value.value(settings)!r})"

    def evaluate(self, env: Env) -> Tri:
        if self.item in env.not_applicable:
            return False
        v = self.value.resolve(env)
        f = OPS[self.op]
        if self.item in env.answers:
            return f(env.answers[self.item], v)
        outcomes = {f(c, v) for c in env.candidates.get(self.item, ())}
        return outcomes.pop() if len(outcomes) == 1 else None

    def items(self) -> set[str]:
        return {self.item}


@dataclass(frozen=True)
class ScoreCompare(Condition):
    score: str
    op: str
    value: Threshold

    def threshold(self) -> Threshold:
        return self.value

    def source(self, settings: Mapping[str, int]) -> str:
        return f"(s[{self.score!r}] {self.op} {self.value.value(settings)!r})"

    def scores(self) -> set[str]:
        return {self.score}

    def evaluate(self, env: Env) -> Tri:
        got = env.scores.get(self.score)
        if got is None:
            return None
        return OPS[self.op](got, self.value.resolve(env))


@dataclass(frozen=True)
class SumCompare(Condition):
    of: tuple[str, ...]
    op: str
    value: Threshold

    def threshold(self) -> Threshold:
        return self.value

    def source(self, settings: Mapping[str, int]) -> str:
        total = " + ".join(f"v[{i!r}]" for i in self.of)
        return f"(({total}) {self.op} {self.value.value(settings)!r})"

    def evaluate(self, env: Env) -> Tri:
        lo = hi = 0.0
        for item in self.of:
            if item in env.not_applicable:
                continue
            if item in env.answers:
                lo += env.answers[item]
                hi += env.answers[item]
                continue
            cands = env.candidates.get(item, ())
            if not cands:
                return None
            lo += min(cands)
            hi += max(cands)
        return _interval(lo, hi, self.op, self.value.resolve(env))

    def items(self) -> set[str]:
        return set(self.of)


@dataclass(frozen=True)
class CountCompare(Condition):
    of: tuple[Condition, ...]
    op: str
    value: Threshold

    def children(self) -> tuple[Condition, ...]:
        return self.of

    def threshold(self) -> Threshold:
        return self.value

    def source(self, settings: Mapping[str, int]) -> str:
        count = " + ".join(x.source(settings) for x in self.of)
        return f"(({count}) {self.op} {self.value.value(settings)!r})"

    def evaluate(self, env: Env) -> Tri:
        results = [c.evaluate(env) for c in self.of]
        lo = sum(1 for r in results if r is True)
        hi = lo + sum(1 for r in results if r is None)
        return _interval(lo, hi, self.op, self.value.resolve(env))


@dataclass(frozen=True)
class AnyOf(Condition):
    of: tuple[Condition, ...]

    def children(self) -> tuple[Condition, ...]:
        return self.of

    def source(self, settings: Mapping[str, int]) -> str:
        return "(" + " or ".join(x.source(settings) for x in self.of) + ")"

    def evaluate(self, env: Env) -> Tri:
        results = [c.evaluate(env) for c in self.of]
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False


@dataclass(frozen=True)
class AllOf(Condition):
    of: tuple[Condition, ...]

    def children(self) -> tuple[Condition, ...]:
        return self.of

    def source(self, settings: Mapping[str, int]) -> str:
        return "(" + " and ".join(x.source(settings) for x in self.of) + ")"

    def evaluate(self, env: Env) -> Tri:
        results = [c.evaluate(env) for c in self.of]
        if any(r is False for r in results):
            return False
        return None if any(r is None for r in results) else True


@dataclass(frozen=True)
class Not(Condition):
    of: Condition

    def children(self) -> tuple[Condition, ...]:
        return (self.of,)

    def source(self, settings: Mapping[str, int]) -> str:
        return f"(not {self.of.source(settings)})"

    def evaluate(self, env: Env) -> Tri:
        r = self.of.evaluate(env)
        return None if r is None else not r


@dataclass(frozen=True)
class ContextEquals(Condition):
    key: str
    equals: str

    def source(self, settings: Mapping[str, int]) -> str:
        return f"(c[{self.key!r}] == {self.equals!r})"

    def uses_context(self) -> bool:
        return True

    def evaluate(self, env: Env) -> Tri:
        got = env.context.get(self.key)
        return None if got is None else got == self.equals


CONTEXT_KEYS: dict[str, tuple[str, ...]] = {"sex": ("female", "male")}


def parse_condition(data: fm.Condition, where: str, fail: Callable[[str, str], Exception],
                    item_ids: Sequence[str], setting_names: Sequence[str],
                    score_names: Sequence[str]) -> Condition:
    """One condition whose shape the file model has checked: the items, scores, settings
    and context it names must exist; ``fail(field, problem)`` builds the error to raise."""

    def threshold(value: float | fm.SettingRef, w: str) -> Threshold:
        if isinstance(value, fm.SettingRef):
            if value.setting not in setting_names:
                raise fail(f"{w}.setting", f"names unknown setting '{value.setting}'")
            return Threshold(setting=value.setting)
        return Threshold(literal=float(value))

    def parse(d: fm.Condition, w: str) -> Condition:
        if isinstance(d, fm.AnyCondition | fm.AllCondition):
            kind = "any" if isinstance(d, fm.AnyCondition) else "all"
            subs = d.any if isinstance(d, fm.AnyCondition) else d.all
            parsed = tuple(parse(s, f"{w}.{kind}[{i}]") for i, s in enumerate(subs))
            return AnyOf(parsed) if kind == "any" else AllOf(parsed)
        if isinstance(d, fm.NotCondition):
            return Not(parse(d.not_, f"{w}.not"))
        if isinstance(d, fm.ContextCondition):
            if d.context not in CONTEXT_KEYS:
                raise fail(f"{w}.context", f"unknown context '{d.context}'; known: {', '.join(CONTEXT_KEYS)}")
            if d.equals not in CONTEXT_KEYS[d.context]:
                raise fail(f"{w}.equals", f"must be one of {', '.join(CONTEXT_KEYS[d.context])}")
            return ContextEquals(d.context, d.equals)
        value = threshold(d.value, f"{w}.value")
        if isinstance(d, fm.ItemCondition):
            if d.item not in item_ids:
                raise fail(f"{w}.item", f"names unknown item '{d.item}'")
            return ItemCompare(d.item, d.op, value)
        if isinstance(d, fm.ScoreCondition):
            if d.score not in score_names:
                raise fail(f"{w}.score", f"must be one of {', '.join(score_names)}")
            return ScoreCompare(d.score, d.op, value)
        if isinstance(d, fm.SumCondition):
            for item in d.sum:
                if item not in item_ids:
                    raise fail(f"{w}.sum", f"names unknown item '{item}'")
            return SumCompare(tuple(d.sum), d.op, value)
        return CountCompare(tuple(parse(s, f"{w}.count[{i}]") for i, s in enumerate(d.count)),
                            d.op, value)

    return parse(data, where)
