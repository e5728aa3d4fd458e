"""Clinic settings for the screening rules: validated, with labelled defaults.

The mapping passed to ``evaluate(settings=...)`` may hold three keys, all optional:

``thresholds``
    ``{name: number}`` overriding a threshold defined in ``data/ruleset.json`` (each has a
    default, a unit, bounds and a label saying where the default comes from).
``rule_severity``
    ``{rule_id: "exclude" | "review" | "caution"}``. A rule marked ``locked`` (a label
    contraindication or "not approved") can be made stricter but never milder.
``disabled_rules``
    ``[rule_id, ...]`` switched off by the clinic's governance; locked rules cannot be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .definitions import SEVERITIES, RuleSet
from .errors import SettingsError

SEVERITY_RANK = {"caution": 1, "review": 2, "exclude": 3}
SETTINGS_KEYS = ("thresholds", "rule_severity", "disabled_rules")


@dataclass(frozen=True)
class ClinicSettings:
    thresholds: Mapping[str, float]
    rule_severity: Mapping[str, str]
    disabled_rules: frozenset[str]
    changed: Mapping[str, Any]  # only what differs from the defaults, for the decision record


def default_settings(ruleset: RuleSet) -> dict[str, Any]:
    """Every threshold with its default, unit, bounds and label (for a settings page)."""
    return {name: {"default": s.default, "unit": s.unit, "min": s.minimum, "max": s.maximum,
                   "integer": s.integer, "label": s.label, "default_source": s.default_source}
            for name, s in sorted(ruleset.settings.items())}


def resolve_settings(raw: Mapping[str, Any] | None, ruleset: RuleSet) -> ClinicSettings:
    """Validate ``raw`` against the rule set; raise ``SettingsError`` naming the field."""
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise SettingsError("settings", "must be a mapping")
    for key in sorted(map(str, raw)):
        if key not in SETTINGS_KEYS:
            raise SettingsError(key, f"is not a screening setting (known: {', '.join(SETTINGS_KEYS)})")
    thresholds = {name: s.default for name, s in ruleset.settings.items()}
    changed: dict[str, Any] = {}
    for name, value in _mapping(raw, "thresholds").items():
        field = f"thresholds.{name}"
        spec = ruleset.settings.get(name)
        if spec is None:
            raise SettingsError(field, "is not a known threshold")
        problem = spec.problem(value)
        if problem is not None:
            raise SettingsError(field, problem)
        thresholds[name] = float(value)
        if float(value) != spec.default:
            changed.setdefault("thresholds", {})[name] = float(value)
    ids = {r.id: r for r in ruleset.rules}
    severity: dict[str, str] = {}
    for rule_id, level in _mapping(raw, "rule_severity").items():
        field = f"rule_severity.{rule_id}"
        rule = ids.get(rule_id)
        if rule is None:
            raise SettingsError(field, "is not a rule in this rule set")
        if level not in SEVERITIES:
            raise SettingsError(field, f"must be one of {', '.join(SEVERITIES)}")
        if rule.locked and SEVERITY_RANK[level] < SEVERITY_RANK[rule.severity]:
            raise SettingsError(field, f"rule is locked ({rule.citation}); it can be made stricter, "
                                       "not milder")
        if level != rule.severity:
            severity[rule_id] = level
    if severity:
        changed["rule_severity"] = dict(sorted(severity.items()))
    disabled_raw = raw.get("disabled_rules") or []
    if not isinstance(disabled_raw, list | tuple):
        raise SettingsError("disabled_rules", "must be a list of rule ids")
    for i, rule_id in enumerate(disabled_raw):
        rule = ids.get(rule_id) if isinstance(rule_id, str) else None
        if rule is None:
            raise SettingsError(f"disabled_rules[{i}]", f"'{rule_id}' is not a rule in this rule set")
        if rule.locked:
            raise SettingsError(f"disabled_rules[{i}]", f"'{rule_id}' is locked and cannot be switched off")
    disabled = frozenset(disabled_raw)
    if disabled:
        changed["disabled_rules"] = sorted(disabled)
    return ClinicSettings(thresholds, severity, disabled, changed)


def _mapping(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, Mapping):
        raise SettingsError(key, "must be a mapping")
    return value
