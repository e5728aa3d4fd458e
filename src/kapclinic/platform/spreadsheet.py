"""CSV cells a spreadsheet opens as text, never as a formula (CSV injection): a cell starting
with = + - @ (or a tab, a return) gets an apostrophe in front, unless it is a plain signed
number ("-35"), which stays a number. Every CSV export uses these."""

from __future__ import annotations

import re
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?")
# any cell of a row (each after a NUL, which no stored text holds: PostgreSQL refuses it and
# Django's forms too) that safe_cell would change: one C-level search per row, so the
# cell-by-cell pass runs only for the rare row that needs it
NEEDS_QUOTE = re.compile(r"\x00(?:[=+@\t\r]|-(?!\d+(?:\.\d+)?(?:\x00|$)))")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def safe_row(row: Iterable[object]) -> Iterable[object]:
    """The row with each cell as ``safe_cell`` makes it (the row itself when none changes)."""
    cells = ["" if c is None else str(c) for c in row]
    if NEEDS_QUOTE.search("\x00" + "\x00".join(cells)):
        return [safe_cell(c) for c in cells]
    return cells
