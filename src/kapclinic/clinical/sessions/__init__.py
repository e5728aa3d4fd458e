"""The dosing session's workflow: a pure state machine (``transitions``)."""

from .transitions import (
    DISCHARGE_SCORE_RANGE,
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

__all__ = ["DISCHARGE_SCORE_RANGE", "GUARDS", "STATE_WORDS", "TRANSITIONS", "SessionFacts",
           "State", "UnmetGuard", "allowed_next", "check_transition", "facts_for"]
