"""Diagnosis codes: the whole ICD-10-CM code set, with the reference's groups on top.

The code set (every category and subcategory, with its description) comes from the
maintained ``simple-icd-10-cm`` package, which ships a CMS release (clinical.md 6.1: "load
codes from the CMS release file, not from this table"). ``diagnoses.json`` adds what the
clinic needs on top: groups of codes (depression, GAD, PTSD, ...) defined by code prefixes,
the codes the reference lists in each group (offered first when a diagnosis is typed) and
the groups' SNOMED CT concepts. A code outside every group is still a valid diagnosis: its
group is ``other`` and the screening rules treat it as such, never as a silent pass.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent

# Groups whose codes describe major depressive disorder: only these can be marked
# treatment-resistant (clinical.md 6.1: TRD has no code of its own).
DEPRESSION_GROUPS = frozenset({"depression", "depression_recurrent", "depression_in_remission"})
OTHER_GROUP = "other"
OTHER_LABEL = "Other diagnosis"
# A chapter F code in none of the groups: a psychiatric diagnosis no rule assesses by name.
OTHER_MENTAL_GROUP = "other_mental"
OTHER_MENTAL_LABEL = "Other mental or behavioural disorder"

# "F33.1", "f331", " F43.10 " -> "F33.1", "F33.1", "F43.10"; chapters and blocks are not codes.
_CODE_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")


@dataclass(frozen=True)
class Diagnosis:
    code: str
    display: str
    group: str
    group_label: str
    system: str
    billable: bool  # a leaf of the code tree; a heading such as F33 has codes below it

    def heading_message(self) -> str:
        examples = ", ".join(leaf_codes_under(self.code)[:3])
        return (f"{self.code} ({self.display}) is a heading, not a diagnosis code: "
                f"choose a code under it, e.g. {examples}")

    @property
    def is_depression(self) -> bool:
        return self.group in DEPRESSION_GROUPS


@dataclass(frozen=True)
class DiagnosisGroup:
    id: str
    label: str
    includes: tuple[str, ...]  # code prefixes: "F32.0" covers F32.0 and everything below it
    excludes: tuple[str, ...]
    listed: tuple[str, ...]  # the codes the reference lists for this group
    snomed: str
    snomed_unverified: bool = False  # the reference marks the SNOMED CT code unverified

    def covers(self, code: str) -> bool:
        return any(_under(code, p) for p in self.includes) and not any(_under(code, p) for p in self.excludes)


def _under(code: str, prefix: str) -> bool:
    """True when ``code`` is ``prefix`` or one of its descendants (F43.1 -> F43.10, not F43.2)."""
    return code == prefix or code.startswith(prefix if "." in prefix else prefix + ".")


@dataclass(frozen=True)
class DiagnosisTable:
    version: str
    code_set: str
    citation: str
    note: str
    system: str
    groups: tuple[DiagnosisGroup, ...]

    def get(self, code: str) -> Diagnosis | None:
        """The diagnosis for an ICD-10-CM category or subcategory code, any case, dot optional."""
        if not isinstance(code, str):
            return None
        key = code.strip().upper()
        if not _CODE_SHAPE.match(key):
            return None
        if "." not in key and len(key) > 3:
            key = f"{key[:3]}.{key[3:]}"
        found = _icd10cm().get(key)
        if found is None:
            return None
        display, leaf = found
        group = self.group_of(key)
        if group is not None:
            group_id, label = group.id, group.label
        elif key.startswith("F"):
            group_id, label = OTHER_MENTAL_GROUP, OTHER_MENTAL_LABEL
        else:
            group_id, label = OTHER_GROUP, OTHER_LABEL
        return Diagnosis(code=key, display=display, group=group_id, group_label=label,
                         system=self.system, billable=leaf)

    def group_of(self, code: str) -> DiagnosisGroup | None:
        return next((g for g in self.groups if g.covers(code)), None)

    @property
    def group_ids(self) -> tuple[str, ...]:
        return (*(g.id for g in self.groups), OTHER_MENTAL_GROUP, OTHER_GROUP)

    def listed(self) -> list[Diagnosis]:
        """The codes the reference lists, group by group (the demo and the diagnosis picker)."""
        out = []
        for group in self.groups:
            for code in group.listed:
                found = self.get(code)
                assert found is not None, code  # checked when the table is loaded
                out.append(found)
        return out

    def choices(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Grouped (group label, [(code, 'code description')]) for the diagnosis picker."""
        groups: dict[str, list[tuple[str, str]]] = {}
        for diagnosis in self.listed():
            groups.setdefault(diagnosis.group_label, []).append(
                (diagnosis.code, f"{diagnosis.code} {diagnosis.display}"))
        return list(groups.items())


