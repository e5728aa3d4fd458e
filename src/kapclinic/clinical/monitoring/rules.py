"""Monitoring rules read from ``rules.json`` (clinical.md 4.2 and sessions.md 1-2).

Each rule names the phases it watches (before dosing, during, after), the comparisons that
raise it, a severity and the recommended actions. Thresholds are numbers with a source;
those the reference leaves to the clinic are settings with a labelled default, and named
presets (a practice's published rules, an illustrative trial's exclusions) set several at
once. ``MonitoringRules.resolve`` turns a clinic's choices into the values ``evaluate`` uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from kapclinic.clinical.definitions import Setting, read_json, validate
from kapclinic.clinical.protocols.definitions import check_presets, settings_of
from kapclinic.clinical.protocols.file_model import Param

from .errors import MonitoringSettingError, RulesFileError
from .file_model import OverdueFile, RuleFile, RulesFile

RULES_FILE = Path(__file__).with_name("rules.json")


@dataclass(frozen=True)
class MonitoringSettings:
    """A clinic's monitoring thresholds: every setting's value by name, and the preset used."""

    values: Mapping[str, float]
    preset: str | None = None

    def number(self, param: Param) -> float:
        if param.setting is not None:
            return self.values[param.setting.name]
        assert not isinstance(param.value, str)
        return float(param.value)


@dataclass(frozen=True)
class MonitoringRules:
    version: str
    rules: Mapping[str, RuleFile]
    overdue: OverdueFile
    settings: Mapping[str, Setting[float | str]]
    presets: Mapping[str, Any]

    @property
    def rules_version(self) -> str:
        """``monitoring@{version}``: stored with every alert."""
        return f"monitoring@{self.version}"

    def resolve(self, values: Mapping[str, Any] | None = None,
                preset: str | None = None) -> MonitoringSettings:
        """Defaults, then a named preset, then ``values``; each checked against its setting."""
        chosen = {name: float(s.default) for name, s in self.settings.items()}
        if preset is not None:
            if preset not in self.presets:
                raise MonitoringSettingError("preset", f"'{preset}' is not a monitoring preset; "
                                                       f"known: {', '.join(sorted(self.presets))}")
            chosen.update({k: float(v) for k, v in self.presets[preset].values.items()})
        for name, value in (values or {}).items():
            if name not in self.settings:
                raise MonitoringSettingError(name, "is not a monitoring setting")
            problem = self.settings[name].problem(value)
            if problem is not None:
                raise MonitoringSettingError(name, problem)
            chosen[name] = float(value)
        return MonitoringSettings(chosen, preset)


def _params(rules: Mapping[str, RuleFile], overdue: OverdueFile) -> list[tuple[str, Param]]:
    out = [(f"rules.{rid}.any[{i}].threshold", c.threshold)
           for rid, rule in rules.items() for i, c in enumerate(rule.any)]
    return [*out, ("overdue.grace_minutes", overdue.grace_minutes)]


def parse_rules(data: Any, filename: str = RULES_FILE.name) -> MonitoringRules:
    """Validate a decoded rules file; errors name the file and the field."""

    def fail(where: str, problem: str) -> RulesFileError:
        return RulesFileError(filename, where, problem)

    model = validate(RulesFile, data, fail)
    params = _params(model.rules, model.overdue)
    for path, param in params:
        if isinstance(param.value, str):
            raise fail(f"{path}.value", "must be a number")
    settings = settings_of(params, fail)
    check_presets(model.presets, settings, fail)
    for rid, rule in model.rules.items():
        if "pause_infusion" in rule.actions and rule.phases == ["pre_dose"]:
            raise fail(f"rules.{rid}.actions", "a pre-dose rule cannot pause an infusion")
    return MonitoringRules(model.version, model.rules, model.overdue, settings, model.presets)


@cache
def load_rules() -> MonitoringRules:
    """The shipped ``rules.json``, validated once per process."""
    return parse_rules(read_json(RULES_FILE, lambda f, p: RulesFileError(RULES_FILE.name, f, p)))
