"""Text that says what it shows: invisible text-direction controls are refused in names and
identifiers and removed from free text.

A right-to-left override (U+202E) or isolate makes "Ada‮evoL" show as "AdaLove" and can
make an MRN, a username or a note read differently on screen, in an export or in the audit
trail than what is stored. Nobody types these characters on purpose; they come from pasting.
One rule here is used by every form that takes a name or free text (patients, staff users,
intake, notes) and, through those forms, by the JSON API.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from django import forms

# U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates, the left-to-right and
# right-to-left marks, and the Arabic letter mark.
BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200e", "\u200f", "\u061c"])
_REMOVE = {ord(c): None for c in BIDI_CONTROLS}


def bidi_controls_in(text: str) -> list[str]:
    """The direction controls in ``text``, as U+XXXX, in order of first appearance."""
    seen: list[str] = []
    for char in text:
        code = f"U+{ord(char):04X}"
        if char in BIDI_CONTROLS and code not in seen:
            seen.append(code)
    return seen


def strip_bidi(text: str) -> str:
    """``text`` without direction controls (free text keeps everything else as typed)."""
    return text.translate(_REMOVE) if isinstance(text, str) else text


def refusal(text: str, label: str) -> str | None:
    """Why ``text`` is refused as a name or identifier called ``label``, or None."""
    found = bidi_controls_in(text) if isinstance(text, str) else []
    if not found:
        return None
    names = ", ".join(f"{code} {unicodedata.name(chr(int(code[2:], 16)), '').lower()}".strip()
                      for code in found)
    return (f"{label} contains an invisible character that changes the direction text is shown "
            f"in ({names}). Type it again rather than pasting it.")


def guard(form: forms.BaseForm, *, names: Iterable[str] = (),
          free_text: Iterable[str] = ()) -> None:
    """Refuse direction controls in the form's ``names`` fields (the error names the field)
    and strip them from its ``free_text`` fields. Call from the form's ``__init__``."""
    for name in names:
        field = form.fields.get(name)
        if field is not None:
            field.validators.append(_NameValidator(str(field.label or name.replace("_", " ")
                                                       .capitalize())))
    for name in free_text:
        field = form.fields.get(name)
        if field is not None:
            field.to_python = _stripping(field.to_python)  # type: ignore[method-assign]


class _NameValidator:
    def __init__(self, label: str):
        self.label = label

    def __call__(self, value) -> None:
        message = refusal(value, self.label)
        if message:
            raise forms.ValidationError(message, code="direction_control")

    def __eq__(self, other) -> bool:
        return isinstance(other, _NameValidator) and other.label == self.label


def _stripping(to_python):
    def clean(value):
        return strip_bidi(to_python(value))

    return clean
