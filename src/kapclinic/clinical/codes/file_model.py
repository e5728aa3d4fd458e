"""The shape and types of ``diagnoses.json``; ``parse_table`` checks every code against the
ICD-10-CM code set and that no two groups claim the same codes."""

from __future__ import annotations

from kapclinic.clinical.definitions import NonEmpty, Strict, Text


class GroupFile(Strict):
    id: Text
    label: Text
    includes: NonEmpty[Text]
    excludes: list[Text] = []
    codes: list[Text] = []
    snomed: str = ""
    snomed_status: Text | None = None


class DiagnosesFile(Strict):
    id: Text
    version: Text
    system: Text
    citation: Text
    note: Text
    groups: NonEmpty[GroupFile]
