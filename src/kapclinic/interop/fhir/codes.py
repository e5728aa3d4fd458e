"""The codes the FHIR export writes (codes.json): code systems, drugs, routes, vital-sign panels.

A code the reference marks secondary is still sent (it is the best known), but never one it
marks unverified: such a concept goes out as a local code with its display text."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_FILE = Path(__file__).with_name("codes.json")


@cache
def _data() -> dict[str, Any]:
    return json.loads(_FILE.read_text(encoding="utf-8"))


def system(name: str) -> str:
    return _data()["systems"][name]


def coding(entry: dict[str, Any]) -> dict[str, str]:
    """A FHIR Coding from a codes.json entry (its evidence and source stay behind)."""
    return {key: entry[key] for key in ("system", "code", "display") if entry.get(key)}


def local(code: str, display: str) -> dict[str, Any]:
    """A concept with no verified standard code: kapclinic's local code and its words."""
    return {"coding": [{"system": system("local"), "code": code, "display": display}], "text": display}


def drug(name: str, ndc: str = "") -> dict[str, Any]:
    found = _data()["drugs"].get(name)
    if found is None:
        return local(f"drug-{name}", name.capitalize())
    codings = [coding(c) for c in found["codings"]]
    if ndc:
        codings.insert(0, {"system": system("ndc"), "code": ndc})
    return {"coding": codings, "text": found["text"]}


def route(name: str) -> dict[str, Any]:
    found = _data()["routes"].get(name)
    if found is None:
        return local(f"route-{name}", name)
    return {"coding": [coding(found)], "text": found["display"]}


def vital(name: str) -> dict[str, str]:
    return coding(_data()["vital_signs"][name])


def vital_profile() -> str:
    return _data()["vital_signs"]["profile"]


def score_unit() -> dict[str, str]:
    entry = _data()["score_unit"]
    return {"unit": entry["unit"], "system": entry["system"], "code": entry["code"]}


def category(code: str, display: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": system("observation_category"), "code": code, "display": display}]}]


def snomed_withheld(icd_code: str) -> bool:
    """ICD-10-CM codes whose group's SNOMED CT concept would overstate them."""
    return icd_code in _data()["snomed_not_sent_for"]["codes"]
