"""The shape and types of a REMS form edition (``forms/*.json``).

Each field names the ``fact`` of ``RemsFacts`` it is filled from; its ``kind`` says how the
value is written on the form. Numbers are protocol-style ``Param``s (value, unit, evidence,
source, what a clinician reads), a ``policy`` one with its clinic ``setting``.
"""

from __future__ import annotations

from typing import Literal

from kapclinic.clinical.definitions import NonEmpty, Strict, Text
from kapclinic.clinical.protocols.file_model import Evidence, Name, Param

Kind = Literal["text", "date", "yes_no", "minutes", "bp", "dose"]


class FieldSpec(Strict):
    id: Name
    label: Text
    kind: Kind
    fact: Name
    optional: bool = False
    choices_mg: list[float] | None = None  # a dose field's boxes (others: "Other: N mg")


class SectionSpec(Strict):
    id: Name
    label: Text
    fields: NonEmpty[FieldSpec]


class Method(Strict):
    id: Name
    label: Text


class FormFile(Strict):
    schema_version: Literal[1]
    id: Name
    version: Text
    title: Text
    edition: Text
    evidence: Evidence
    citation: Text
    note: Text
    submit_within_days: Param
    remind_after_days: Param
    bp_after_dose_minutes: Param
    minimum_duration_minutes: Param
    submission_methods: NonEmpty[Method]
    methods_source: Text
    sections: NonEmpty[SectionSpec]
