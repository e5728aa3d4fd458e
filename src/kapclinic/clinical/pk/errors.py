"""Errors raised by the PK core. All are ValueError subclasses so callers can map them to 400/exit 2."""

from __future__ import annotations


class PKInputError(ValueError):
    """A simulation input is wrong (unknown model/route, dose, weight, duration out of range).

    ``field`` names the offending input so an API can attach the message to it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class UnknownModelError(PKInputError):
    """The model id is not one of the shipped model definitions."""


class UnknownRouteError(PKInputError):
    """The route is not known, or the chosen model does not support it."""


class ModelDefinitionError(ValueError):
    """A model definition file is malformed; the message names the file and the field."""

    def __init__(self, filename: str, field: str, problem: str) -> None:
        super().__init__(f"{filename}: field '{field}': {problem}")
        self.filename = filename
        self.field = field
