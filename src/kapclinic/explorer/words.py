"""The PK core's source notes as a clinician reads them: evidence in words, no file names,
reference-section pointers or field ids (those stay in the API, the CLI and the data)."""

from __future__ import annotations

import re

from kapclinic.clinical.pk import inputs as pk_inputs

# pk.md's evidence tags, in words
EVIDENCE = {
    "P": "from the published paper",
    "C": "as encoded in public software (paper not seen)",
    "S": "secondary source",
    "D": "model-derived",
    "unverified": "not confirmed in a source",
}
# the same, inside a sentence that already says how it was checked
INLINE = {"P": "from the published paper", "C": "public software", "S": "secondary source",
          "D": "model-derived", "unverified": "not confirmed in a source"}
_TAG = re.compile(r"\[(P|C|S|D|unverified)(?: vs paper)?\]")
_REFERENCE = re.compile(r"\s*\((?:shared/reference/)?pk\.md[^)]*\)")  # "(pk.md 1.1, 8)"
_FILE = re.compile(r"\s*\b[\w./-]+\.(?:py|R)\b(?: class \w+)?")  # "opentiva/ketamine.py class X"
_CALIBRATION = re.compile(r";\s*calibration\.py")
_CLASS = re.compile(r"\s+class \w+\b")  # "opentiva class Herd encodes"
_SETTING = re.compile(r"\b([a-z]+)_([a-z]+)=(\d+)")  # "age_upper=18"

# what a field of the PK core is called on the page, and its unit
FIELDS = {"weight_kg": ("weight", "kg"), "dose_mg": ("dose", "mg"),
          "dose_mg_per_kg": ("dose", "mg/kg"), "duration_min": ("infusion time", "min"),
          "age_years": ("age", "years"), "hours": ("window", "h"), "step_min": ("step", "min")}


def evidence(tag: str) -> str:
    """'P' -> 'from the published paper'."""
    return EVIDENCE.get(tag, tag)


def plain(text: str) -> str:
    """A source or caveat note without evidence codes, file names or reference pointers."""
    text = _CALIBRATION.sub("", text)
    text = _REFERENCE.sub("", text)
    text = _TAG.sub(lambda m: f"({INLINE[m.group(1)]})", text)
    text = _FILE.sub("", text)
    text = _CLASS.sub("", text)
    text = _SETTING.sub(r"\1 \2 \3", text)
    text = text.replace("ug/kg", "µg/kg")
    text = re.sub(r"\(\s*,\s*", "(", text)
    text = re.sub(r"\(\s*\)", "", text)
    return re.sub(r"\s+([,.;:])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()


def input_message(field: str, message: str) -> str:
    """A PK core refusal for the page: '7000 kg is more than the models take (at most 350 kg)'."""
    word, unit = FIELDS.get(field, (field.replace("_", " "), ""))
    limits = pk_inputs.LIMITS.get(field)
    found = re.fullmatch(rf"{re.escape(field)} (\S+) is implausible \(limit (\S+)\)", message)
    if found and limits:
        return (f"{found.group(1)} {unit} is more than the models take (at most "
                f"{found.group(2)} {unit}); check the number.")
    for name, (other, _) in FIELDS.items():
        message = re.sub(rf"\b{name}\b", other, message)
    return message[:1].upper() + message[1:]
