"""Who may move a patient's status by hand, and what must be true first.

Each status has an owner. Eligible and ineligible belong to the prescriber's screening
sign-off and are never set by the edit form or the API. Everything else may be set by hand
along the paths below; a move into treatment also needs every guard a feature app registers
(the screening app: a signed-off eligible decision that is still current, and a current
consent). The sign-off itself goes through ``actions.change_status``, the owner's path.
"""

from __future__ import annotations

from collections.abc import Callable

from kapclinic.patients.models import Patient, Status

# status now (None for a new record) -> statuses it may be moved to by hand
MANUAL_MOVES: dict[str | None, frozenset[str]] = {
    None: frozenset({Status.REFERRED, Status.SCREENING}),
    Status.REFERRED: frozenset({Status.SCREENING, Status.DISCHARGED}),
    Status.SCREENING: frozenset({Status.REFERRED, Status.DISCHARGED}),
    Status.ELIGIBLE: frozenset({Status.IN_TREATMENT, Status.SCREENING, Status.DISCHARGED}),
    Status.INELIGIBLE: frozenset({Status.REFERRED, Status.SCREENING, Status.DISCHARGED}),
    Status.IN_TREATMENT: frozenset({Status.MAINTENANCE, Status.DISCHARGED}),
    Status.MAINTENANCE: frozenset({Status.IN_TREATMENT, Status.DISCHARGED}),
    Status.DISCHARGED: frozenset({Status.REFERRED}),
}

# Set only by their owner, the prescriber's screening sign-off.
OWNED = frozenset({Status.ELIGIBLE, Status.INELIGIBLE})

# A guard returns why the patient may not enter a status now, or None.
Guard = Callable[[Patient], str | None]
_guards: dict[str, list[Guard]] = {}


def register_guard(status: str, guard: Guard) -> None:
    """Called from a feature app's ``AppConfig.ready()``; registering twice is harmless."""
    if guard not in _guards.setdefault(status, []):
        _guards[status].append(guard)


def refusal(patient: Patient | None, new_status: str) -> str | None:
    """Why ``patient`` (None: a new record) may not be moved to ``new_status`` by hand."""
    current = patient.status if patient is not None else None
    if new_status == current:
        return None
    if new_status in OWNED:
        return ("Eligible and ineligible are set by the prescriber's screening sign-off, not "
                "here: open the patient's screening page and sign off the eligibility decision.")
    allowed = MANUAL_MOVES.get(current, frozenset())
    if new_status not in allowed:
        now = Status(current).label.lower() if current else "a new record"
        choices = ", ".join(Status(s).label.lower() for s in sorted(allowed)) or "nothing"
        return (f"A patient cannot go from {now} to {Status(new_status).label.lower()} by hand. "
                f"From {now} the choices are: {choices}.")
    if patient is not None:
        for guard in _guards.get(new_status, []):
            reason = guard(patient)
            if reason:
                return reason
    return None
