"""Errors raised by the outcomes core. All are ValueError subclasses (API 400 / CLI exit 2)."""

from __future__ import annotations


class OutcomeError(ValueError):
    """Base class: an input to an outcomes function is unusable; the message says why."""


class OutcomeRulesError(OutcomeError):
    """The outcomes rules file is malformed; the message names the file and the field."""

    def __init__(self, filename: str, field: str, problem: str) -> None:
        super().__init__(f"{filename}: field '{field}': {problem}")
        self.filename = filename
        self.field = field


class OutcomeSettingError(OutcomeError):
    """A clinic outcome setting is unknown or not an allowed value; names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"outcome setting '{setting}': {problem}")
        self.setting = setting


class SeriesError(OutcomeError):
    """A score series or event is malformed (naive datetime, non-finite total...)."""
