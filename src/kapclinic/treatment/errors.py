"""Why a treatment action refused: each names the field (422) or the unmet guards (409)."""

from __future__ import annotations

from kapclinic.clinical.sessions import UnmetGuard


class FieldError(ValueError):
    """An input is impossible (a time in the future, SBP 400, a dose of zero); names the field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StepRefused(Exception):
    """The session cannot take this step now: every unmet guard, each in plain words."""

    def __init__(self, unmet: list[UnmetGuard]):
        super().__init__(" ".join(u.message for u in unmet))
        self.unmet = unmet


class SessionConflict(Exception):
    """Someone else moved the session on first (a double click, a second station): nothing
    was applied."""

    def __init__(self, state: str, version: int):
        super().__init__(f"The session was changed by someone else (it is now {state.replace('_', ' ')}, "
                         f"version {version}); nothing was applied: reload it and try again.")
        self.state = state
        self.version = version


class ConfirmationRefused(FieldError):
    """The second clinician could not be confirmed (wrong password or code, not allowed)."""
