"""Everything the treatment app contributes to the shared pages and processes (called from
TreatmentConfig.ready)."""

from __future__ import annotations


def register_all() -> None:
    pass
