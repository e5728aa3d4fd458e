"""Therapy notes as data (``notes.json``): the templates a clinic starts from (preparation,
dosing session, integration, progress; each section labelled, each template ending in free
text), the psychotherapy-note rule, the 42 CFR Part 2 label, the emergency-access defaults,
and the content hash a signed note is sealed with. Pure: no Django."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

FILE = Path(__file__).with_name("notes.json")
KINDS = ("preparation", "dosing", "integration", "progress")
PSYCHOTHERAPY = "psychotherapy"
SECTION_TYPES = ("text", "check")
# engineering bounds for a clinic's templates and a note's text
SECTIONS_PER_TEMPLATE = (1, 20)
LABEL_MAX_CHARS = 80
HINT_MAX_CHARS = 400
SECTION_MAX_CHARS = 20_000
NOTE_MAX_CHARS = 60_000


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    hint: str = ""
    type: str = "text"

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "label": self.label, "hint": self.hint, "type": self.type}


@dataclass(frozen=True)
class Template:
    kind: str
    title: str
    sections: tuple[Section, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "sections": [s.to_dict() for s in self.sections]}


class TemplateError(ValueError):
    """A clinic's template that cannot be used; the message says what to change."""


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FILE.read_text(encoding="utf-8"))
    return data


def version() -> str:
    return str(_data()["version"])


def free_text_section() -> Section:
    return Section(**_data()["templates"]["free_text"])


def default_templates() -> dict[str, Template]:
    kinds = _data()["templates"]["kinds"]
    return {kind: template_from(kind, kinds[kind]) for kind in KINDS}


def template_from(kind: str, data: dict[str, Any]) -> Template:
    """A template from its stored form; raises TemplateError naming what is wrong."""
    if kind not in KINDS:
        raise TemplateError(f"“{kind}” is not a kind of note ({', '.join(KINDS)})")
    title = str(data.get("title", "")).strip()
    if not title or len(title) > LABEL_MAX_CHARS:
        raise TemplateError(f"the {kind} template needs a title of 1 to {LABEL_MAX_CHARS} characters")
    raw = data.get("sections")
    low, high = SECTIONS_PER_TEMPLATE
    if not isinstance(raw, list) or not low <= len(raw) <= high:
        raise TemplateError(f"the {kind} template needs {low} to {high} sections")
    sections, seen = [], {free_text_section().key}
    for number, item in enumerate(raw, start=1):
        label = str(item.get("label", "")).strip() if isinstance(item, dict) else ""
        if not label or len(label) > LABEL_MAX_CHARS:
            raise TemplateError(f"section {number} of the {kind} template needs a label of 1 to "
                                f"{LABEL_MAX_CHARS} characters")
        key = str(item.get("key") or slug(label))
        if not key or key in seen:
            raise TemplateError(f"section {number} of the {kind} template repeats “{label}”")
        seen.add(key)
        hint = str(item.get("hint", "")).strip()
        if len(hint) > HINT_MAX_CHARS:
            raise TemplateError(f"the hint of “{label}” is longer than {HINT_MAX_CHARS} characters")
        kind_of = str(item.get("type", "text"))
        if kind_of not in SECTION_TYPES:
            raise TemplateError(f"“{label}” is neither a text nor a tick box")
        sections.append(Section(key=key, label=label, hint=hint, type=kind_of))
    return Template(kind=kind, title=title, sections=tuple(sections))


def slug(label: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in label.lower()).split()
    return "_".join(words)[:40]


def psychotherapy() -> dict[str, Any]:
    return dict(_data()["psychotherapy"])


def part2() -> dict[str, str]:
    return dict(_data()["part2"])


def emergency_access_defaults() -> dict[str, Any]:
    return dict(_data()["emergency_access"])


def content_hash(payload: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of what was signed (sorted keys, no spaces, UTF-8): the
    same content always gives the same hash, so a later check shows it never changed."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
