"""What the session settings and protocol pages show, read from the clinical core's files.

Each clinic setting of a protocol or of the monitoring rules, with its label (which already
says the default), what may be chosen, and where its default and bounds come from in plain
words; and each protocol's content (schedule, checklist, monitoring, discharge, citations)
as it applies to a clinic. Nothing here writes or knows about requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from kapclinic.clinical import protocols as core
from kapclinic.clinical.definitions import Setting
from kapclinic.clinical.monitoring import ACTION_WORDS, load_rules
from kapclinic.clinical.monitoring.evaluate import OP_WORDS
from kapclinic.clinical.monitoring.plausibility import FIELD_WORDS
from kapclinic.clinical.protocols.definitions import params
from kapclinic.clinical.protocols.file_model import Param
from kapclinic.platform.labels import DRUG_LABELS, ROUTE_LABELS
from kapclinic.treatment import settings_words as words
from kapclinic.treatment.models import ChecklistItem

# How a protocol's settings are grouped on the page, by the file's top-level field.
GROUPS = (("dose", "Dose"), ("schedule", "Schedule and spacing"), ("before", "Before dosing"),
          ("readings", "Readings"), ("observation", "Observation and discharge"))
_GROUP_OF = {"dose": "dose", "infusion_minutes": "dose", "device_mg": "dose",
             "device_rest_minutes": "dose", "spacing": "schedule", "schedule": "schedule",
             "fasting": "before", "monitoring": "readings", "observation": "observation",
             "discharge": "observation"}
# the checklist items that are not ChecklistItem answers (recorded another way)
CHECKLIST_EXTRA = {"predose_vitals": "Pre-dose vital signs within the clinic's holds"}
EFFECTS = {"sedation": "sedation", "dissociation": "dissociation",
           "respiratory_depression": "respiratory depression"}
PHASE_WORDS = {"pre_dose": "before dosing", "dosing": "during dosing", "after_dose": "after dosing"}
SEVERITY_WORDS = {"review": "Review", "hold": "Hold", "caution": "Caution", "urgent": "Urgent",
                  "emergency": "Emergency"}


@dataclass(frozen=True)
class SettingRow:
    """One clinic setting as the form shows it."""

    name: str
    setting: Setting[float | str]
    says: str            # what the default is, in a clinician's words
    source: str          # where it comes from, without reference jargon
    evidence: str        # how it was checked, in words
    bounds_source: str   # where the allowed range comes from

    @property
    def label(self) -> str:
        return words.plain(self.setting.label)

    @property
    def short_label(self) -> str:
        """The label without its default ("Hard cap, mg/kg: above it ... clinician")."""
        return self.label.split(" (default")[0]

    def with_value(self, value: float | str) -> str:
        """"Before dosing: do not start while systolic BP is above 160 mmHg"."""
        short = self.short_label
        if short.endswith(" this"):
            return f"{short.removesuffix(' this')} {self.shown(value)}"
        return f"{short}: {self.shown(value)}"

    @property
    def source_words(self) -> str:
        """The source, and how it was checked unless the source already says so."""
        source = self.source[:1].upper() + self.source[1:]
        tagged = any(tag in source for tag in ("(secondary source)", "(reported, not confirmed)",
                                               "(the clinic's choice)", "(worked out from"))
        return source if tagged or not self.evidence else f"{source} ({self.evidence})"

    @property
    def is_choice(self) -> bool:
        return self.setting.allowed is not None

    @property
    def allowed_words(self) -> str:
        s = self.setting
        if s.allowed is not None:
            return "Choose: " + ", ".join(words.choice(str(a)) for a in s.allowed) + "."
        lo, hi = words.number(s.minimum or 0), words.number(s.maximum or 0, s.unit)
        whole = ", whole numbers" if s.integer else ""
        return f"Allowed: {lo} to {hi}{whole}."

    def shown(self, value: float | str) -> str:
        return words.number(value, self.setting.unit)


def _row(param: Param) -> SettingRow:
    assert param.setting is not None
    return SettingRow(param.setting.name, param.as_setting(), words.plain(param.says),
                      words.plain(param.source), words.evidence(param.evidence),
                      words.plain(param.setting.bounds_source))


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    rows: tuple[SettingRow, ...]


def protocol_groups(protocol: core.Protocol) -> tuple[Group, ...]:
    """The protocol's settings, grouped as the page shows them (file order within a group)."""
    by_group: dict[str, list[SettingRow]] = {key: [] for key, _ in GROUPS}
    for path, param in params(protocol.model):
        if param.setting is not None and not path.startswith("presets"):
            by_group[_GROUP_OF.get(path.split(".")[0].split("[")[0], "observation")].append(_row(param))
    return tuple(Group(key, title, tuple(by_group[key])) for key, title in GROUPS if by_group[key])


