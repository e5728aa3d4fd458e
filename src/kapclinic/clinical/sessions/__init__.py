"""The dosing session's workflow: a pure state machine (``transitions``)."""

from .transitions import (
    GUARDS,
    STATE_WORDS,
    TRANSITIONS,
    SessionFacts,
    State,
    UnmetGuard,
    allowed_next,
    check_transition,
    facts_for,
)

__all__ = ["GUARDS", "STATE_WORDS", "TRANSITIONS", "SessionFacts", "State", "UnmetGuard",
           "allowed_next", "check_transition", "facts_for"]
