"""Protocol and monitoring sources as a clinician reads them.

The data files name their sources for a reviewer ("clinical.md 3.4 TRD dosing: weeks 1-4
twice weekly [unverified]"); the settings and protocol pages show what the section is about
("Spravato (esketamine) US label, TRD dosing: weeks 1-4 twice weekly (reported, not
confirmed)"). The file's own words stay in the data, the API and the CLI.
"""

from __future__ import annotations

import re

# What each section of the clinical reference is about (shared/reference/clinical.md).
CLINICAL_SECTIONS = {
    "1": "Questionnaires", "1.1": "Questionnaires", "1.2": "Questionnaires",
    "2": "Response, remission and relapse",
    "3": "Eligibility", "3.1": "APA consensus statement on ketamine (2017)",
    "3.2": "A registered ketamine trial's exclusions (illustrative)",
    "3.3": "Concomitant medicines", "3.4": "Spravato (esketamine) US label",
    "3.4a": "Ketalar (racemic ketamine) US label", "3.5": "Special populations",
    "3.6": "Medication classes",
    "4": "Session monitoring", "4.1": "Published session monitoring practice",
    "4.2": "Monitoring thresholds in published protocols",
    "4.3": "Discharge criteria", "4.4": "Data-entry plausibility limits",
    "5": "Published ketamine dosing studies",
    "6": "Codes", "6.1": "Diagnosis codes", "6.2": "Drug codes", "6.3": "Vital-sign codes",
    "6.4": "Controlled-substance records",
}
# ... and of the sessions reference (shared/reference/sessions.md).
SESSIONS_SECTIONS = {
    "1": "Spravato REMS", "1.1": "Spravato REMS Patient Monitoring Form",
    "2": "KAP session practice (IV, IM, sublingual)", "3": "CADSS notes",
    "4": "Controlled-substance records", "5": "Bedside monitors", "6": "Codes",
    "7": "Psychotherapy notes",
}
DOCUMENTS = {"clinical.md": CLINICAL_SECTIONS, "sessions.md": SESSIONS_SECTIONS}

EVIDENCE = {
    "verified": "checked against the source",
    "secondary": "from a reliable secondary summary",
    "derived": "worked out from checked facts",
    "unverified": "reported, not confirmed",
    "policy": "no published figure: the clinic's choice",
}

UNITS = {"mg/kg": "mg/kg", "mg": "mg", "min": "min", "h": "hours", "d": "days",
         "{sessions}": "sessions", "{score}": "points", "mm[Hg]": "mmHg", "/min": "a minute",
         "%": "%", "": ""}

CRITERIA = {"modified_aldrete": "Modified Aldrete score",
            "padss": "PADSS score",
            "clinician_judgement": "The clinician's judgement of clinical stability",
            "dose_start": "From the start of dosing", "dose_end": "From the end of dosing"}

_REFERENCE = re.compile(r"\b(clinical\.md|sessions\.md)\s+(\d+(?:\.\d+)?a?)\b(\s+\S+)?")
# a section named without its document after one that was ("...; 4.2 recommended default")
_BARE_SECTION = re.compile(r"(?:(?<=[;,] )|(?<=and ))(\d\.\d)(?=([ :)])(\s?[a-z])?)")
_TAGS = [
    (re.compile(r"\s*\[policy action\]"), " (the action is the clinic's choice)"),
    (re.compile(r"\s*\[policy\]"), " (the clinic's choice)"),
    (re.compile(r"\s*\[unverified\]"), " (reported, not confirmed)"),
    (re.compile(r"\s*\[secondary\]"), " (secondary source)"),
    (re.compile(r"\s*\[derived\]"), " (worked out from checked facts)"),
]
_WORDS = [
    (re.compile(r"engineering bounds chosen by the (?:protocols|monitoring) module"),
     "a safety range set in kapclinic (not a clinical figure)"),
    (re.compile(r"^issue \d+:\s*"), ""),
    (re.compile(r"\s+rows?\b"), ""),  # "IM racemic row:" reads "IM racemic:"
    (re.compile(r"\bmoaas\b"), "MOAA/S"),
    (re.compile(r"\bcadss6?\b"), "CADSS"),
    (re.compile(r"\bthe reference\b"), "kapclinic's clinical reference"),
    (re.compile(r"\bThe reference\b"), "Kapclinic's clinical reference"),
    (re.compile(r"->"), "→"), (re.compile(r">="), "≥"), (re.compile(r"<="), "≤"),
    (re.compile(r"\{sessions\}"), "sessions"), (re.compile(r"\{score\}"), "points"),
    (re.compile(r"mm\[Hg\]"), "mmHg"),
]
_SNAKE = re.compile(r"\b([a-z]+)_([a-z0-9_]+)\b")


def _section(document: str, section: str) -> str:
    sections = DOCUMENTS[document]
    return sections.get(section) or sections.get(section.split(".")[0]) or "Clinical reference"


def plain(text: str) -> str:
    """A source note without file names, section numbers, evidence tags or ids."""
    if not text:
        return ""

    def reference(match: re.Match[str]) -> str:
        title = _section(match.group(1), match.group(2))
        after = match.group(3) or ""
        # "3.4 TRD dosing" -> "Spravato (esketamine) US label, TRD dosing"
        joiner = "," if after.strip()[:1].isalpha() and after.strip() != "and" else ""
        return title + joiner + after

    text = _REFERENCE.sub(reference, text)
    text = _BARE_SECTION.sub(lambda m: CLINICAL_SECTIONS.get(m.group(1), m.group(1))
                             + ("," if m.group(3) and m.group(1) in CLINICAL_SECTIONS else ""), text)
    for pattern, words in (*_TAGS, *_WORDS):
        text = pattern.sub(words, text)
    text = _SNAKE.sub(lambda m: m.group(0).replace("_", " "), text)
    text = re.sub(r"\s{2,}", " ", text)
    return re.sub(r"\s+([,.;:])", r"\1", text).strip()


def evidence(tag: str) -> str:
    return EVIDENCE.get(tag, "")


def unit(code: str | None) -> str:
    return UNITS.get(code or "", code or "")


def number(value: float | str, unit_code: str | None = None) -> str:
    """12.0 -> '12', with its unit in words ('2 days', '0.5 mg/kg')."""
    if isinstance(value, str):
        return CRITERIA.get(value, value.replace("_", " "))
    shown = f"{value:g}"
    words = unit(unit_code)
    if not words:
        return shown
    return f"{shown}{words}" if words == "%" else f"{shown} {words}"


def choice(value: str) -> str:
    return CRITERIA.get(value, value.replace("_", " "))
