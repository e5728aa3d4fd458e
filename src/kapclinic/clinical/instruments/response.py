"""Response and remission: pure functions over totals, by the definition's own rules.

Rules come from shared/reference/clinical.md section 2 and live in the definition files
(``change_rules``, ``remission``) with their evidence tag; thresholds the reference leaves
to the clinic are settings. Each outcome carries ``rule_version`` so a stored result says
which rule produced it. Percent change follows clinical.md 2: (baseline - current) / baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .conditions import OPS
from .definitions import InstrumentDefinition, resolve


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


def _check_total(d: InstrumentDefinition, name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{d.id} {name}: {value!r} must be a number")
    assert d.total_range is not None
    lo, hi = d.total_range
    if not lo <= value <= hi:
        raise ValueError(f"{d.id} {name}: {value} is outside the total range {lo}-{hi}")


def change_outcome(instrument_id: str, baseline: float | None, current: float | None, *,
                   rule: str = "response",
                   definitions: Mapping[str, InstrumentDefinition] | None = None) -> RuleOutcome:
    """Whether the change from ``baseline`` to ``current`` meets a change rule (default
    ``response``). ``met`` is None when a total is missing or percent change is undefined."""
    d = resolve(instrument_id, definitions)
    spec = next((c for c in d.change_rules if c.id == rule), None)
    if spec is None:
        known = ", ".join(c.id for c in d.change_rules) or "none"
        raise ValueError(f"{d.id} has no change rule '{rule}' in clinical.md 2 (rules: {known})")
    _check_total(d, "baseline", baseline)
    _check_total(d, "current", current)
    version = f"{d.id}@{d.version}:{spec.id}"
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
              settings: Mapping[str, int] | None = None,
              definitions: Mapping[str, InstrumentDefinition] | None = None) -> RuleOutcome:
    """Whether ``current`` meets the instrument's remission rule (clinical.md 2)."""
    d = resolve(instrument_id, definitions)
    spec = d.remission
    if spec is None:
        raise ValueError(f"{d.id} has no remission definition in clinical.md 2")
    _check_total(d, "current", current)
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
