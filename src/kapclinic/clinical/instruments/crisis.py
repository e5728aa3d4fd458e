"""Which alerts put crisis resources in front of the patient at once.

Issue 3 names them: a positive PHQ-9 item 9, a high-risk C-SSRS screener and a QIDS-SR16
suicide item at or above the clinic's threshold (the alert ids of those definitions). Every
other alert still reaches the care team, but only these change what the patient sees.
"""

from __future__ import annotations

from collections.abc import Iterable

CRISIS_FLAGS = frozenset({"suicidal_ideation", "suicide_risk_high"})


def is_crisis(flags: Iterable[str]) -> bool:
    """True when any of ``flags`` calls for crisis resources now."""
    return not CRISIS_FLAGS.isdisjoint(flags)
