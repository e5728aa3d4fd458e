"""Response and remission: pure functions over totals, by the definition's own rules.

Rules come from shared/reference/clinical.md section 2 and live in the definition files
(``change_rules``, ``remission``) with their evidence tag; thresholds the reference leaves
to the clinic are settings. Each outcome carries ``rule_version`` so a stored result says
which rule produced it. Percent change follows clinical.md 2: (baseline - current) / baseline.

Where the reference gives no rule (PCL-5 response: the 5- and 10-point figures belong to
the DSM-IV PCL, clinical.md 2 corrected 2026-11-30) there is no default: a clinic may set
its own with ``clinic_change_rule`` and pass it as ``clinic_rule``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .conditions import OPS
from .definitions import CHANGE_KINDS, ChangeRule, InstrumentDefinition, resolve
from .scoring import chosen_rounding, round_total


@dataclass(frozen=True)
class RuleOutcome:
    instrument: str
    rule: str
    rule_version: str
    met: bool | None
    value: float | None  # percent or point reduction, or the current total for remission
    threshold: float
    description: str
    evidence: str
    source: str
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def percent_reduction(baseline: float, current: float) -> float | None:
    """(baseline - current) / baseline as a percentage; None when baseline is 0 (undefined)."""
    if baseline <= 0:
        return None
    return (baseline - current) / baseline * 100.0


def _check_total(d: InstrumentDefinition, name: str, value: float | None,
                 rounding: str | None = None) -> float | None:
    """``value`` checked against the total range; a fractional (prorated, stored before
    totals were rounded) total of an instrument with a prorating rule is rounded by that
    rule (clinic setting ``rounding``, default the definition's), as the scorer does."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{d.id} {name}: {value!r} must be a number")
    assert d.total_range is not None
    lo, hi = d.total_range
    if not lo <= value <= hi:
        raise ValueError(f"{d.id} {name}: {value} is outside the total range {lo}-{hi}")
    how = chosen_rounding(d, rounding)
    if how is not None and value != int(value):
        return round_total(value, how)
    return value


CLINIC_RULE_SOURCE = ("clinic setting: the reference gives no verified rule for this "
                      "instrument (clinical.md 2)")


def clinic_change_rule(instrument_id: str, *, kind: str, at_least: float, rule: str = "response",
                       definitions: Mapping[str, InstrumentDefinition] | None = None
                       ) -> ChangeRule:
    """A clinic's own change rule (e.g. PCL-5 response) for an instrument whose definition
    has no rule of that id; there is no default. ``kind``: ``point_reduction`` (at least
    ``at_least`` points, within the total range) or ``percent_reduction`` (0-100]."""
    d = resolve(instrument_id, definitions)
    if d.total_range is None:
        raise ValueError(f"{d.id} has no total to change")
    if any(c.id == rule for c in d.change_rules):
        raise ValueError(f"{d.id} already has a '{rule}' rule from the reference; it is not a "
                         "clinic setting")
    if kind not in CHANGE_KINDS:
        raise ValueError(f"{d.id} {rule}: kind {kind!r} is not one of {', '.join(CHANGE_KINDS)}")
    top = 100.0 if kind == "percent_reduction" else float(d.total_range[1] - d.total_range[0])
    if isinstance(at_least, bool) or not isinstance(at_least, int | float) \
            or not 0 < at_least <= top:
        unit = "%" if kind == "percent_reduction" else " points"
        raise ValueError(f"{d.id} {rule}: at least must be above 0 and at most {top:g}{unit}")
    return ChangeRule(rule, kind, float(at_least), "policy", CLINIC_RULE_SOURCE)


def change_rule(d: InstrumentDefinition, rule: str = "response",
                clinic_rule: ChangeRule | None = None) -> ChangeRule | None:
    """The reference's rule ``rule`` of ``d`` if it has one, else the clinic's, else None."""
    spec = next((c for c in d.change_rules if c.id == rule), None)
    if spec is None and clinic_rule is not None and clinic_rule.id == rule:
        return clinic_rule
    return spec


def change_outcome(instrument_id: str, baseline: float | None, current: float | None, *,
                   rule: str = "response", clinic_rule: ChangeRule | None = None,
                   rounding: str | None = None,
                   definitions: Mapping[str, InstrumentDefinition] | None = None) -> RuleOutcome:
    """Whether the change from ``baseline`` to ``current`` meets a change rule (default
    ``response``). ``met`` is None when a total is missing or percent change is undefined.
    ``clinic_rule`` (from ``clinic_change_rule``) applies only where the definition has no
    rule of that id; its version names it as the clinic's."""
    d = resolve(instrument_id, definitions)
    spec = change_rule(d, rule, clinic_rule)
    if spec is None:
        known = ", ".join(c.id for c in d.change_rules) or "none"
        raise ValueError(f"{d.id} has no change rule '{rule}' (reference rules: {known}; the "
                         "clinic has set none)")
    baseline = _check_total(d, "baseline", baseline, rounding)
    current = _check_total(d, "current", current, rounding)
    version = f"{d.id}@{d.version}:{spec.id}"
    if spec is clinic_rule:
        version += f"(clinic:{spec.kind}>={spec.at_least:g})"
    if spec.kind == "percent_reduction":
        description = f"reduction of at least {spec.at_least:g}% from baseline"
    else:
        description = f"drop of at least {spec.at_least:g} points from baseline"

    def outcome(met: bool | None, value: float | None, reason: str | None = None) -> RuleOutcome:
        return RuleOutcome(d.id, spec.id, version, met, value, spec.at_least, description,
                           spec.evidence, spec.source, reason)

    if baseline is None or current is None:
        return outcome(None, None, "baseline or current total is missing")
    if spec.kind == "point_reduction":
        drop = baseline - current
        return outcome(drop >= spec.at_least, drop)
    pct = percent_reduction(baseline, current)
    if pct is None:
        return outcome(None, None, "baseline total is 0: percent change is undefined")
    # compare without division so 50% of an odd baseline is exact
    return outcome((baseline - current) * 100 >= spec.at_least * baseline, pct)


def is_response(instrument_id: str, baseline: float | None, current: float | None, *,
                definitions: Mapping[str, InstrumentDefinition] | None = None) -> bool | None:
    """Shorthand: ``change_outcome(...).met`` for the ``response`` rule."""
    return change_outcome(instrument_id, baseline, current, definitions=definitions).met


def remission(instrument_id: str, current: float | None, *,
              settings: Mapping[str, int] | None = None, rounding: str | None = None,
              definitions: Mapping[str, InstrumentDefinition] | None = None) -> RuleOutcome:
    """Whether ``current`` meets the instrument's remission rule (clinical.md 2). A
    fractional prorated total is rounded first (``rounding``; PHQ-9: 4.5 is 5, not < 5)."""
    d = resolve(instrument_id, definitions)
    spec = d.remission
    if spec is None:
        raise ValueError(f"{d.id} has no remission definition in clinical.md 2")
    current = _check_total(d, "current", current, rounding)
    threshold = spec.value.value(d.chosen_settings(settings))
    description = f"total {spec.op} {threshold:g}"
    version = f"{d.id}@{d.version}:remission"
    if spec.value.setting:
        version += f"({spec.value.setting}={threshold:g})"
    if current is None:
        return RuleOutcome(d.id, "remission", version, None, None, threshold, description,
                           spec.evidence, spec.source, "current total is missing")
    return RuleOutcome(d.id, "remission", version, OPS[spec.op](current, threshold), current,
                       threshold, description, spec.evidence, spec.source)
