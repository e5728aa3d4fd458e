"""Why a ledger action refused: each names the field it is about."""

from __future__ import annotations


class FieldError(ValueError):
    """An input is impossible or not allowed now (more than the vial holds, a lot of another
    product); names the field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotEnoughStock(FieldError):
    """The draw would take the balance below zero (someone else drew first, or it is wrong)."""


class WitnessRefused(FieldError):
    """The witness could not be confirmed (wrong password or code, same person, not allowed)."""
