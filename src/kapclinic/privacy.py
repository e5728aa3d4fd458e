"""What every stored field says about a person: one table the exports and scrubbers read.

Each kapclinic model declares ``FIELD_CLASSES = {field name: FieldClass}`` naming *every*
concrete field (tests/test_field_classification.py fails, naming model and field, for a field
with no class or a class naming no field). A model holding JSON documents whose keys are known
also declares ``JSON_KEY_CLASSES = {field name: {key: FieldClass}}``; the field itself keeps
the class of its worst key (free text) so a reader that does not look inside stays safe.

The classes follow HIPAA Safe Harbor (45 CFR 164.514(b)(2), /work/shared/reference/clinical.md
section 7). This module imports no feature app: accounts, patients, screening, measures, web,
audit and the exports all import it, never the reverse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any


class FieldClass(StrEnum):
    """What a field reveals about the person it concerns, strictest first."""

    # Safe Harbor identifiers: names (of the patient, relatives, signers), MRN, email, phone,
    # street address, usernames, IP/client addresses and what is derived from them. An
    # export drops them (or replaces them with a re-identification code, 164.514(c)).
    DIRECT_IDENTIFIER = "direct_identifier"
    # A date or time directly about the person (birth, signature, answer, contact, change).
    # Safe Harbor keeps the year only, and no element revealing an age over 89.
    DATE = "date"
    # Notes, reasons, narrative and generated messages: may name anyone or anything, so an
    # export leaves them out unless reviewed.
    FREE_TEXT = "free_text"
    # Not an identifier alone, identifying in combination: sex at birth, ZIP-like or
    # age-like values, the clinic a patient attends.
    QUASI_IDENTIFIER = "quasi_identifier"
    # A value from a fixed code list: ICD-10-CM codes, instrument ids, status and role choices.
    CODED = "coded"
    # Nothing about the person: internal ids, foreign keys, versions, hashes, flags, counts
    # and measured values (scores, vital signs) without their dates.
    NONE = "none"


# What IDENTIFYING_FIELDS used to mean: values a scrubber must remove or replace.
IDENTIFYING = frozenset({FieldClass.DIRECT_IDENTIFIER, FieldClass.FREE_TEXT})

# The app modules whose models must be classified.
KAPCLINIC_PACKAGE = "kapclinic."


def classify(**groups: Iterable[str]) -> dict[str, FieldClass]:
    """``FIELD_CLASSES`` from field names grouped by class: ``classify(date=("taken_at",), ...)``.

    A name in two groups is a mistake and raises ``ValueError`` when the model is imported.
    """
    table: dict[str, FieldClass] = {}
    for group, names in groups.items():
        cls = FieldClass(group)
        for name in names:
            if name in table:
                raise ValueError(f"{name!r} is classed both {table[name]} and {cls}")
            table[name] = cls
    return table


def is_kapclinic_model(model: Any) -> bool:
    return model.__module__.startswith(KAPCLINIC_PACKAGE)


def field_classes(model: Any) -> dict[str, FieldClass]:
    """The declared class of each field of ``model`` (empty if it declares none)."""
    return {name: FieldClass(cls) for name, cls in getattr(model, "FIELD_CLASSES", {}).items()}


def fields_of_class(model: Any, *classes: FieldClass) -> tuple[str, ...]:
    """The fields of ``model`` in any of ``classes``, in declaration order."""
    wanted = set(classes)
    return tuple(name for name, cls in field_classes(model).items() if cls in wanted)


def identifying_fields(model: Any) -> tuple[str, ...]:
    """Direct identifiers and free text: what the old ``IDENTIFYING_FIELDS`` tuples listed."""
    return fields_of_class(model, *IDENTIFYING)


def json_key_classes(model: Any, field: str) -> dict[str, FieldClass]:
    """The declared class of each key of the JSON document ``field`` of ``model``."""
    table: Mapping[str, Mapping[str, Any]] = getattr(model, "JSON_KEY_CLASSES", {})
    return {key: FieldClass(cls) for key, cls in table.get(field, {}).items()}


def classification_problems(models: Iterable[Any]) -> list[str]:
    """One sentence per concrete field without a class and per class naming no field."""
    problems: list[str] = []
    for model in models:
        label = model._meta.label
        declared = getattr(model, "FIELD_CLASSES", None)
        if declared is None:
            problems.append(f"{label} has no FIELD_CLASSES (see kapclinic/privacy.py)")
            continue
        concrete = [field.name for field in model._meta.concrete_fields]
        for name in concrete:
            if name not in declared:
                problems.append(f"{label}.{name} has no class in FIELD_CLASSES")
        for name, cls in declared.items():
            if name not in concrete:
                problems.append(f"{label}.FIELD_CLASSES names {name!r}, which is not a field")
            try:
                FieldClass(cls)
            except ValueError:
                problems.append(f"{label}.{name} has class {cls!r}, which is not a FieldClass")
        for name in getattr(model, "JSON_KEY_CLASSES", {}):
            if name not in concrete:
                problems.append(f"{label}.JSON_KEY_CLASSES names {name!r}, which is not a field")
    return problems
