"""Evaluate a reading, and the time since the last one, against a protocol's monitoring rules.

``evaluate`` first refuses an impossible reading (clinical.md 4.4 limits), then fires each
rule the protocol names whose phase matches and one of whose comparisons holds, and flags a
reading (or a named mark such as ~40 min) that is overdue. Each alert carries a severity, a
label with the values that raised it, and the recommended actions in plain words. A pause of
the infusion is recommended only while an infusion is running.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kapclinic.clinical.protocols import Protocol

from .errors import ReadingError
from .file_model import RuleFile
from .plausibility import FIELD_WORDS, PHASES, Reading, check_reading
from .rules import MonitoringSettings, load_rules

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
OP_WORDS = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}
ACTION_WORDS = {
    "hold_dose": "do not start the dose", "call_prescriber": "call the prescriber",
    "pause_infusion": "pause the infusion", "stop_dosing": "stop dosing",
    "continuous_observation": "stay with the patient (continuous observation)",
    "emergency_response": "start the emergency response", "take_reading": "take the reading now",
}


@dataclass(frozen=True)
class Alert:
    rule: str
    severity: str
    label: str
    message: str
    actions: tuple[str, ...]
    rules_version: str
    due_at: datetime | None = None  # an overdue reading's due time (one alert per missed time)
    findings: str = ""  # the values that raised it, as its label words them ("SpO2 90 %, below 92")

    @property
    def action_words(self) -> tuple[str, ...]:
        return tuple(ACTION_WORDS[a] for a in self.actions)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "label": self.label,
                "message": self.message, "actions": list(self.actions),
                "action_words": list(self.action_words), "rules_version": self.rules_version}


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _fire(rule_id: str, rule: RuleFile, reading: Reading, baseline: Reading | None,
          protocol: Protocol, settings: MonitoringSettings, version: str) -> Alert | None:
    values, base = reading.values(), (baseline.values() if baseline is not None else {})
    found = []
    for c in rule.any:
        if c.field not in values:
            continue
        value = values[c.field]
        threshold = settings.number(c.threshold)
        words, unit = FIELD_WORDS[c.field]
        if c.from_baseline:
            if c.field not in base:
                continue
            rise = value - base[c.field]
            if OPS[c.op](rise, threshold):
                found.append(f"{words} up {_fmt(rise)} {unit} from {_fmt(base[c.field])} before dosing")
        elif OPS[c.op](value, threshold):
            found.append(f"{words} {_fmt(value)}{' ' + unit if unit else ''}, "
                         f"{OP_WORDS[c.op]} {_fmt(threshold)}")
    if not found:
        return None
    infusing = reading.phase == "dosing" and protocol.infusion_minutes is not None
    actions = tuple(a for a in rule.actions if a != "pause_infusion" or infusing)
    message = rule.message if actions == tuple(rule.actions) else \
        f"{rule.label}: {'; '.join(ACTION_WORDS[a] for a in actions)}."
    return Alert(rule_id, rule.severity, f"{rule.label} ({'; '.join(found)})", message, actions, version,
                 findings="; ".join(found))


def evaluate(reading: Reading | None, protocol: Protocol, settings: MonitoringSettings | None,
             now: datetime, last_reading_at: datetime | None, *, phase: str | None = None,
             baseline: Reading | None = None, dose_started_at: datetime | None = None) -> list[Alert]:
    """Alerts for ``reading`` (None: only check what is overdue at ``now``) under the rules
    ``protocol`` names and the clinic's ``settings`` (None: the defaults).

    ``last_reading_at``: the time of the latest earlier reading; ``baseline``: the pre-dose
    reading rises are measured from; ``dose_started_at``: when dosing began (for the marks
    such as ~40 min). Raises ``ReadingError`` naming the field for an impossible reading.
    """
    rules = load_rules()
    settings = settings or rules.resolve()
    if now.tzinfo is None:
        raise ReadingError("now", "must carry a time zone")
    phase = reading.phase if reading is not None else phase
    if phase not in PHASES:
        raise ReadingError("phase", f"'{phase}' is not one of {', '.join(PHASES)}")
    alerts: list[Alert] = []
    latest = last_reading_at
    if reading is not None:
        check_reading(reading, now)
        latest = reading.observed_at if latest is None else max(latest, reading.observed_at)
        for rule_id in protocol.monitoring_rules:
            rule = rules.rules[rule_id]
            if phase in rule.phases:
                alert = _fire(rule_id, rule, reading, baseline, protocol, settings, rules.rules_version)
                if alert is not None:
                    alerts.append(alert)
    alerts.extend(_overdue(protocol, settings, now, latest, phase, dose_started_at, rules.rules_version))
    return alerts


def rule_fields(rule_id: str) -> frozenset[str]:
    """The vitals a rule looks at: a reading holding none of them says nothing about it (none
    for an id that names no such rule, such as an overdue reading's)."""
    rule = load_rules().rules.get(rule_id)
    return frozenset(c.field for c in rule.any) if rule is not None else frozenset()


def worse(rule_id: str, settings: MonitoringSettings | None, values: dict[str, float],
          shown: dict[str, float]) -> bool:
    """Whether a reading (``values``) that fired ``rule_id`` is further out than the reading an
    open alert of that rule shows (``shown``): on a field whose comparison holds for it, a value
    lower for "below", higher for "above", or a value the shown reading lacks. A rise from before
    dosing is measured from the same baseline, so its value says the same, and counts whenever
    the field moved further. A reading that is no worse adds nothing an open alert does not
    already say; one that is worse must raise its own, so a patient getting worse is never
    hidden behind an alert that shows them better."""
    rules = load_rules()
    settings = settings or rules.resolve()
    for c in rules.rules[rule_id].any:
        if c.field not in values:
            continue
        value = values[c.field]
        if not c.from_baseline and not OPS[c.op](value, settings.number(c.threshold)):
            continue
        if c.field not in shown:
            return True
        further = value > shown[c.field] if c.op in (">", ">=") else value < shown[c.field]
        if further:
            return True
    return False


def _overdue(protocol: Protocol, settings: MonitoringSettings, now: datetime,
             latest: datetime | None, phase: str, dose_started_at: datetime | None,
             version: str) -> list[Alert]:
    if phase == "pre_dose":
        return []
    rule = load_rules().overdue
    grace = timedelta(minutes=settings.number(rule.grace_minutes))
    during, after = protocol.monitoring_interval_minutes
    interval = timedelta(minutes=during if phase == "dosing" else after)
    out = []
    if latest is not None and now > latest + interval + grace:
        late = (now - latest - interval).total_seconds() / 60
        out.append(Alert("reading_overdue", rule.severity,
                         f"{rule.label}: the next reading was due every {_fmt(interval.seconds / 60)} "
                         f"minutes and is {_fmt(late)} minutes late",
                         "A reading is overdue: take the reading now.", tuple(rule.actions), version,
                         latest + interval))
    if dose_started_at is not None:
        for mark in protocol.marks_minutes:
            due = dose_started_at + timedelta(minutes=mark)
            taken = latest is not None and latest >= due - grace
            if now > due + grace and not taken:
                out.append(Alert("reading_mark_overdue", rule.severity,
                                 f"The reading due {_fmt(mark)} minutes after the dose is overdue",
                                 f"Take the {_fmt(mark)}-minute reading now.", tuple(rule.actions),
                                 version, due))
    return out


def next_reading_due(protocol: Protocol, settings: MonitoringSettings, now: datetime,
                     latest: datetime | None, phase: str,
                     dose_started_at: datetime | None) -> datetime | None:
    """When the next reading is due: the protocol's interval after the last reading (now, when
    none was taken yet), or sooner a mark not yet taken (esketamine's ~40 min), a mark counting
    as taken as it does for the overdue alerts. None before dosing."""
    if phase == "pre_dose":
        return None
    grace = timedelta(minutes=settings.number(load_rules().overdue.grace_minutes))
    during, after = protocol.monitoring_interval_minutes
    interval = timedelta(minutes=during if phase == "dosing" else after)
    due = [latest + interval if latest is not None else now]
    if dose_started_at is not None:
        marks = (dose_started_at + timedelta(minutes=mark) for mark in protocol.marks_minutes)
        due += [at for at in marks if not (latest is not None and latest >= at - grace)]
    return min(due)