def setting_paths(protocol: core.Protocol) -> dict[str, str]:
    """{field path: setting name}: which setting a refusal about ``dose.range_min`` is about."""
    return {path: p.setting.name for path, p in params(protocol.model) if p.setting is not None}


@dataclass(frozen=True)
class PresetRow:
    name: str
    label: str
    source: str
    sets: tuple[str, ...]  # "Minimum observation after dosing: 120 min"


def _presets(presets: Mapping[str, Any], rows: Mapping[str, SettingRow]) -> tuple[PresetRow, ...]:
    out = []
    for name, preset in presets.items():
        sets = tuple(rows[key].with_value(value) for key, value in preset.values.items() if key in rows)
        out.append(PresetRow(name, words.plain(preset.label), words.plain(preset.source), sets))
    return tuple(out)


def protocol_presets(protocol: core.Protocol) -> tuple[PresetRow, ...]:
    rows = {row.name: row for group in protocol_groups(protocol) for row in group.rows}
    return _presets(protocol.model.presets, rows)


# ---- monitoring ------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleRow:
    """A monitoring rule: when it fires, what it asks for, and its thresholds."""

    id: str
    label: str
    phases: str
    severity: str
    actions: str
    checks: tuple[str, ...]        # "Systolic BP above 140 mmHg" (the file's defaults)
    settings: tuple[SettingRow, ...]
    note: str = ""


def _check_words(compare: Any) -> str:
    what = FIELD_WORDS[compare.field][0] if compare.field in FIELD_WORDS else compare.field
    amount = words.number(compare.threshold.value, compare.threshold.unit)
    if compare.from_baseline:
        return f"{what[:1].upper()}{what[1:]} rises {OP_WORDS[compare.op]} {amount} over the " \
               "pre-dose value"
    return f"{what[:1].upper()}{what[1:]} {OP_WORDS[compare.op]} {amount}"


@cache
def monitoring_rules() -> tuple[RuleRow, ...]:
    rules = load_rules()
    out = []
    for rule_id, rule in rules.rules.items():
        settings = tuple(_row(c.threshold) for c in rule.any if c.threshold.setting is not None)
        out.append(RuleRow(
            rule_id, rule.label, ", ".join(PHASE_WORDS[p] for p in rule.phases),
            SEVERITY_WORDS[rule.severity], "; ".join(ACTION_WORDS[a] for a in rule.actions),
            tuple(_check_words(c) for c in rule.any), settings,
            words.plain(rule.evidence_note or "")))
    overdue = rules.overdue
    out.append(RuleRow("overdue", overdue.label, "during and after dosing",
                       SEVERITY_WORDS[overdue.severity],
                       "; ".join(ACTION_WORDS[a] for a in overdue.actions), (),
                       (_row(overdue.grace_minutes),)))
    return tuple(out)


def monitoring_setting_rows() -> dict[str, SettingRow]:
    return {row.name: row for rule in monitoring_rules() for row in rule.settings}


def monitoring_presets() -> tuple[PresetRow, ...]:
    return _presets(load_rules().presets, monitoring_setting_rows())


# ---- a protocol as the list page shows it -------------------------------------------

@cache
def shipped_ids() -> frozenset[str]:
    """The protocols kapclinic ships (the others come from the clinic's folder)."""
    return frozenset(core.load_protocols())


