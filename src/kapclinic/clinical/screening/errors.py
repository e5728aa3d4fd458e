"""Errors raised by the screening core. All are ``ValueError`` subclasses naming a field,
so the app can attach the message to a form field and the CLI can exit 2 with one line."""

from __future__ import annotations


class ScreeningError(ValueError):
    """Base class: ``field`` names what is wrong (dotted for nested keys, e.g. ``history.mania``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class IntakeError(ScreeningError):
    """The intake is invalid: unknown key, wrong type or impossible value (clinical.md 4.4)."""


class SettingsError(ScreeningError):
    """The clinic settings passed to ``evaluate`` are invalid (unknown name, out of bounds)."""


class ScreeningInputError(ScreeningError):
    """``drug``, ``route`` or the evaluation date passed to ``evaluate`` is not valid."""


class RuleDefinitionError(ValueError):
    """A rule or data file is malformed; the message names the file and the field."""

    def __init__(self, filename: str, field: str, problem: str) -> None:
        super().__init__(f"{filename}: field '{field}': {problem}")
        self.filename = filename
        self.field = field
        self.problem = problem
