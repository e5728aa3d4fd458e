"""The typed layer shared by the clinical definition readers (instruments, screening, PK,
outcomes, codes).

Each reader describes its JSON file's *shape and types* as pydantic models built on
``Strict`` (unknown keys refused, no silent "3" -> 3, no NaN or infinity) and validates a
decoded file with ``validate``, which turns the first problem into the reader's own error
naming the file and the field path in plain words (``items[2].enable_when[0].item: is
required``). Domain checks (contiguous score bands, known items, citations) stay in each
reader after the shape is known to be right.

``Setting`` is the one "clinic setting with a labelled default" type: instruments,
screening thresholds and outcome settings all use it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StringConstraints, ValidationError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
V = TypeVar("V")

Fail = Callable[[str, str], Exception]  # (field path, problem) -> the reader's error


class Strict(BaseModel):
    """Base of every definition-file model: a typo'd key is refused, never ignored; a
    number written as text ("3") or a yes/no written as 1 is refused, never coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


# Plain words for a pattern a field must match, by pattern (pydantic reports the pattern).
_PATTERN_WORDS: dict[str, str] = {r"\S": "must be a non-empty string"}


def pattern_words(regex: str, words: str) -> StringConstraints:
    """The constraint "matches ``regex``", reported as ``words`` when it does not."""
    _PATTERN_WORDS[regex] = words
    return StringConstraints(pattern=regex)


# A non-blank string (JSON Schema: a pattern needing one non-space character).
Text = Annotated[str, StringConstraints(pattern=r"\S")]
# A list with at least one entry.
NonEmpty = Annotated[list[T], Field(min_length=1)]


_TAG_ERROR = "tag·"  # a tagged union's error type: this prefix, then the tag's key


def tagged_by(key: str, tags: Sequence[str]) -> Discriminator:
    """Choose a union's branch (each annotated ``Tag("·" + value)``) by the value of ``key``;
    a missing or unknown value is refused at ``key`` itself, listing ``tags``."""
    known = tuple(tags)

    def pick(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"·{known[0]}"  # that branch refuses it: "must be an object"
        got = value.get(key)
        return f"·{got}" if isinstance(got, str) and got in known else None

    return Discriminator(pick, custom_error_type=f"{_TAG_ERROR}{key}",
                         custom_error_message=", ".join(known))


def field_path(loc: Sequence[int | str]) -> str:
    """('items', 2, 'code', 'code') -> 'items[2].code.code'; () -> '(top level)'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith("·"):  # a union branch's tag, not a field
            out += f".{part}" if out else part
    return out or "(top level)"


def plain_problem(error: Any) -> str:
    """One pydantic error as the readers word their problems."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    words = {
        "missing": "is required",
        "extra_forbidden": "is not a known field",
        "string_type": "must be a non-empty string",
        "int_type": "must be a whole number",
        "float_type": "must be a number",
        "finite_number": "must be a finite number",
        "bool_type": "must be true or false",
        "list_type": "must be a list",
        "dict_type": "must be an object",
        "model_type": "must be an object",
        "model_attributes_type": "must be an object",
    }
    if kind in words:
        return words[kind]
    if kind == "string_pattern_mismatch":
        return _PATTERN_WORDS.get(str(ctx.get("pattern")), f"'{given}' is not in the expected form")
    if kind == "literal_error":
        expected = str(ctx.get("expected"))
        if "," in expected or " or " in expected:
            return f"'{given}' is not one of {expected}"
        return f"must be {expected}"
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must list at least {least} entries"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        sign = {"greater_than": "above", "greater_than_equal": "at least",
                "less_than": "below", "less_than_equal": "at most"}[kind]
        bound = next(iter(ctx.values()))
        return f"must be {sign} {bound:g}" if isinstance(bound, int | float) else f"must be {sign} {bound}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    return str(error["msg"]).lower()


def validate(model: type[M], data: Any, fail: Fail) -> M:
    """``data`` as ``model``; the first problem raised as ``fail(field path, problem)``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"].startswith(_TAG_ERROR):  # a tagged union: name the tag's key
            key, given = first["type"].removeprefix(_TAG_ERROR), first["input"]
            problem = (f"'{given[key]}' is not one of {first['msg']}" if key in given
                       else "is required")
            raise fail(field_path((*first["loc"], key)), problem) from exc
        raise fail(field_path(first["loc"]), plain_problem(first)) from exc


class Loaded(Protocol):
    """A validated definition: its id and the file it came from."""

    @property
    def id(self) -> str: ...

    @property
    def source_file(self) -> str: ...


L = TypeVar("L", bound=Loaded)


def load_folders(dirs: Sequence[Path | str], load_one: Callable[[Path], L],
                 error: Callable[[str, str, str], Exception]) -> dict[str, L]:
    """Every ``*.json`` in ``dirs`` (in order; sorted within a folder) loaded by ``load_one``,
    by id. A missing folder, or a file reusing an id already loaded (a clinic's file
    replacing a shipped one), is ``error(file, field, problem)`` naming both files."""
    out: dict[str, L] = {}
    for directory in map(Path, dirs):
        if not directory.is_dir():
            raise error(str(directory), "(directory)", "does not exist")
        for path in sorted(directory.glob("*.json")):
            loaded = load_one(path)
            if loaded.id in out:
                raise error(path.name, "id", f"'{loaded.id}' is already defined by "
                                             f"{out[loaded.id].source_file}")
            out[loaded.id] = loaded
    return out


def read_json(path: Path, fail: Fail) -> Any:
    """Decode a definition file; bad JSON or bytes are ``fail('(file)', why)``."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise fail("(file)", f"is not valid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise fail("(file)", "is not UTF-8 text") from exc


@dataclass(frozen=True)
class Setting(Generic[V]):
    """A clinic setting with a labelled default: the choice the reference leaves to the
    clinic, its default, and what a clinic may choose (one of ``allowed``, or a number in
    ``minimum``-``maximum``, whole when ``integer``) in ``unit``; ``source`` says, in the
    source's words, where the default comes from."""

    name: str
    label: str
    default: V
    allowed: tuple[V, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    integer: bool = False
    evidence: str = "policy"
    source: str = ""

    @property
    def default_source(self) -> str:
        return self.source

    def problem(self, value: object) -> str | None:
        """Why ``value`` cannot be chosen, in words that start with the setting's label;
        None when it can."""
        if self.allowed is not None:
            if not any(type(value) is type(a) and value == a for a in self.allowed):
                return f"{self.label}: {value!r} is not one of {list(self.allowed)}"
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return f"{self.label}: {value!r} must be a finite number"
        if self.integer and not float(value).is_integer():
            return f"{self.label}: {value!r} must be a whole number"
        lo = -math.inf if self.minimum is None else self.minimum
        hi = math.inf if self.maximum is None else self.maximum
        if not lo <= value <= hi:
            unit = f" {self.unit}" if self.unit else ""
            return f"{self.label}: {value:g} is outside {lo:g}-{hi:g}{unit}"
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (for a settings page)."""
        return {"name": self.name, "label": self.label, "default": self.default,
                "allowed": list(self.allowed) if self.allowed is not None else None,
                "min": self.minimum, "max": self.maximum, "unit": self.unit,
                "integer": self.integer, "evidence": self.evidence, "source": self.source}
