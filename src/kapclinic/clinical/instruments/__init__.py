"""Validated clinical instruments as data files, with pure scoring.

No Django and no I/O beyond the definition files in ``definitions/`` (and a clinic's own
directory passed to ``load_definitions``). Every item, code, cut-off and rule comes from
shared/reference/clinical.md sections 1, 2 and 6.3 with its evidence tag; choices the
reference leaves to the clinic are settings with labelled defaults.

Public API: ``score``, ``ScoreResult``, ``load_definitions``, ``list_instruments``,
``get_instrument``, ``change_outcome``, ``clinic_change_rule``, ``is_response``, ``remission``,
``round_total``,
``to_fhir_questionnaire``, ``import_fhir_questionnaire`` and the errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .definitions import InstrumentDefinition, load_all, load_definition, load_definitions, resolve
from .errors import (
    AnswerError,
    AnswerRangeError,
    AnswerTypeError,
    DefinitionError,
    FhirImportError,
    NotAskedError,
    SettingError,
    UnknownInstrumentError,
    UnknownItemError,
)
from .fhir import FhirImport, import_fhir_questionnaire, to_fhir_questionnaire
from .response import (
    RuleOutcome,
    change_outcome,
    change_rule,
    clinic_change_rule,
    is_response,
    percent_reduction,
    remission,
)
from .scoring import (
    MissingHandling,
    ScoreResult,
    chosen_rounding,
    not_asked_answers,
    round_total,
    score,
    score_definition,
)


def get_instrument(instrument_id: str,
                   definitions: Mapping[str, InstrumentDefinition] | None = None
                   ) -> InstrumentDefinition:
    """One definition by id (default: the shipped set)."""
    return resolve(instrument_id, definitions)


def list_instruments(definitions: Mapping[str, InstrumentDefinition] | None = None
                     ) -> list[dict[str, Any]]:
    """Summary rows (id, name, items, range, licence, text flag...) sorted by id."""
    pool = load_all() if definitions is None else definitions
    return [pool[k].summary() for k in sorted(pool)]


__all__ = [
    "AnswerError", "AnswerRangeError", "AnswerTypeError", "DefinitionError", "FhirImport",
    "FhirImportError", "InstrumentDefinition", "MissingHandling", "NotAskedError", "RuleOutcome",
    "ScoreResult",
    "SettingError", "UnknownInstrumentError", "UnknownItemError", "change_outcome",
    "change_rule", "chosen_rounding", "clinic_change_rule", "round_total",
    "get_instrument", "import_fhir_questionnaire", "is_response", "list_instruments",
    "load_definition", "load_definitions", "not_asked_answers", "percent_reduction", "remission", "score",
    "score_definition", "to_fhir_questionnaire",
]
