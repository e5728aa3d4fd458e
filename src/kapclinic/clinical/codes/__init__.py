"""Coded concepts (diagnoses) loaded from data files that name their source."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).parent

# Groups whose codes describe depression: only these can be marked treatment-resistant.
DEPRESSION_GROUPS = frozenset({"depression", "depression_recurrent"})


@dataclass(frozen=True)
class Diagnosis:
    code: str
    display: str
    group: str
    group_label: str
    verified: bool
    system: str

    @property
    def is_depression(self) -> bool:
        return self.group in DEPRESSION_GROUPS


@dataclass(frozen=True)
class DiagnosisTable:
    version: str
    citation: str
    note: str
    by_code: dict[str, Diagnosis]

    def get(self, code: str) -> Diagnosis | None:
        return self.by_code.get(code.strip().upper())

    def choices(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Grouped (group label, [(code, 'code display')]) pairs for a select box."""
        groups: dict[str, list[tuple[str, str]]] = {}
        for diagnosis in self.by_code.values():
            groups.setdefault(diagnosis.group_label, []).append(
                (diagnosis.code, f"{diagnosis.code} {diagnosis.display}")
            )
        return list(groups.items())


@cache
def diagnoses() -> DiagnosisTable:
    raw = json.loads((DATA_DIR / "diagnoses.json").read_text())
    by_code: dict[str, Diagnosis] = {}
    for group in raw["groups"]:
        for entry in group["codes"]:
            by_code[entry["code"]] = Diagnosis(
                code=entry["code"], display=entry["display"], group=group["id"],
                group_label=group["label"], verified=entry["status"] == "verified",
                system=raw["system"],
            )
    return DiagnosisTable(raw["version"], raw["citation"], raw["note"], by_code)
