"""Match medication names to the classes of clinical.md 3.6 (case-insensitively)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .definitions import MedicationEntry, MedicationTable, normalise_name

# A trailing strength such as "50 mg", "0.5mg", "25 mcg" or "10 mg/ml daily" is ignored.
_STRENGTH = re.compile(r"\s+\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|ug|g|ml|%)\b.*$")


@dataclass(frozen=True)
class MedicationMatch:
    written: str
    entry: MedicationEntry | None

    def describe(self) -> str:
        if self.entry is None:
            return f"{self.written} (not recognised)"
        e = self.entry
        atc = f", {e.atc}" if e.atc else ""
        generic = "" if normalise_name(self.written) == normalise_name(e.generic) else f" = {e.generic}"
        return f"{self.written}{generic} ({e.class_label}{atc})"


def match_medication(name: str, table: MedicationTable) -> MedicationMatch:
    """The class entry for ``name`` (generic or added alias), or an unrecognised match."""
    key = normalise_name(name)
    entry = table.by_name.get(key) or table.by_name.get(_STRENGTH.sub("", key))
    return MedicationMatch(name, entry)
