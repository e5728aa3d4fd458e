"""How the clinical command lines report bad input: one line on stderr, exit status 2."""

from __future__ import annotations

from typing import TextIO

USAGE_ERROR = 2


def usage_error(exc: Exception, err: TextIO) -> int:
    """Print ``exc`` as one ``error: ...`` line and return the exit status for bad input."""
    print(f"error: {' '.join(str(exc).split())}", file=err)
    return USAGE_ERROR
