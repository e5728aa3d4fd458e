"""Errors of the protocols core. All are ValueError subclasses (API 422 / CLI exit 2)."""

from __future__ import annotations


class ProtocolError(ValueError):
    """Base class: an input to the protocols core is unusable; the message says why."""


class ProtocolFileError(ProtocolError):
    """A protocol file is malformed; the message names the file and the field."""

    def __init__(self, filename: str, field: str, problem: str) -> None:
        super().__init__(f"{filename}: field '{field}': {problem}")
        self.filename = filename
        self.field = field
        self.problem = problem


class UnknownProtocolError(ProtocolError):
    """The protocol id is not one of the loaded protocols."""

    def __init__(self, protocol_id: str, known: list[str]) -> None:
        super().__init__(f"protocol: unknown protocol '{protocol_id}'; known: {', '.join(known)}")
        self.field = "protocol"


class ProtocolSettingError(ProtocolError):
    """A clinic's choice for a protocol setting is unknown or out of its range."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"protocol setting '{setting}': {problem}")
        self.field = setting


class DoseInputError(ProtocolError):
    """A dose calculation input is impossible (negative weight, NaN, both dose forms...)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
