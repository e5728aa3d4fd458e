"""The shape and types of the screening data files: one rule file (``rules/*.json``) and
the rule-set manifest (``data/ruleset.json``, version and clinic thresholds).

Shape and types only; ``definitions.py`` then checks what needs the rest of the data
(known intake fields, medication considerations, ICD-10-CM codes, cited sections). A rule's
``when`` is an object in the condition language that ``definitions._condition`` reads.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from kapclinic.clinical.definitions import NonEmpty, Strict, Text, pattern_words

Drug = Literal["ketamine", "esketamine"]
Route = Literal["iv-infusion", "im", "intranasal", "sublingual", "oral"]
Evidence = Literal["verified", "unverified", "policy"]
RuleId = Annotated[str, pattern_words(r"^[a-z][a-z0-9_]*$", "must be lower_snake_case")]


def _routes_kind(value: Any) -> str:
    return "·all" if isinstance(value, str) else "·list"


class Citation(Strict):
    document: Literal["clinical.md", "sessions.md"] = "clinical.md"
    section: Text
    row: Text
    source: Text


class RuleFile(Strict):
    """One eligibility rule."""

    schema_version: Literal[1]
    id: RuleId
    tests: Text
    severity: Literal["exclude", "review", "caution"]
    locked: bool
    drugs: NonEmpty[Drug]
    routes: Annotated[
        Annotated[Literal["all"], Tag("·all")] | Annotated[NonEmpty[Route], Tag("·list")],
        Discriminator(_routes_kind)]
    inputs: NonEmpty[Text]
    when: dict[str, Any]
    message: Text
    action: Text
    citations: Annotated[list[Citation], Field(min_length=1)]
    evidence: Evidence
    evidence_note: Text | None = None


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
