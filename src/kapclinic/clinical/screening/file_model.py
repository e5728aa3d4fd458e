"""The shape and types of the screening data files: one rule file (``rules/*.json``), the
rule-set manifest (``data/ruleset.json``, version and clinic thresholds), the medication
table (``data/medications.json``), the ingredient names a hypersensitivity is read
against (``data/ingredients.json``) and the data-entry limits (``data/plausibility.json``).

Shape and types only; ``definitions.py`` then checks what needs the rest of the data
(known intake fields, medication considerations, ICD-10-CM codes, cited sections, names
listed once). A rule's ``when`` is typed here as the condition language
``definitions._condition`` reads.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag

from kapclinic.clinical.definitions import NonEmpty, Strict, Text, pattern_words

Drug = Literal["ketamine", "esketamine"]
Route = Literal["iv-infusion", "im", "intranasal", "sublingual", "oral"]
Severity = Literal["exclude", "review", "caution"]
Evidence = Literal["verified", "unverified", "policy"]
Op = Literal[">", ">=", "<", "<="]
Document = Literal["clinical.md", "sessions.md"]
RuleId = Annotated[str, pattern_words(r"^[a-z][a-z0-9_]*$", "must be lower_snake_case")]


def _routes_kind(value: Any) -> str:
    return "·all" if isinstance(value, str) else "·list"


# ---- the condition language -----------------------------------------------------------------

class IsTrue(Strict):
    is_true: Text


class IsFalse(Strict):
    is_false: Text


class Compare(Strict):
    """An intake number compared with a fact (``value``) or a clinic threshold (``setting``)."""

    compare: Text
    op: Op
    value: float | None = None
    setting: Text | None = None


# An any/all of one condition is a mistake, not a condition: each lists two or more.
class AnyOf(Strict):
    any: Annotated[list[Condition], Field(min_length=2)]


class AllOf(Strict):
    all: Annotated[list[Condition], Field(min_length=2)]


class MedicationConsideration(Strict):
    medication_consideration: Text


class MedicationConsiderationAbsent(Strict):
    medication_consideration_absent: Text


class MedicationUnrecognised(Strict):
    medication_unrecognised: Literal[True]


class HypersensitivityAnyOf(Strict):
    hypersensitivity_any_of: NonEmpty[Text]


class HypersensitivityUnclear(Strict):
    hypersensitivity_unclear_any_of: NonEmpty[Text]


class HypersensitivityOtherThan(Strict):
    hypersensitivity_other_than: NonEmpty[Text]


class DiagnosisAnyOf(Strict):
    diagnosis_any_of: NonEmpty[Text]


class DiagnosisGroupAnyOf(Strict):
    diagnosis_group_any_of: NonEmpty[Text]


class DiagnosisGroupNoneOf(Strict):
    diagnosis_group_none_of: NonEmpty[Text]


_CONDITIONS: dict[str, type[Strict]] = {
    "is_true": IsTrue, "is_false": IsFalse, "compare": Compare, "any": AnyOf, "all": AllOf,
    "medication_consideration": MedicationConsideration,
    "medication_consideration_absent": MedicationConsiderationAbsent,
    "medication_unrecognised": MedicationUnrecognised,
    "hypersensitivity_any_of": HypersensitivityAnyOf,
    "hypersensitivity_unclear_any_of": HypersensitivityUnclear,
    "hypersensitivity_other_than": HypersensitivityOtherThan,
    "diagnosis_any_of": DiagnosisAnyOf, "diagnosis_group_any_of": DiagnosisGroupAnyOf,
    "diagnosis_group_none_of": DiagnosisGroupNoneOf,
}
CONDITION_KINDS = tuple(_CONDITIONS)


def _condition_kind(value: Any) -> str | None:
    """The tag of the one condition key an object has; None (refused) for none or two."""
    if not isinstance(value, dict):
        return "·is_true"  # refused as "must be an object"
    kinds = [k for k in CONDITION_KINDS if k in value]
    return f"·{kinds[0]}" if len(kinds) == 1 else None


Condition = Annotated[
    Union[  # noqa: UP007 -- the members are forward references
        Annotated[IsTrue, Tag("·is_true")], Annotated[IsFalse, Tag("·is_false")],
        Annotated[Compare, Tag("·compare")], Annotated[AnyOf, Tag("·any")],
        Annotated[AllOf, Tag("·all")],
        Annotated[MedicationConsideration, Tag("·medication_consideration")],
        Annotated[MedicationConsiderationAbsent, Tag("·medication_consideration_absent")],
        Annotated[MedicationUnrecognised, Tag("·medication_unrecognised")],
        Annotated[HypersensitivityAnyOf, Tag("·hypersensitivity_any_of")],
        Annotated[HypersensitivityUnclear, Tag("·hypersensitivity_unclear_any_of")],
        Annotated[HypersensitivityOtherThan, Tag("·hypersensitivity_other_than")],
        Annotated[DiagnosisAnyOf, Tag("·diagnosis_any_of")],
        Annotated[DiagnosisGroupAnyOf, Tag("·diagnosis_group_any_of")],
        Annotated[DiagnosisGroupNoneOf, Tag("·diagnosis_group_none_of")],
    ],
    Discriminator(_condition_kind, custom_error_type="condition_kind",
                  custom_error_message=f"must have exactly one of {', '.join(CONDITION_KINDS)}"),
]
AnyOf.model_rebuild()
AllOf.model_rebuild()


# ---- a rule -----------------------------------------------------------------------------------

class Citation(Strict):
    document: Document = "clinical.md"
    section: Text
    row: Text
    source: Text


class RuleFile(Strict):
    """One eligibility rule."""

    schema_version: Literal[1]
    id: RuleId
    tests: Text
    severity: Severity
    locked: bool
    drugs: NonEmpty[Drug]
    routes: Annotated[
        Annotated[Literal["all"], Tag("·all")] | Annotated[NonEmpty[Route], Tag("·list")],
        Discriminator(_routes_kind)]
    inputs: NonEmpty[Text]
    when: Condition
    message: Text
    action: Text
    citations: Annotated[list[Citation], Field(min_length=1)]
    evidence: Evidence
    evidence_note: Text | None = None


# ---- the rule set's manifest ------------------------------------------------------------------

class Threshold(Strict):
    """A clinic threshold with a labelled default and engineering bounds."""

    default: float
    unit: Text
    integer: bool
    min: float
    max: float
    label: Text
    default_source: Text
    bounds_source: Text


class Manifest(Strict):
    """``data/ruleset.json``: the rule set's version, title and clinic thresholds."""

    schema_version: Literal[1]
    id: Text
    version: Text
    title: Text
    citation: Text
    note: Text | None = None
    settings: dict[str, Threshold]


