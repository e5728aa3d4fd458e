"""The shape and types of a protocol file (``data/*.json``, or a clinic's own folder).

Every number in a protocol is a ``Param``: the value, its unit, its evidence tag, where it
comes from (``source``, for a reviewer: the reference file, section and row) and what a
clinician is told about it (``says``). A number the reference does not give (evidence
``policy``), or gives only unverified, carries a ``setting``: the clinic may choose another
value within the setting's bounds; the file's value is the labelled default. What needs the
whole file (range below the cap, a weight-based protocol asking for today's weight, the
monitoring rules it names existing) is checked by ``definitions.parse_protocol``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from kapclinic.clinical.definitions import NonEmpty, Setting, Strict, Text, pattern_words
from kapclinic.clinical.screening.file_model import Drug, Route  # one vocabulary with eligibility

Evidence = Literal["verified", "secondary", "derived", "unverified", "policy"]
Document = Literal["clinical.md", "sessions.md"]
DoseUnit = Literal["mg_per_kg", "mg"]
Name = Annotated[str, pattern_words(r"^[a-z][a-z0-9_]{0,63}$",
                                    "must be lower-case letters, digits and _ (starting with a letter)")]
# What the pre-dose checklist may ask for (consent and eligibility are always required).
ChecklistItem = Literal["fasting", "ride_home", "pregnancy_test", "weight_today", "predose_vitals",
                        "predose_measures", "intention_note", "nasal_steroid_decongestant_timing"]
Effect = Literal["sedation", "dissociation", "respiratory_depression"]


def _kind(value: Any) -> str:
    return "·text" if isinstance(value, str) else "·number"


# A number, or a word for a choice such as the discharge criteria (refused at the field itself).
Value = Annotated[Annotated[Text, Tag("·text")] | Annotated[float, Tag("·number")], Discriminator(_kind)]


class SettingSpec(Strict):
    """Makes a ``Param`` a clinic setting: its name, what it means, and what may be chosen."""

    name: Name
    label: Text
    min: float | None = None
    max: float | None = None
    allowed: NonEmpty[Text] | None = None
    integer: bool = False
    bounds_source: Text


class Param(Strict):
    value: Value
    unit: Text | None = None
    evidence: Evidence
    source: Text
    says: Text
    setting: SettingSpec | None = None

    def as_setting(self) -> Setting[float | str]:
        """This number as the shared ``Setting`` (its value the labelled default)."""
        spec = self.setting
        assert spec is not None, "only a Param with a setting is one"
        return Setting(spec.name, spec.label, self.value,
                       tuple(spec.allowed) if spec.allowed is not None else None,
                       spec.min, spec.max, self.unit or "", spec.integer, self.evidence, self.source)


class Citation(Strict):
    document: Document
    section: Text
    row: Text
    evidence: Evidence


class AgeDoses(Strict):
    range_min: Param   # the lowest dose at these ages
    first_dose: Param  # the patient's first dose of the drug (the label's day 1)


class AgeRule(Strict):
    """A label's doses by age (Spravato: under 65, 56 mg on day 1 and at the lowest; from
    65, 28 mg). Without the patient's age the doses under ``from_age`` apply."""

    from_age: Param
    under: AgeDoses
    from_age_on: AgeDoses


class Dose(Strict):
    standard: Param | None = None
    range_min: Param
    range_max: Param
    cap: Param
    titration_step: Param | None = None
    whole_multiple_of: Param | None = None  # esketamine: whole 28 mg devices
    age_rule: AgeRule | None = None


class Phase(Strict):
    name: Text
    from_week: Annotated[int, Field(ge=1)]
    to_week: Annotated[int, Field(ge=1)] | None = None
    sessions_per_week: Param
    sessions: Param | None = None
    doses: Text
    source: Text


class Observation(Strict):
    minimum_minutes: Param
    counted_from: Param  # "dose_start" (first device / start of infusion) or "dose_end"
    until_resolved: list[Effect] = []
    clinician_judgement: bool
    source: Text


class Monitoring(Strict):
    interval_during_minutes: Param
    interval_after_minutes: Param
    marks_minutes: list[Param] = []
    rules: NonEmpty[Name]


class Fasting(Strict):
    food_hours: Param
    liquids_minutes: Param


class Discharge(Strict):
    criteria: Param  # "modified_aldrete" | "padss" | "clinician_judgement"
    score_at_least: Param


class Spacing(Strict):
    min_days_between_sessions: Param
    max_sessions_per_week: Param


class Preset(Strict):
    """A named set of setting values from the reference (e.g. a practice's own rules)."""

    label: Text
    source: Text
    values: dict[Name, Value]


class ProtocolFile(Strict):
    schema_version: Literal[1]
    id: Name
    version: Text
    label: Text
    drug: Drug
    route: Route
    dose_unit: DoseUnit
    dose: Dose
    infusion_minutes: Param | None = None
    device_mg: Param | None = None
    device_rest_minutes: Param | None = None
    spacing: Spacing
    schedule: NonEmpty[Phase]
    observation: Observation
    monitoring: Monitoring
    checklist: NonEmpty[ChecklistItem]
    fasting: Fasting | None = None
    discharge: Discharge
    presets: dict[Name, Preset] = {}
    citations: NonEmpty[Citation]
    note: Text | None = None
