"""Errors of the monitoring core. All are ValueError subclasses (API 422 / CLI exit 2)."""

from __future__ import annotations


class MonitoringError(ValueError):
    """Base class: an input to the monitoring core is unusable; the message says why."""


class RulesFileError(MonitoringError):
    """The monitoring rules file is malformed; names the file and the field."""

    def __init__(self, filename: str, field: str, problem: str) -> None:
        super().__init__(f"{filename}: field '{field}': {problem}")
        self.filename = filename
        self.field = field
        self.problem = problem


class ReadingError(MonitoringError):
    """A reading is impossible (a keying error such as SBP 400); names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class MonitoringSettingError(MonitoringError):
    """A clinic's choice for a monitoring setting is unknown or out of its range."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"monitoring setting '{setting}': {problem}")
        self.field = setting
