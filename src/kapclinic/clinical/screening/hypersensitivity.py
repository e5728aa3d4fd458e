"""Read a recorded hypersensitivity the way a pharmacist would: which ingredient does it name?

"Ketamine HCl 50 mg/mL (hallucinations, 2019)", "KETALAR" and "S(+)-Ketamin" all name the
ketamine molecule. Case, accents, punctuation, salts, strengths, forms and bracketed notes do
not matter: the entry matches an ingredient when its words contain one of the ingredient's
names (``data/ingredients.json``) as whole words. The longest name found wins, so
"Ketanest S" reads as esketamine, not as the racemic "Ketanest". An entry naming no known
ingredient is unread: the rules treat it as a hypersensitivity to check by hand.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .definitions import Ingredient, IngredientTable

_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}")
# "(S)-ketamine", "S(+)-ketamine": a bracketed stereo descriptor is part of the name, not a note.
_STEREO = re.compile(r"^[(\[{]\s*[SRsr+\-\u00b1]{1,3}\s*[)\]}]$")
_WORD = re.compile(r"[a-z0-9]+")
# Salts written onto the name ("ketamineHCl") are split off before matching.
_GLUED_SALTS = ("hydrochloride", "hcl")


def words(text: str) -> tuple[str, ...]:
    """Lower-case ASCII words of ``text`` with accents folded ("Kétamine" -> ("ketamine",))."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    out: list[str] = []
    for word in _WORD.findall(plain):
        salt = next((s for s in _GLUED_SALTS if word.endswith(s) and len(word) > len(s) + 3), None)
        out.extend((word[: -len(salt)], salt) if salt else (word,))
    return tuple(out)


def _without_notes(text: str) -> str:
    """Drop bracketed notes (a reaction, a year); nested brackets are dropped from the inside."""
    previous = None
    while previous != text:
        previous, text = text, _BRACKETED.sub(_note_or_descriptor, text)
    return text


def _note_or_descriptor(found: re.Match[str]) -> str:
    bracketed = found.group(0)
    return f" {bracketed[1:-1]} " if _STEREO.match(bracketed) else " "


# An entry that says there is no allergy, or is not sure, is never read as a stated
# hypersensitivity: it cannot trigger a locked exclusion, and a ketamine ingredient in it asks
# for confirmation instead.
_NEGATION = frozenset({"no", "none", "not", "nil", "nka", "nkda", "nkfa", "deny", "denies", "denied",
                       "negative", "never"})
_UNCERTAIN = frozenset({"unsure", "uncertain", "unclear", "unknown", "possible", "possibly", "maybe",
                        "query", "queried", "suspect", "suspected", "questionable", "probable", "probably"})

STATED, UNCLEAR, NO_ALLERGY = "stated", "unclear", "no allergy"


@dataclass(frozen=True)
class HypersensitivityMatch:
    written: str
    ingredient: Ingredient | None
    reading: str = STATED  # STATED, UNCLEAR (negated or uncertain wording) or NO_ALLERGY

    def names(self, ingredients: tuple[str, ...], reading: str = STATED) -> bool:
        return self.reading == reading and self.ingredient is not None and self.ingredient.id in ingredients

    def describe(self) -> str:
        if self.reading == NO_ALLERGY:
            return f"{self.written} \u2192 read as no allergy"
        if self.ingredient is None:
            return f"{self.written} \u2192 names no ketamine ingredient: check it by hand"
        if self.reading == UNCLEAR:
            return (f"{self.written} \u2192 mentions {self.ingredient.label} with negated or uncertain "
                    "wording: confirm with the patient")
        return f"{self.written} \u2192 {self.ingredient.label}"


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def split_entries(text: str) -> list[str]:
    """One line may list several allergies: split it at commas and semicolons outside brackets."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}" and depth > 0
        if ch in ",;" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def read_hypersensitivity(entry: str, table: IngredientTable) -> HypersensitivityMatch:
    """The ingredient ``entry`` names and how surely it names it."""
    entry_words = words(_without_notes(entry)) or words(entry)  # "(ketamine)" alone still reads
    best: tuple[int, Ingredient] | None = None
    for name_words, ingredient in table.by_words:
        if _contains(entry_words, name_words) and (best is None or len(name_words) > best[0]):
            best = (len(name_words), ingredient)
    every_word = set(words(entry))  # qualifiers count in bracketed notes too: "ketamine (not sure)"
    negated = bool(every_word & _NEGATION)
    unsure = "?" in entry or bool(every_word & _UNCERTAIN)
    if best is None:
        return HypersensitivityMatch(entry, None, NO_ALLERGY if negated and not unsure else STATED)
    return HypersensitivityMatch(entry, best[1], UNCLEAR if negated or unsure else STATED)
