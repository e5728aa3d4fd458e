"""How adverse events are described and classed (``adverse_events.json``): the label's common
reactions as the default terms, severity and grade, the ICH E2A seriousness criteria, and the
clinic's lists for the action taken, the outcome and the prescriber's causality. Pure: no
Django."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FILE = Path(__file__).with_name("adverse_events.json")
# the lists a clinic may edit (the rest are definitions it does not change)
CLINIC_LISTS = ("terms", "action_taken", "outcome", "causality")
LIST_BOUNDS = (1, 80)      # engineering bounds: entries per list
ENTRY_MAX_CHARS = 80


@dataclass(frozen=True)
class Vocabulary:
    version: str
    terms: tuple[str, ...]
    severity: tuple[tuple[str, str], ...]
    grades: tuple[int, ...]
    seriousness: tuple[tuple[str, str], ...]
    action_taken: tuple[str, ...]
    outcome: tuple[str, ...]
    causality: tuple[str, ...]
    sources: dict[str, str]
    urgent_when_patient_reports: tuple[str, ...] = ()
    patient_words: tuple[tuple[str, str], ...] = ()
    fatal_outcomes: tuple[str, ...] = ()

    def with_lists(self, lists: dict[str, list[str]]) -> Vocabulary:
        """This vocabulary with a clinic's own lists in place of the defaults it replaced."""
        chosen = {name: tuple(lists[name]) for name in CLINIC_LISTS if lists.get(name)}
        return Vocabulary(**{**self.__dict__, **chosen})

    def seriousness_label(self, key: str) -> str:
        return dict(self.seriousness).get(key, key)

    def in_patient_words(self, term: str) -> str:
        return dict(self.patient_words).get(term, term)

    def grade_problem(self, grade: int | None, criteria: list[str]) -> str:
        """Why a grade and the seriousness criteria disagree ("" if they do not): grade 4 is
        life-threatening and grade 5 is death."""
        if grade == 5 and "death" not in criteria:
            return "grade 5 is death: tick Results in death, or choose the grade again"
        if grade == 4 and not criteria:
            return "grade 4 is life-threatening: tick the seriousness criterion that applies"
        return ""


@cache
def default_vocabulary() -> Vocabulary:
    data = json.loads(FILE.read_text(encoding="utf-8"))
    return Vocabulary(
        version=data["version"], terms=tuple(data["terms"]["values"]),
        severity=tuple(tuple(pair) for pair in data["severity"]["values"]),
        grades=tuple(data["severity"]["grades"]),
        seriousness=tuple(tuple(pair) for pair in data["seriousness"]["values"]),
        action_taken=tuple(data["action_taken"]["values"]), outcome=tuple(data["outcome"]["values"]),
        causality=tuple(data["causality"]["values"]),
        sources={name: data[name]["source"] for name in
                 ("terms", "severity", "seriousness", "action_taken", "outcome", "causality")},
        urgent_when_patient_reports=tuple(data["urgent_when_patient_reports"]["values"]),
        patient_words=tuple(data["patient_words"]["values"].items()),
        fatal_outcomes=tuple(data["fatal_outcomes"]["values"]))


def clean_list(name: str, entries: list[str]) -> list[str]:
    """A clinic's list as it may be stored: trimmed, no blanks or repeats, within the bounds.
    Raises ValueError naming what is wrong."""
    if name not in CLINIC_LISTS:
        raise ValueError(f"{name} is not a list a clinic edits")
    seen: dict[str, str] = {}
    for entry in entries:
        entry = " ".join(entry.split())
        if len(entry) > ENTRY_MAX_CHARS:
            raise ValueError(f"an entry is longer than {ENTRY_MAX_CHARS} characters: {entry[:30]}...")
        if entry and entry.casefold() not in seen:
            seen[entry.casefold()] = entry
    low, high = LIST_BOUNDS
    if not low <= len(seen) <= high:
        raise ValueError(f"give from {low} to {high} entries, one per line")
    return list(seen.values())


def is_serious(criteria: list[str]) -> bool:
    return bool(criteria)


__all__ = ["CLINIC_LISTS", "Vocabulary", "clean_list", "default_vocabulary", "is_serious"]