# ---- the medication table ---------------------------------------------------------------------

class Medication(Strict):
    """A generic named in clinical.md 3.6, its ATC code ("" when none) and the brand
    names added so that what patients write is recognised."""

    name: Text
    atc: str
    added_aliases: list[Text]


class MedicationClass(Strict):
    id: Text
    label: Text
    atc_group: str  # "" for a class that is not one ATC group (CYP inducers)
    considerations: list[Text]
    members: NonEmpty[Medication]


class MedicationsFile(Strict):
    """``data/medications.json``: medication classes and what each one means for screening."""

    schema_version: Literal[1]
    id: Text | None = None
    citation: Text
    atc_evidence: Evidence | None = None
    atc_note: Text | None = None
    alias_note: Text | None = None
    considerations: dict[str, Text]
    classes: NonEmpty[MedicationClass]


# ---- ingredient names -------------------------------------------------------------------------

class IngredientName(Strict):
    """One name of an ingredient: from the reference (``source``) or ``added`` (why)."""

    name: Text
    source: Text | None = None
    added: Text | None = None


class IngredientEntry(Strict):
    id: RuleId
    label: Text
    names: NonEmpty[IngredientName]


class IngredientsFile(Strict):
    """``data/ingredients.json``: the names a recorded hypersensitivity is read against."""

    schema_version: Literal[1]
    citation: Text
    note: Text | None = None
    ingredients: NonEmpty[IngredientEntry]


# ---- data-entry limits ------------------------------------------------------------------------

class PlausibilityField(Strict):
    unit: Text
    reject_below: float
    reject_above: float
    warn_below: float | None = None
    warn_above: float | None = None
    source: Text | None = None


class PlausibilityFile(Strict):
    """``data/plausibility.json``: limits outside which an entry is refused or questioned."""

    schema_version: Literal[1]
    id: Text | None = None
    citation: Text
    evidence: Evidence | None = None
    fields: dict[str, PlausibilityField]
