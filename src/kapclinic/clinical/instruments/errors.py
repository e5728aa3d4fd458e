"""Errors raised by the instruments core. All are ValueError subclasses (API 400 / CLI exit 2)."""

from __future__ import annotations

# What a message quotes of a name it did not recognise: a caller may send anything (a key of
# 100,000 characters), and a refusal that echoes it in full is that size again.
SHOWN_CHARS = 40


def shown(name: str) -> str:
    """``name`` as a message quotes it: cut at SHOWN_CHARS characters, with an ellipsis."""
    return name if len(name) <= SHOWN_CHARS else name[:SHOWN_CHARS] + "…"


class DefinitionError(ValueError):
    """An instrument definition is malformed; the message names the file and the field."""

    def __init__(self, filename: str, field: str, problem: str) -> None:
        super().__init__(f"{filename}: field '{field}': {problem}")
        self.filename = filename
        self.field = field
        self.problem = problem


class UnknownInstrumentError(ValueError):
    """The instrument id is not one of the loaded definitions."""

    def __init__(self, instrument_id: str, known: list[str]) -> None:
        instrument_id = shown(instrument_id)
        super().__init__(f"unknown instrument '{instrument_id}'; known: {', '.join(known)}")
        self.instrument_id = instrument_id


class AnswerError(ValueError):
    """An answer is unusable. ``item`` names the offending item (linkId)."""

    def __init__(self, instrument_id: str, item: str, problem: str) -> None:
        item = shown(item)
        super().__init__(f"{instrument_id} item {item}: {problem}")
        self.instrument_id = instrument_id
        self.item = item
        self.problem = problem


class UnknownItemError(AnswerError):
    """An answer names an item the instrument does not have."""


class AnswerTypeError(AnswerError):
    """An answer is not a whole number (or None for missing)."""


class AnswerRangeError(AnswerError):
    """An answer is a whole number but not one of the item's answer values."""


class NotAskedError(AnswerError):
    """An answer to an item the instrument's skip rules say is not asked (e.g. C-SSRS
    question 5 answered although question 2 is No): the form is inconsistent and is refused,
    never scored; ``problem`` says in words which answer to correct."""


class SettingError(ValueError):
    """A clinic setting passed to scoring is unknown or not one of its allowed values."""

    def __init__(self, instrument_id: str, setting: str, problem: str) -> None:
        super().__init__(f"{instrument_id} setting '{setting}': {problem}")
        self.instrument_id = instrument_id
        self.setting = setting


class FhirImportError(ValueError):
    """A FHIR Questionnaire cannot be imported as a sum-scored instrument; names the item."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"FHIR Questionnaire {where}: {problem}")
        self.where = where