class DiagnosisTableError(ValueError):
    """diagnoses.json is malformed: names the field."""


@cache
def _icd10cm() -> dict[str, tuple[str, bool]]:
    """Every ICD-10-CM category and subcategory: its description and whether it is a leaf."""
    with warnings.catch_warnings():
        # The package reads its data with a deprecated importlib call at import time.
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as icd
    return {code: (icd.get_description(code), icd.is_leaf(code)) for code in icd.get_all_codes(with_dots=True)
            if icd.is_category_or_subcategory(code)}


def leaf_codes_under(heading: str) -> list[str]:
    """The diagnosis codes below a heading (F33 -> F33.0, F33.1, ...), in code order."""
    return sorted(code for code, (_, leaf) in _icd10cm().items() if leaf and _under(code, heading)
                  and code != heading)


@cache  # the installed package does not change while the process runs
def code_set_release() -> str:
    """The release the package ships, e.g. 'ICD-10-CM April 2026 (simple-icd-10-cm 1.5.0)'."""
    return f"ICD-10-CM {_release_name()} (simple-icd-10-cm {version('simple-icd-10-cm')})"


def _release_name() -> str:
    import importlib.util

    spec = importlib.util.find_spec("simple_icd_10_cm")
    assert spec is not None and spec.submodule_search_locations
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    found = sorted(p.stem for p in data.glob("code-list-*.txt"))
    return found[0].removeprefix("code-list-").replace("-", " ") if found else "release unknown"


def parse_table(raw: Any, codes: dict[str, tuple[str, bool]]) -> DiagnosisTable:
    """Validate diagnoses.json against the code set; every listed code and prefix must exist."""
    def fail(field: str, problem: str) -> DiagnosisTableError:
        return DiagnosisTableError(f"diagnoses.json: {field} {problem}")

    from kapclinic.clinical.definitions import validate

    from .file_model import DiagnosesFile

    d = validate(DiagnosesFile, raw, fail)  # shape and types; the code-set checks follow
    groups: list[DiagnosisGroup] = []
    for i, g in enumerate(d.groups):
        where = f"groups[{i}]"
        for key, listed in (("includes", g.includes), ("excludes", g.excludes), ("codes", g.codes)):
            for j, code in enumerate(listed):
                if code not in codes:
                    raise fail(f"{where}.{key}[{j}]", f"'{code}' is not an ICD-10-CM code")
        group = DiagnosisGroup(id=g.id, label=g.label, includes=tuple(g.includes),
                               excludes=tuple(g.excludes), listed=tuple(g.codes), snomed=g.snomed,
                               snomed_unverified=g.snomed_status == "unverified")
        for j, code in enumerate(group.listed):
            if not group.covers(code):
                raise fail(f"{where}.codes[{j}]", f"'{code}' is outside the group's prefixes")
        if group.id in (OTHER_GROUP, OTHER_MENTAL_GROUP) or any(group.id == other.id for other in groups):
            raise fail(f"{where}.id", f"'{group.id}' is reserved or used twice")
        groups.append(group)
    table = DiagnosisTable(version=d.version, code_set=code_set_release(), citation=d.citation,
                           note=d.note, system=d.system, groups=tuple(groups))
    for group in groups:
        for j, prefix in enumerate(group.includes):
            owner = table.group_of(prefix)
            if owner is not None and owner.id != group.id:
                raise fail(f"groups.{group.id}.includes[{j}]", f"'{prefix}' is already in {owner.id}")
    return table


@cache
def diagnoses() -> DiagnosisTable:
    raw = json.loads((DATA_DIR / "diagnoses.json").read_text(encoding="utf-8"))
    return parse_table(raw, _icd10cm())
