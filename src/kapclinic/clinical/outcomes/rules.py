"""Outcome rules and clinic settings, read from ``outcomes.json`` (clinical knowledge as data).

The file holds the relapse and stable-remission definitions of shared/reference/clinical.md
section 2 (SUSTAIN-1 row) with their evidence tags, and the settings the reference leaves
open ([policy] or silent), each with a label, a default and the place in clinical.md that
leaves it open. Response and remission rules are *not* here: they live in the instrument
definitions (``change_rules`` / ``remission``) and are applied through
``kapclinic.clinical.instruments``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

from kapclinic.clinical.definitions import Setting, read_json, validate
from kapclinic.clinical.instruments.definitions import ChangeRule

from .errors import OutcomeRulesError, OutcomeSettingError
from .file_model import OutcomesFile, RelapseFile, SettingFile, StableRemissionFile

RULES_FILE = Path(__file__).with_name("outcomes.json")

SCORE_OPS = (">=", ">")


class SettingSpec(Setting[str | float]):
    """One outcome setting: the clinic-setting type (label, default, allowed values or a
    numeric range, source), refusing a bad value with ``OutcomeSettingError``."""

    def check(self, value: object) -> str | float:
        """Return ``value`` if allowed for this setting, else raise ``OutcomeSettingError``."""
        problem = self.problem(value)
        if problem is not None:
            raise OutcomeSettingError(self.name, problem)
        assert isinstance(value, str | int | float)
        return value if isinstance(value, str) else float(value)


@dataclass(frozen=True)
class RelapseRule:
    """A score-and-event relapse definition for one instrument.

    Relapse = total ``op`` ``threshold`` (instrument points) on ``consecutive`` consecutive
    assessments, each adjacent pair ``min_spacing_days``-``max_spacing_days`` calendar days
    apart (inclusive), or any clinical event whose kind is in ``event_kinds``.
    ``rule_id`` (e.g. ``"madrs:relapse@sustain1-1"``) is stored with every result.
    """

    instrument: str
    id: str
    version: str
    label: str
    op: str
    threshold: float
    consecutive: int
    min_spacing_days: int | None
    max_spacing_days: int | None
    event_kinds: tuple[str, ...]
    evidence: str
    source: str

    @property
    def rule_id(self) -> str:
        """Stable id stored with results: ``{instrument}:relapse@{id}-{version}``."""
        return f"{self.instrument}:relapse@{self.id}-{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"rule_id": self.rule_id, "label": self.label, "op": self.op,
                "threshold": self.threshold, "consecutive": self.consecutive,
                "spacing_days": (None if self.min_spacing_days is None
                                 else [self.min_spacing_days, self.max_spacing_days]),
                "event_kinds": list(self.event_kinds), "evidence": self.evidence,
                "source": self.source}


def clinic_relapse_rule(instrument: str, *, threshold: float, consecutive: int = 1,
                        spacing_days: tuple[int, int] | None = None, op: str = ">=",
                        event_kinds: tuple[str, ...] = (), label: str = "",
                        rule_id: str = "clinic", version: str = "1") -> RelapseRule:
    """A clinic's own relapse rule for an instrument clinical.md 2 gives none for.

    clinical.md 2 defines relapse only for MADRS (SUSTAIN-1); for PHQ-9, GAD-7, QIDS-SR16
    and PCL-5 it is silent, so there is no default: a clinic that wants relapse on those
    instruments sets ``threshold`` (instrument total points), ``consecutive`` assessments
    and optional ``spacing_days`` (calendar days, inclusive). Evidence is ``policy``.
    """
    if op not in SCORE_OPS:
        raise OutcomeSettingError("relapse_rules", f"{instrument}: op {op!r} is not one of {SCORE_OPS}")
    if type(consecutive) is not int or consecutive < 1:
        raise OutcomeSettingError("relapse_rules", f"{instrument}: consecutive must be a whole number >= 1")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise OutcomeSettingError("relapse_rules", f"{instrument}: threshold must be a finite number")
    lo: int | None = None
    hi: int | None = None
    if spacing_days is not None:
        lo, hi = spacing_days
        if not 0 <= lo <= hi:
            raise OutcomeSettingError("relapse_rules", f"{instrument}: spacing_days must be 0 <= min <= max")
    label = label or f"clinic rule: total {op} {threshold:g} on {consecutive} consecutive assessments"
    return RelapseRule(instrument, rule_id, version, label,
                       op, float(threshold), consecutive, lo, hi, tuple(event_kinds), "policy",
                       "clinic setting: clinical.md 2 gives no relapse definition for this instrument")


@dataclass(frozen=True)
class StableRemissionRule:
    """SUSTAIN-1 stable remission (clinical.md 2): MADRS ``op`` ``threshold`` in at least
    ``len(weeks) - max_tolerated`` of the ``weeks``; the excursion or missing assessment
    is tolerated only at ``tolerated_weeks``."""

    instrument: str
    id: str
    version: str
    label: str
    op: str
    threshold: float
    weeks: tuple[int, ...]
    tolerated_weeks: tuple[int, ...]
    max_tolerated: int
    evidence: str
    source: str

    @property
    def rule_id(self) -> str:
        """Stable id stored with results: ``{instrument}:{id}-{version}``."""
        return f"{self.instrument}:{self.id}-{self.version}"


@dataclass(frozen=True)
class OutcomeRules:
    """The parsed ``outcomes.json``: version, setting specs, relapse and stable-remission rules."""

    version: str
    settings: Mapping[str, SettingSpec]
    relapse_rules: Mapping[str, RelapseRule]
    stable_remission: Mapping[str, StableRemissionRule]

    @property
    def rules_version(self) -> str:
        """``outcomes@{version}``: stored with every summary."""
        return f"outcomes@{self.version}"


def _fail(where: str, problem: str) -> OutcomeRulesError:
    return OutcomeRulesError(RULES_FILE.name, where, problem)


def _setting(name: str, d: SettingFile) -> SettingSpec:
    where = f"settings.{name}"
    if d.allowed is not None:
        if d.min is not None or d.max is not None or not isinstance(d.default, str):
            raise _fail(f"{where}.default", "a setting with allowed values has a text default "
                                            "and no min or max")
        spec = SettingSpec(name, d.label, d.default, tuple(d.allowed), evidence=d.evidence,
                           source=d.source)
    else:
        if d.min is None or d.max is None or isinstance(d.default, str):
            raise _fail(f"{where}.min" if d.min is None else f"{where}.max" if d.max is None
                        else f"{where}.default", "a numeric setting needs min, max and a number default")
        spec = SettingSpec(name, d.label, float(d.default), None, d.min, d.max, evidence=d.evidence,
                           source=d.source)
    problem = spec.problem(spec.default)
    if problem is not None:
        raise _fail(f"{where}.default", problem)
    return spec


def _relapse(instrument: str, d: RelapseFile) -> RelapseRule:
    spacing = d.score.spacing_days
    if len(spacing) != 2 or not 0 <= spacing[0] <= spacing[1]:
        raise _fail(f"relapse_rules.{instrument}.score.spacing_days",
                    "must be [min, max] with 0 <= min <= max")
    return RelapseRule(instrument, d.id, d.version, d.label, d.score.op, float(d.score.value),
                       d.score.consecutive, spacing[0], spacing[1], tuple(d.events), d.evidence,
                       d.source)


def _stable(instrument: str, d: StableRemissionFile) -> StableRemissionRule:
    if not set(d.tolerated_weeks) <= set(d.weeks):
        raise _fail(f"stable_remission.{instrument}.tolerated_weeks", "must be a subset of weeks")
    return StableRemissionRule(instrument, d.id, d.version, d.label, d.op, float(d.value),
                               tuple(d.weeks), tuple(d.tolerated_weeks), d.max_tolerated,
                               d.evidence, d.source)


def parse_rules(data: Any) -> OutcomeRules:
    """Validate the parsed JSON of an outcomes rules file (its shape and types through
    ``OutcomesFile``, then the checks between fields); errors name the field."""
    d = validate(OutcomesFile, data, _fail)
    settings = {n: _setting(n, raw) for n, raw in d.settings.items()}
    missing = {f.name for f in fields(OutcomeSettings)} - {"relapse_rules", "instrument_settings",
                                                         "change_rules"}
    if missing - set(settings):
        raise _fail("settings", f"lacks {sorted(missing - set(settings))}")
    relapse = {i: _relapse(i, raw) for i, raw in d.relapse_rules.items()}
    stable = {i: _stable(i, raw) for i, raw in d.stable_remission.items()}
    return OutcomeRules(d.version, settings, relapse, stable)


@cache
def load_rules() -> OutcomeRules:
    """The shipped ``outcomes.json``, validated once per process."""
    return parse_rules(read_json(RULES_FILE, _fail))


def _default(name: str) -> Any:
    return load_rules().settings[name].default


@dataclass(frozen=True)
class OutcomeSettings:
    """A clinic's outcome settings. Unset fields take the labelled defaults of ``outcomes.json``.

    - ``baseline_anchor``: ``"episode"`` | ``"course"`` (clinical.md 2 guidance [policy]).
    - ``baseline_window_days``: days before the start a baseline score may be taken (silent).
    - ``baseline_fallback``: ``"first_after_start"`` | ``"none"`` (silent).
    - ``relapse_after``: ``"response_or_remission"`` | ``"response"`` | ``"remission"``.
    - ``relapse_date``: ``"first_of_run"`` | ``"last_of_run"`` (SUSTAIN-1 row is silent).
    - ``fading_fraction``: fraction (0.05-1) of the improvement regained (no rule in clinical.md).
    - ``relapse_rules``: clinic rules by instrument id (see ``clinic_relapse_rule``); they
      add to, and may replace, the reference rules.
    - ``instrument_settings``: per-instrument settings passed to the remission rule, e.g.
      ``{"madrs": {"remission_max": 12}}`` (clinical.md 2 MADRS row).
    - ``change_rules``: the clinic's response rules by instrument id for instruments the
      reference gives none for (PCL-5; see ``instruments.clinic_change_rule``); no default.
    """

    baseline_anchor: str = field(default_factory=lambda: str(_default("baseline_anchor")))
    baseline_window_days: float = field(default_factory=lambda: float(_default("baseline_window_days")))
    baseline_fallback: str = field(default_factory=lambda: str(_default("baseline_fallback")))
    relapse_after: str = field(default_factory=lambda: str(_default("relapse_after")))
    relapse_date: str = field(default_factory=lambda: str(_default("relapse_date")))
    fading_fraction: float = field(default_factory=lambda: float(_default("fading_fraction")))
    relapse_rules: Mapping[str, RelapseRule] = field(default_factory=dict)
    instrument_settings: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    change_rules: Mapping[str, ChangeRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        specs = load_rules().settings
        for name, spec in specs.items():
            checked = spec.check(getattr(self, name))
            object.__setattr__(self, name, checked)
        for instrument, rule in self.relapse_rules.items():
            if not isinstance(rule, RelapseRule) or rule.instrument != instrument:
                raise OutcomeSettingError("relapse_rules", f"{instrument}: must be a RelapseRule for "
                                                           f"'{instrument}' (see clinic_relapse_rule)")
        for instrument, change in self.change_rules.items():
            if not isinstance(change, ChangeRule):
                raise OutcomeSettingError("change_rules", f"{instrument}: must be a ChangeRule "
                                                          "(see instruments.clinic_change_rule)")

    def relapse_rule(self, instrument: str) -> RelapseRule | None:
        """The clinic's rule for ``instrument`` if set, else the reference rule, else None."""
        return self.relapse_rules.get(instrument) or load_rules().relapse_rules.get(instrument)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every setting value plus the clinic relapse rules and instrument settings."""
        out: dict[str, Any] = {name: getattr(self, name) for name in load_rules().settings}
        out["relapse_rules"] = {k: v.to_dict() for k, v in sorted(self.relapse_rules.items())}
        out["instrument_settings"] = {k: dict(v) for k, v in sorted(self.instrument_settings.items())}
        out["change_rules"] = {k: {"id": v.id, "kind": v.kind, "at_least": v.at_least}
                               for k, v in sorted(self.change_rules.items())}
        return out


def outcome_instruments() -> list[str]:
    """Instruments with a response or remission rule (clinical.md 2): the ones outcomes are
    computed and compared for, by id."""
    from kapclinic.clinical.instruments.definitions import load_all

    return sorted(k for k, d in load_all().items() if d.change_rules or d.remission)


def response_rule_instruments() -> list[str]:
    """Outcome instruments the reference gives no response rule for (PCL-5: clinical.md 2,
    corrected 2026-11-30): the clinic may set one; there is no default."""
    from kapclinic.clinical.instruments.definitions import load_all

    pool = load_all()
    return [i for i in outcome_instruments() if not any(c.id == "response"
                                                        for c in pool[i].change_rules)]


def relapse_rule_instruments() -> list[str]:
    """Outcome instruments clinical.md 2 gives no relapse rule for: the clinic may set one."""
    reference = load_rules().relapse_rules
    return [i for i in outcome_instruments() if i not in reference]
