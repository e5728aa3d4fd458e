"""Outcomes of measurement-based care: pure Python + numpy, no Django, no I/O beyond ``outcomes.json``.

Per patient and instrument (``summarise`` -> ``OutcomeSummary``): baseline per episode or
course, change and percent change, response, remission, time to response, relapse after
response or remission, durability and "relief fading". Definitions come from
shared/reference/clinical.md section 2 only: response and remission rules are the
instrument definitions' own (``kapclinic.clinical.instruments``), the relapse and
stable-remission rules (SUSTAIN-1, MADRS) live in ``outcomes.json`` with their evidence
tags, and what the reference leaves open is a clinic setting (``OutcomeSettings``) with a
labelled default. Every result carries the rule versions and settings that produced it.

For the dashboard (counts aggregated in SQL by the app): ``response_rate``,
``remission_rate``, ``relapse_rate`` (Wilson 95% intervals), and ``kaplan_meier`` /
``kaplan_meier_from_counts`` for time to relapse (Greenwood 95% intervals).
"""

from __future__ import annotations

from kapclinic.clinical.instruments import percent_reduction

from .errors import OutcomeError, OutcomeRulesError, OutcomeSettingError, SeriesError
from .rates import Proportion, proportion, relapse_rate, remission_rate, response_rate, wilson_interval
from .rules import (
    OutcomeRules,
    OutcomeSettings,
    RelapseRule,
    SettingSpec,
    StableRemissionRule,
    clinic_relapse_rule,
    load_rules,
    outcome_instruments,
    relapse_rule_instruments,
    response_rule_instruments,
)
from .series import ClinicalEvent, ScorePoint, ScoreSeries, calendar_days_between, days_between
from .survival import KaplanMeier, kaplan_meier, kaplan_meier_from_counts
from .trajectory import (
    Baseline,
    Fading,
    OutcomeSummary,
    Relapse,
    StableRemission,
    baseline,
    find_relapse,
    first_remission,
    first_response,
    reduction_points,
    relief_fading,
    stable_remission,
    summarise,
    time_to_first_response_days,
)

__all__ = [
    "Baseline", "ClinicalEvent", "Fading", "KaplanMeier", "OutcomeError", "OutcomeRules",
    "OutcomeRulesError", "OutcomeSettingError", "OutcomeSettings", "OutcomeSummary", "Proportion",
    "Relapse", "RelapseRule", "ScorePoint", "ScoreSeries", "SeriesError", "SettingSpec",
    "StableRemission", "StableRemissionRule", "baseline", "calendar_days_between",
    "clinic_relapse_rule", "days_between", "find_relapse", "first_remission", "first_response",
    "kaplan_meier", "kaplan_meier_from_counts", "load_rules", "outcome_instruments",
    "percent_reduction", "proportion", "relapse_rule_instruments", "response_rule_instruments",
    "reduction_points", "relapse_rate", "relief_fading", "remission_rate", "response_rate",
    "stable_remission", "summarise", "time_to_first_response_days", "wilson_interval",
]
