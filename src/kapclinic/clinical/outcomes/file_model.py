"""The shape and types of ``outcomes.json``; ``rules.py`` checks the rest (spacing in
order, tolerated weeks among the weeks, defaults within their settings)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from kapclinic.clinical.definitions import NonEmpty, Strict, Text
from kapclinic.clinical.instruments.file_model import Evidence  # one set of tags


def _default_kind(value: Any) -> str:
    return "·text" if isinstance(value, str) else "·number"


class SettingFile(Strict):
    """A clinic setting: allowed values (text) or a numeric min-max, with a labelled default."""

    label: Text
    default: Annotated[Annotated[Text, Tag("·text")] | Annotated[float, Tag("·number")],
                       Discriminator(_default_kind)]
    allowed: NonEmpty[Text] | None = None
    min: float | None = None
    max: float | None = None
    evidence: Evidence
    source: Text


class Score(Strict):
    op: Literal[">=", ">"]
    value: float
    consecutive: Annotated[int, Field(ge=1)]
    spacing_days: list[int]  # [min, max] days between adjacent assessments


class RelapseFile(Strict):
    id: Text
    version: Text
    label: Text
    score: Score
    events: list[Text] = []  # clinical event kinds that are a relapse on their own
    event_date: Text
    evidence: Evidence
    source: Text


class StableRemissionFile(Strict):
    id: Text
    version: Text
    label: Text
    op: Literal["<=", "<"]
    value: float
    weeks: NonEmpty[int]
    tolerated_weeks: list[int]
    max_tolerated: int
    evidence: Evidence
    source: Text
    weeks_note: Text | None = None


class OutcomesFile(Strict):
    schema_version: Literal[1]
    id: Text
    version: Text
    reference: Text
    settings: dict[str, SettingFile]
    relapse_rules: dict[str, RelapseFile]
    stable_remission: dict[str, StableRemissionFile] = {}
