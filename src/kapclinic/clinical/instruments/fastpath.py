"""Scoring of a complete questionnaire, compiled to one Python function per definition.

Why: the general scorer (``scoring._score_general``) walks three-valued condition trees so
it can say "cannot tell" when an answer is missing. Almost every questionnaire arrives
complete, and then only two-valued arithmetic is needed. For each definition and choice
of clinic settings the rules are written out once as Python source and compiled; the
function returns ``None`` for anything it does not cover (a missing or bad answer, a
skipped item, a context it needs but was not given) and the general scorer takes over,
so errors and missing-item handling have a single author. A property test asserts the
two agree on every shipped instrument.

Every item id, score name and number in the source passes through ``repr``, and
thresholds are finite (the loader refuses NaN and infinity), so a definition file
cannot inject code.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .definitions import InstrumentDefinition

if TYPE_CHECKING:
    from .scoring import MissingHandling, ScoreResult

CompleteScorer = Callable[[Mapping[str, Any], "str | None"], "ScoreResult | None"]


def build(d: InstrumentDefinition, settings: Mapping[str, int], result: type[ScoreResult],
          handling_for: Callable[[tuple[str, ...]], MissingHandling],
          frozen_settings: Mapping[str, int]) -> CompleteScorer | None:
    """The compiled scorer for ``d`` under ``settings``, or None where it cannot help.

    ``handling_for(unanswered)`` gives the (cached) missing-item record for a complete
    questionnaire whose only unanswered items are unscored ones.
    """
    kind = d.scoring.kind
    conditions = [r.when for r in (*d.alerts, *d.findings)]
    conditions += [t.when for t in d.triage if t.when is not None]
    needs_context = any(c.uses_context() for c in conditions)
    scored = [i.link_id for i in d.items if i.scored]
    required = set(scored).union(*(c.items() for c in conditions),
                                 *(s.items for s in d.subscales),
                                 *(members for _, members in d.scoring.groups))
    # Items left unanswered are fine only where nothing can skip items or need them.
    may_leave_out = not any(i.enable_when for i in d.items) and d.scoring.missing.rule != "conditional"
    countable = {i.link_id: frozenset(i.values) for i in d.items}

    lines = ["def complete(answers, sex):"]
    if needs_context:
        lines += ["    if sex is None:", "        return None", "    c = {'sex': sex}"]
    lines += [
        "    for key, value in answers.items():",
        "        ok = COUNTABLE.get(key)",
        "        if ok is None or value.__class__ is not int or value not in ok:",
        "            return None",
        "    v = answers",
    ]
    # An answer to an item its skip rule says is not asked: the general scorer refuses it.
    for item in d.items:
        if not item.enable_when:
            continue
        tests = [f"v.get({ew.item!r}) {'==' if ew.op == '==' else '!='} {ew.value!r}"
                 for ew in item.enable_when]
        joined = (" and " if item.enable_behavior == "all" else " or ").join(tests)
        lines += [f"    if {item.link_id!r} in v and not ({joined}):", "        return None"]
    lines += [
        "    n = len(v)",
        "    if n == N_ITEMS:",
        "        handling = ALL_ANSWERED",
    ]
    if may_leave_out:
        lines += [
            "    elif REQUIRED <= v.keys():",
            "        handling = HANDLING_FOR(tuple([i for i in ITEM_IDS if i not in v]))",
        ]
    lines += ["    else:", "        return None"]

    if kind in ("sum", "single"):
        lines.append("    total = " + " + ".join(f"v[{i!r}]" for i in scored))
    elif kind == "max_of_groups":
        parts = [f"max({', '.join(f'v[{m!r}]' for m in members)})" if len(members) > 1
                 else f"v[{members[0]!r}]" for _, members in d.scoring.groups]
        lines.append("    total = " + " + ".join(parts))
    else:
        lines.append("    total = None")
    subscales = ", ".join(
        f"{s.id!r}: " + " + ".join(f"v[{m!r}]" for m in s.items) for s in d.subscales)
    lines.append(f"    subscales = {{{subscales}}}")
    if any(c.scores() for c in conditions):
        lines.append("    s = {'total': total, **subscales}")
    if d.severity is not None and kind != "triage":
        lines.append("    band = BANDS[bisect_right(BAND_MINS, total) - 1]")
        lines.append("    severity, severity_label = band.code, band.label")
    else:
        lines.append("    severity = severity_label = None")
    for position, level in enumerate(d.triage):  # most severe first: the first that holds wins
        if level.when is None:
            lines.append("    else:" if position else "    if True:")
        else:
            lines.append(f"    {'elif' if position else 'if'} {level.when.source(settings)}:")
        lines.append(f"        severity, severity_label = {level.code!r}, {level.label!r}")
        if level.when is None:
            break
    lines.append("    flags = []")
    for alert in d.alerts:
        lines += [f"    if {alert.when.source(settings)} and {alert.id!r} not in flags:",
                  f"        flags.append({alert.id!r})"]
    findings = ", ".join(f"{f.id!r}: {f.when.source(settings)}" for f in d.findings)
    lines.append(f"    findings = {{{findings}}}")
    lines.append("    return RESULT(ID, VERSION, total, TOTAL_RANGE, severity, severity_label, "
                 "subscales, tuple(flags), (), findings, handling, SETTINGS)")

    item_ids = tuple(i.link_id for i in d.items)
    namespace: dict[str, Any] = {
        "COUNTABLE": countable, "N_ITEMS": len(item_ids), "ITEM_IDS": item_ids,
        "REQUIRED": frozenset(required), "ALL_ANSWERED": handling_for(()),
        "HANDLING_FOR": handling_for, "BANDS": d.severity.bands if d.severity else (),
        "BAND_MINS": tuple(b.min for b in d.severity.bands) if d.severity else (),
        "bisect_right": bisect_right, "RESULT": result, "ID": d.id, "VERSION": d.version,
        "TOTAL_RANGE": d.total_range, "SETTINGS": frozen_settings,
    }
    exec(compile("\n".join(lines), f"<compiled scorer {d.id}>", "exec"), namespace)  # noqa: S102
    scorer: CompleteScorer = namespace["complete"]
    return scorer
