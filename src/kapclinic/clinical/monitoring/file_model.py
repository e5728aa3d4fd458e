"""The shape and types of ``rules.json``: monitoring rules as data.

A rule fires on a reading when any of its comparisons holds; each threshold is a ``Param``
(the protocols' numbers-with-a-source type), so a threshold the reference leaves open is a
clinic setting with a labelled default. ``rules.check`` does the checks between fields.
"""

from __future__ import annotations

from typing import Literal

from kapclinic.clinical.definitions import NonEmpty, Strict, Text
from kapclinic.clinical.protocols.file_model import Name, Param, Preset

Field = Literal["sbp_mmhg", "dbp_mmhg", "heart_rate_bpm", "spo2_pct", "resp_rate_per_min",
                "temp_c", "moaas"]
Op = Literal[">", ">=", "<", "<="]
Phase = Literal["pre_dose", "dosing", "after_dose"]
Severity = Literal["review", "hold", "caution", "urgent", "emergency"]
Action = Literal["hold_dose", "call_prescriber", "pause_infusion", "stop_dosing",
                 "continuous_observation", "emergency_response", "take_reading"]


class Compare(Strict):
    """``field op threshold``; with ``from_baseline`` the rise from the pre-dose baseline."""

    field: Field
    op: Op
    threshold: Param
    from_baseline: bool = False


class RuleFile(Strict):
    label: Text
    phases: NonEmpty[Phase]
    any: NonEmpty[Compare]
    severity: Severity
    actions: NonEmpty[Action]
    message: Text
    evidence_note: Text | None = None


class OverdueFile(Strict):
    """A reading (or a named mark such as ~40 min) not taken in time."""

    label: Text
    grace_minutes: Param
    severity: Severity
    actions: NonEmpty[Action]


class RulesFile(Strict):
    schema_version: Literal[1]
    id: Text
    version: Text
    reference: Text
    rules: dict[Name, RuleFile]
    overdue: OverdueFile
    presets: dict[Name, Preset] = {}