@dataclass
class ProtocolView:
    """A protocol with the clinic's settings applied, in words."""

    protocol: core.Protocol
    from_clinic_folder: bool
    facts: list[tuple[str, str]] = field(default_factory=list)
    schedule: list[dict[str, str]] = field(default_factory=list)
    checklist: list[str] = field(default_factory=list)
    monitoring: list[tuple[str, str]] = field(default_factory=list)
    rules: list[RuleRow] = field(default_factory=list)
    discharge: list[tuple[str, str]] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    note: str = ""
    presets: tuple[PresetRow, ...] = ()

    @property
    def drug(self) -> str:
        return DRUG_LABELS.get(self.protocol.drug, self.protocol.drug)

    @property
    def route(self) -> str:
        return ROUTE_LABELS.get(self.protocol.route, self.protocol.route)

    @property
    def dose_range(self) -> str:
        lo, hi = self.protocol.dose_range
        return f"{lo:g}–{hi:g} {self.protocol.unit_words}"

    @property
    def cap(self) -> str:
        return f"{self.protocol.cap:g} {self.protocol.unit_words}"


def _value(p: core.Protocol, param: Param | None) -> str:
    return "" if param is None else words.number(p.value(param), param.unit)


def per_week_words(per_week: float) -> str:
    """A schedule's sessions a week as a clinician says it: '3 sessions a week', '1 session a
    week', 0.25 -> 'one session every 4 weeks', 0.3 -> 'about one session every 23 days'."""
    if per_week >= 1:
        return f"{per_week:g} session{'' if per_week == 1 else 's'} a week"
    weeks = 1 / per_week
    if abs(weeks - round(weeks)) < 1e-6:
        return f"one session every {round(weeks)} weeks"
    return f"about one session every {round(7 * weeks)} days"


def protocol_view(p: core.Protocol) -> ProtocolView:
    m = p.model
    view = ProtocolView(p, p.id not in shipped_ids(), presets=protocol_presets(p))
    view.facts = [(k, v) for k, v in (
        ("Usual dose", _value(p, m.dose.standard)),
        ("Range", view.dose_range), ("Hard cap", view.cap),
        ("Titration step", _value(p, m.dose.titration_step)),
        ("Infusion time", _value(p, m.infusion_minutes)),
        ("Each device gives", _value(p, m.device_mg)),
        ("Rest between devices", _value(p, m.device_rest_minutes)),
        ("Fewest days between sessions", _value(p, m.spacing.min_days_between_sessions)),
        ("Most sessions in a week", _value(p, m.spacing.max_sessions_per_week)),
        ("No food before dosing", _value(p, m.fasting.food_hours) if m.fasting else ""),
        ("No liquids before dosing", _value(p, m.fasting.liquids_minutes) if m.fasting else ""),
    ) if v]
    for phase in m.schedule:
        weeks = (f"weeks {phase.from_week}–{phase.to_week}" if phase.to_week
                 else f"from week {phase.from_week}")
        view.schedule.append({
            "name": phase.name.capitalize(), "weeks": weeks,
            "per_week": per_week_words(p.number(phase.sessions_per_week)),
            "sessions": _value(p, phase.sessions), "doses": words.plain(phase.doses),
            "source": words.plain(phase.source)})
    view.checklist = [CHECKLIST_EXTRA.get(item) or ChecklistItem(item).label for item in p.checklist]
    during, after = p.monitoring_interval_minutes
    view.monitoring = [("Readings during dosing", f"every {during:g} min"),
                       ("Readings after dosing", f"every {after:g} min")]
    if p.marks_minutes:
        view.monitoring.append(("Readings also at", ", ".join(f"{mark:g} min" for mark in p.marks_minutes)
                                + " after dosing starts"))
    by_id = {rule.id: rule for rule in monitoring_rules()}
    view.rules = [by_id[rule_id] for rule_id in p.monitoring_rules if rule_id in by_id]
    obs = m.observation
    view.discharge = [
        ("Minimum observation", f"{p.min_observation_minutes:g} min, "
                                f"{words.choice(p.observation_counted_from).lower()}"),
        ("Discharge criteria", words.choice(p.discharge_criteria)
         + ("" if p.discharge_criteria == "clinician_judgement"
            else f", {p.discharge_score_at_least:g} or more")),
    ]
    if obs.until_resolved:
        view.discharge.append(("And until resolved", ", ".join(EFFECTS[e] for e in obs.until_resolved)))
    if obs.clinician_judgement:
        view.discharge.append(("Before leaving", "a clinician judges the patient clinically stable"))
    view.citations = [f"{words.plain(f'{c.document} {c.section} {c.row}')} — {words.evidence(c.evidence)}"
                      for c in m.citations]
    view.note = words.plain(m.note or "")
    return view
