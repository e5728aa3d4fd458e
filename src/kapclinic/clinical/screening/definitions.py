"""Load and validate the screening data: rule files, the rule-set manifest (version and
clinic-setting definitions), the medication table and the plausibility limits.

Clinical knowledge is data with a source (clinical.md sections 3, 4.4 and 6). The loader
refuses a malformed file with a ``RuleDefinitionError`` naming the file and the field, so
a typo in a rule never becomes a silent pass.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from kapclinic.clinical.codes import diagnoses
from kapclinic.clinical.definitions import Setting, validate

from .errors import RuleDefinitionError
from .file_model import Manifest, RuleFile, Threshold
from .schema import COMPARABLE_FIELDS, INPUT_FIELDS

PACKAGE_DIR = Path(__file__).parent
RULES_DIR = PACKAGE_DIR / "rules"
DATA_DIR = PACKAGE_DIR / "data"

DRUGS = ("ketamine", "esketamine")
ROUTES = ("iv-infusion", "im", "intranasal", "sublingual", "oral")
SEVERITIES = ("exclude", "review", "caution")
EVIDENCE = ("verified", "unverified", "policy")
OPS = (">", ">=", "<", "<=")
# Sections of the reference a rule may cite: clinical.md 3, 4.4 and 6, and sessions.md.
CITABLE_SECTIONS = {
    "clinical.md": ("3.1", "3.2", "3.3", "3.4", "3.4a", "3.5", "3.6", "4.4", "6.1", "6.2", "6.3", "6.4"),
    "sessions.md": ("1", "2", "3", "4", "5", "6", "7"),
}
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


# ---- conditions ---------------------------------------------------------------------------

@dataclass(frozen=True)
class IsTrue:
    field: str


@dataclass(frozen=True)
class IsFalse:
    field: str


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: float | None = None
    setting: str | None = None


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class MedicationConsideration:
    consideration: str


@dataclass(frozen=True)
class MedicationConsiderationAbsent:
    consideration: str  # true when no recorded medication carries it


@dataclass(frozen=True)
class MedicationUnrecognised:
    pass


@dataclass(frozen=True)
class HypersensitivityAnyOf:
    ingredients: tuple[str, ...]  # ids in data/ingredients.json


@dataclass(frozen=True)
class HypersensitivityUnclear:
    ingredients: tuple[str, ...]  # named with negated or uncertain wording


@dataclass(frozen=True)
class HypersensitivityOtherThan:
    ingredients: tuple[str, ...]


@dataclass(frozen=True)
class DiagnosisAnyOf:
    codes: tuple[str, ...]


@dataclass(frozen=True)
class DiagnosisGroupAnyOf:
    groups: tuple[str, ...]


@dataclass(frozen=True)
class DiagnosisGroupNoneOf:
    groups: tuple[str, ...]


Condition = (IsTrue | IsFalse | Compare | AnyOf | AllOf | MedicationConsideration
             | MedicationConsiderationAbsent | MedicationUnrecognised
             | HypersensitivityAnyOf | HypersensitivityUnclear | HypersensitivityOtherThan | DiagnosisAnyOf
             | DiagnosisGroupAnyOf | DiagnosisGroupNoneOf)


def condition_inputs(cond: Condition) -> set[str]:
    """The intake fields a condition reads (``age_years`` is read from ``date_of_birth``)."""
    if isinstance(cond, AnyOf | AllOf):
        return set().union(*(condition_inputs(p) for p in cond.parts))
    if isinstance(cond, IsTrue | IsFalse):
        return {cond.field}
    if isinstance(cond, Compare):
        return {"date_of_birth" if cond.field == "age_years" else cond.field}
    if isinstance(cond, MedicationConsideration | MedicationConsiderationAbsent | MedicationUnrecognised):
        return {"medications"}
    if isinstance(cond, HypersensitivityAnyOf | HypersensitivityUnclear | HypersensitivityOtherThan):
        return {"hypersensitivities"}
    return {"diagnoses"}


# ---- data classes -------------------------------------------------------------------------

@dataclass(frozen=True)
class Citation:
    document: str  # the reference file the fact was checked in (clinical.md, sessions.md)
    section: str
    row: str
    source: str

    def text(self) -> str:
        """The source as a clinician reads it: who says it, and where."""
        return f"{self.source} \u2014 {self.row}"

    def reference(self) -> str:
        """Where the fact is kept in the project's reference, for reviewers."""
        return f"{self.document} {self.section}, {self.row}"


@dataclass(frozen=True)
class Rule:
    """One eligibility rule, validated."""

    id: str
    tests: str
    severity: str
    locked: bool
    drugs: tuple[str, ...]
    routes: tuple[str, ...]
    inputs: tuple[str, ...]
    when: Condition
    message: str
    action: str
    citations: tuple[Citation, ...]
    evidence: str
    evidence_note: str
    source_file: str

    @property
    def citation(self) -> str:
        """All citations as one line a clinician reads."""
        return "; ".join(c.text() for c in self.citations)

    @property
    def reference(self) -> str:
        """All citations as pointers into the reference files (for reviewers and exports)."""
        return "; ".join(c.reference() for c in self.citations)

    def applies_to(self, drug: str, route: str | None) -> bool:
        """True for this drug and route; with no route chosen, a rule for any route applies."""
        return drug in self.drugs and (route is None or route in self.routes)


# A clinic threshold: the one clinic-setting type, with a number in min-max (``source``,
# also read as ``default_source``, says where the default comes from).
SettingDefinition = Setting


@dataclass(frozen=True)
class MedicationEntry:
    """One name (generic or added alias) that maps to a generic in a 3.6 class."""

    name: str
    generic: str
    atc: str
    class_id: str
    class_label: str
    considerations: tuple[str, ...]
    added_alias: bool


@dataclass(frozen=True)
class MedicationTable:
    considerations: Mapping[str, str]
    by_name: Mapping[str, MedicationEntry]  # normalised name -> entry


@dataclass(frozen=True)
class Ingredient:
    """A molecule a hypersensitivity can name (data/ingredients.json)."""

    id: str
    label: str
    names: tuple[str, ...]
    added_names: tuple[str, ...]  # spellings and brands that are not in the reference


@dataclass(frozen=True)
class IngredientTable:
    ingredients: Mapping[str, Ingredient]
    by_words: tuple[tuple[tuple[str, ...], Ingredient], ...]  # (a name's words, its ingredient)


@dataclass(frozen=True)
class PlausibilityLimit:
    field: str
    unit: str
    reject_below: float
    reject_above: float
    warn_below: float | None
    warn_above: float | None


@dataclass(frozen=True)
class RuleSet:
    version: str
    digest: str
    title: str
    citation: str
    settings: Mapping[str, Setting[float]]
    rules: tuple[Rule, ...]
    medications: MedicationTable
    ingredients: IngredientTable
    plausibility: Mapping[str, PlausibilityLimit]



def normalise_name(name: str) -> str:
    """Case- and spacing-insensitive key for a medication or substance name."""
    return " ".join(name.replace("\u2019", "'").casefold().split())


# ---- reader -------------------------------------------------------------------------------

class _Reader:
    """Typed field access that turns every problem into a RuleDefinitionError."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, where: str, problem: str) -> RuleDefinitionError:
        return RuleDefinitionError(self.filename, where, problem)

    def obj(self, data: Any, where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, "must be an object")
        return data

    def get(self, data: dict[str, Any], key: str, where: str = "") -> Any:
        if key not in data:
            raise self.fail(f"{where}{key}", "is required")
        return data[key]

    def text(self, data: dict[str, Any], key: str, where: str = "", *,
             choices: tuple[str, ...] | None = None, allow_empty: bool = False) -> str:
        value = self.get(data, key, where)
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise self.fail(f"{where}{key}", "must be a non-empty string")
        if choices is not None and value not in choices:
            raise self.fail(f"{where}{key}", f"'{value}' is not one of {', '.join(choices)}")
        return value

    def number(self, data: dict[str, Any], key: str, where: str = "") -> float:
        value = self.get(data, key, where)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(f"{where}{key}", "must be a finite number")
        return float(value)

    def boolean(self, data: dict[str, Any], key: str, where: str = "") -> bool:
        value = self.get(data, key, where)
        if not isinstance(value, bool):
            raise self.fail(f"{where}{key}", "must be true or false")
        return value

    def strings(self, data: dict[str, Any], key: str, where: str = "", *,
                choices: tuple[str, ...] | None = None, allow_empty_list: bool = False) -> tuple[str, ...]:
        value = self.get(data, key, where)
        if not isinstance(value, list) or (not value and not allow_empty_list):
            raise self.fail(f"{where}{key}", "must be a non-empty list of strings")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{where}{key}[{i}]", "must be a non-empty string")
            if choices is not None and item not in choices:
                raise self.fail(f"{where}{key}[{i}]", f"'{item}' is not one of {', '.join(choices)}")
        if len(set(value)) != len(value):
            raise self.fail(f"{where}{key}", "has duplicates")
        return tuple(value)

    def exact_keys(self, data: dict[str, Any], allowed: set[str], where: str = "") -> None:
        for key in sorted(set(data) - allowed):
            raise self.fail(f"{where}{key}", "is not a known field")


# ---- conditions ---------------------------------------------------------------------------

_CONDITION_KEYS = ("is_true", "is_false", "compare", "any", "all", "medication_consideration",
                   "medication_consideration_absent",
                   "medication_unrecognised", "hypersensitivity_any_of", "hypersensitivity_unclear_any_of",
                   "hypersensitivity_other_than",
                   "diagnosis_any_of", "diagnosis_group_any_of", "diagnosis_group_none_of")


def _condition(r: _Reader, data: Any, where: str, ctx: _Context) -> Condition:
    d = r.obj(data, where)
    kinds = [k for k in _CONDITION_KEYS if k in d]
    if len(kinds) != 1:
        raise r.fail(where, f"must have exactly one of {', '.join(_CONDITION_KEYS)}")
    kind = kinds[0]
    here = f"{where}."
    if kind in ("is_true", "is_false"):
        r.exact_keys(d, {kind}, here)
        field = r.text(d, kind, here)
        if INPUT_FIELDS.get(field) != "bool":
            raise r.fail(f"{here}{kind}", f"'{field}' is not a yes/no intake field")
        return IsTrue(field) if kind == "is_true" else IsFalse(field)
    if kind == "compare":
        r.exact_keys(d, {"compare", "op", "value", "setting"}, here)
        field = r.text(d, "compare", here, choices=COMPARABLE_FIELDS)
        op = r.text(d, "op", here, choices=OPS)
        if ("value" in d) == ("setting" in d):
            raise r.fail(f"{here}value", "give exactly one of value (a fact) or setting (a clinic threshold)")
        if "setting" in d:
            name = r.text(d, "setting", here)
            if name not in ctx.settings:
                raise r.fail(f"{here}setting", f"'{name}' is not defined in ruleset.json settings")
            return Compare(field, op, setting=name)
        return Compare(field, op, value=r.number(d, "value", here))
    if kind in ("any", "all"):
        r.exact_keys(d, {kind}, here)
        parts = r.get(d, kind, here)
        if not isinstance(parts, list) or len(parts) < 2:
            raise r.fail(f"{here}{kind}", "must list at least two conditions")
        conds = tuple(_condition(r, p, f"{here}{kind}[{i}]", ctx) for i, p in enumerate(parts))
        return AnyOf(conds) if kind == "any" else AllOf(conds)
    if kind in ("medication_consideration", "medication_consideration_absent"):
        r.exact_keys(d, {kind}, here)
        consideration = r.text(d, kind, here, choices=tuple(ctx.considerations))
        return MedicationConsideration(consideration) if kind == "medication_consideration" \
            else MedicationConsiderationAbsent(consideration)
    if kind == "medication_unrecognised":
        r.exact_keys(d, {kind}, here)
        if d[kind] is not True:
            raise r.fail(f"{here}{kind}", "must be true")
        return MedicationUnrecognised()
    if kind in ("hypersensitivity_any_of", "hypersensitivity_unclear_any_of", "hypersensitivity_other_than"):
        r.exact_keys(d, {kind}, here)
        ids = r.strings(d, kind, here, choices=ctx.ingredients)
        if kind == "hypersensitivity_any_of":
            return HypersensitivityAnyOf(ids)
        return HypersensitivityUnclear(ids) if kind == "hypersensitivity_unclear_any_of" \
            else HypersensitivityOtherThan(ids)
    if kind == "diagnosis_any_of":
        r.exact_keys(d, {kind}, here)
        codes = r.strings(d, kind, here)
        for i, code in enumerate(codes):
            if diagnoses().get(code) is None:
                raise r.fail(f"{here}{kind}[{i}]", f"'{code}' is not an ICD-10-CM code")
        return DiagnosisAnyOf(codes)
    r.exact_keys(d, {kind}, here)
    groups = r.strings(d, kind, here, choices=ctx.diagnosis_groups)
    return DiagnosisGroupAnyOf(groups) if kind == "diagnosis_group_any_of" else DiagnosisGroupNoneOf(groups)


# ---- rules --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Context:
    settings: Mapping[str, Setting[float]]
    considerations: Mapping[str, str]
    diagnosis_groups: tuple[str, ...]
    ingredients: tuple[str, ...]


_RULE_KEYS = {"schema_version", "id", "tests", "severity", "locked", "drugs", "routes", "inputs", "when",
              "message", "action", "citations", "evidence", "evidence_note"}


def parse_rule(data: Any, filename: str, ctx: _Context | None = None) -> Rule:
    """Validate one decoded rule; raise RuleDefinitionError naming file and field."""
    ctx = ctx or _context()
    r = _Reader(filename)
    validate(RuleFile, data, r.fail)  # shape and types; the checks against the data follow
    d = r.obj(data, "(top level)")
    if d.get("schema_version") != 1:
        raise r.fail("schema_version", "must be 1")
    r.exact_keys(d, _RULE_KEYS)
    rule_id = r.text(d, "id")
    if not ID_PATTERN.match(rule_id):
        raise r.fail("id", "must be lower_snake_case")
    stem = Path(filename).stem
    if rule_id != stem:
        raise r.fail("id", f"'{rule_id}' must match the file name '{stem}'")
    severity = r.text(d, "severity", choices=SEVERITIES)
    locked = r.boolean(d, "locked")
    evidence = r.text(d, "evidence", choices=EVIDENCE)
    if locked and evidence != "verified":
        raise r.fail("locked", "only a rule resting on verified entries can be locked")
    drugs = r.strings(d, "drugs", choices=DRUGS)
    raw_routes = r.get(d, "routes")
    routes = ROUTES if raw_routes == "all" else r.strings(d, "routes", choices=ROUTES)
    inputs = r.strings(d, "inputs")
    for i, name in enumerate(inputs):
        if name not in INPUT_FIELDS:
            raise r.fail(f"inputs[{i}]", f"'{name}' is not an intake field")
    when = _condition(r, r.get(d, "when"), "when", ctx)
    needed = condition_inputs(when)
    if set(inputs) != needed:
        raise r.fail("inputs", f"must list exactly the fields 'when' reads: {', '.join(sorted(needed))}")
    raw_cites = r.get(d, "citations")
    if not isinstance(raw_cites, list) or not raw_cites:
        raise r.fail("citations", "must list at least one clinical.md citation")
    citations = []
    for i, raw in enumerate(raw_cites):
        where = f"citations[{i}]."
        co = r.obj(raw, f"citations[{i}]")
        r.exact_keys(co, {"document", "section", "row", "source"}, where)
        document = r.text(co, "document", where, choices=tuple(CITABLE_SECTIONS)) \
            if "document" in co else "clinical.md"
        citations.append(Citation(document, r.text(co, "section", where, choices=CITABLE_SECTIONS[document]),
                                  r.text(co, "row", where), r.text(co, "source", where)))
    note = ""
    if "evidence_note" in d:
        note = r.text(d, "evidence_note")
    return Rule(
        id=rule_id, tests=r.text(d, "tests"), severity=severity, locked=locked, drugs=drugs,
        routes=tuple(routes), inputs=tuple(sorted(inputs)), when=when, message=r.text(d, "message"),
        action=r.text(d, "action"), citations=tuple(citations), evidence=evidence, evidence_note=note,
        source_file=filename,
    )


def load_rule(path: Path) -> Rule:
    """Read and validate one rule file against the shipped settings and medication table."""
    return parse_rule(_read_json(path), path.name)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RuleDefinitionError(path.name, "(file)", f"is not valid JSON: {exc.msg}") from exc


# ---- manifest, medications, plausibility ---------------------------------------------------

def parse_settings(data: Any, filename: str) -> dict[str, Setting[float]]:
    r = _Reader(filename)
    out: dict[str, Setting[float]] = {}
    for name, raw in r.obj(data, "settings").items():
        where = f"settings.{name}."

        def fail(field: str, problem: str, where: str = where) -> RuleDefinitionError:
            return r.fail(where + field, problem)

        s = validate(Threshold, raw, fail)
        if s.min > s.max:
            raise r.fail(f"{where}min", "must not exceed max")
        setting = Setting(name, s.label, float(s.default), minimum=s.min, maximum=s.max,
                          unit=s.unit, integer=s.integer, evidence="policy",
                          source=s.default_source)
        if not s.min <= s.default <= s.max:
            raise r.fail(f"{where}default", f"must lie within {s.min:g}-{s.max:g}")
        if setting.problem(setting.default) is not None:
            raise r.fail(f"{where}default", "must be a whole number")
        out[name] = setting
    return out


def parse_medications(data: Any, filename: str) -> MedicationTable:
    r = _Reader(filename)
    d = r.obj(data, "(top level)")
    if d.get("schema_version") != 1:
        raise r.fail("schema_version", "must be 1")
    r.text(d, "citation")
    considerations = {str(k): r.text(r.obj(d["considerations"], "considerations"), k, "considerations.")
                      for k in r.obj(r.get(d, "considerations"), "considerations")}
    by_name: dict[str, MedicationEntry] = {}
    classes = r.get(d, "classes")
    if not isinstance(classes, list) or not classes:
        raise r.fail("classes", "must be a non-empty list")
    for i, raw in enumerate(classes):
        where = f"classes[{i}]."
        cl = r.obj(raw, f"classes[{i}]")
        class_id, label = r.text(cl, "id", where), r.text(cl, "label", where)
        cons = r.strings(cl, "considerations", where, choices=tuple(considerations), allow_empty_list=True)
        members = r.get(cl, "members", where)
        if not isinstance(members, list) or not members:
            raise r.fail(f"{where}members", "must be a non-empty list")
        for j, m in enumerate(members):
            mw = f"{where}members[{j}]."
            mo = r.obj(m, f"{where}members[{j}]")
            generic = r.text(mo, "name", mw)
            atc = r.text(mo, "atc", mw, allow_empty=True)
            aliases = r.strings(mo, "added_aliases", mw, allow_empty_list=True)
            for k, name in enumerate((generic, *aliases)):
                key = normalise_name(name)
                if key in by_name:
                    field = f"{mw}name" if k == 0 else f"{mw}added_aliases[{k - 1}]"
                    raise r.fail(field, f"'{name}' is already listed under {by_name[key].generic}")
                by_name[key] = MedicationEntry(name, generic, atc, class_id, label, cons, k > 0)
    return MedicationTable(considerations, by_name)


def parse_ingredients(data: Any, filename: str) -> IngredientTable:
    from .hypersensitivity import words  # the matcher's own reading of a name

    r = _Reader(filename)
    d = r.obj(data, "(top level)")
    if d.get("schema_version") != 1:
        raise r.fail("schema_version", "must be 1")
    r.text(d, "citation")
    raw = r.get(d, "ingredients")
    if not isinstance(raw, list) or not raw:
        raise r.fail("ingredients", "must be a non-empty list")
    ingredients: dict[str, Ingredient] = {}
    by_words: list[tuple[tuple[str, ...], Ingredient]] = []
    seen: dict[tuple[str, ...], str] = {}
    for i, item in enumerate(raw):
        where = f"ingredients[{i}]."
        io = r.obj(item, f"ingredients[{i}]")
        r.exact_keys(io, {"id", "label", "names"}, where)
        ingredient_id = r.text(io, "id", where)
        if not ID_PATTERN.match(ingredient_id) or ingredient_id in ingredients:
            raise r.fail(f"{where}id", "must be lower_snake_case and unique")
        names: list[str] = []
        added: list[str] = []
        name_words: list[tuple[str, ...]] = []
        entries = r.get(io, "names", where)
        if not isinstance(entries, list) or not entries:
            raise r.fail(f"{where}names", "must be a non-empty list")
        for j, entry in enumerate(entries):
            nw = f"{where}names[{j}]."
            eo = r.obj(entry, f"{where}names[{j}]")
            r.exact_keys(eo, {"name", "source", "added"}, nw)
            if ("source" in eo) == ("added" in eo):
                raise r.fail(f"{nw}source", "give exactly one of source (the reference) or added (why)")
            name = r.text(eo, "name", nw)
            r.text(eo, "source" if "source" in eo else "added", nw)
            key = words(name)
            if not key or key in seen:
                raise r.fail(f"{nw}name", f"'{name}' is empty or already listed under {seen.get(key)}")
            seen[key] = ingredient_id
            (added if "added" in eo else names).append(name)
            name_words.append(key)
        ingredient = Ingredient(ingredient_id, r.text(io, "label", where), tuple(names), tuple(added))
        ingredients[ingredient_id] = ingredient
        by_words.extend((key, ingredient) for key in name_words)
    return IngredientTable(ingredients, tuple(by_words))


def parse_plausibility(data: Any, filename: str) -> dict[str, PlausibilityLimit]:
    r = _Reader(filename)
    d = r.obj(data, "(top level)")
    r.text(d, "citation")
    out = {}
    for name, raw in r.obj(r.get(d, "fields"), "fields").items():
        where = f"fields.{name}."
        f = r.obj(raw, f"fields.{name}")
        lo, hi = r.number(f, "reject_below", where), r.number(f, "reject_above", where)
        if lo >= hi:
            raise r.fail(f"{where}reject_below", "must be below reject_above")
        out[name] = PlausibilityLimit(
            name, r.text(f, "unit", where), lo, hi,
            r.number(f, "warn_below", where) if "warn_below" in f else None,
            r.number(f, "warn_above", where) if "warn_above" in f else None)
    return out


@cache
def _manifest() -> dict[str, Any]:
    path = DATA_DIR / "ruleset.json"
    r = _Reader(path.name)
    d = r.obj(_read_json(path), "(top level)")
    validate(Manifest, d, r.fail)
    return d


@cache
def _medications() -> MedicationTable:
    path = DATA_DIR / "medications.json"
    return parse_medications(_read_json(path), path.name)


@cache
def _ingredients() -> IngredientTable:
    path = DATA_DIR / "ingredients.json"
    return parse_ingredients(_read_json(path), path.name)


@cache
def _context() -> _Context:
    return _Context(parse_settings(_manifest().get("settings"), "ruleset.json"),
                    _medications().considerations, diagnoses().group_ids,
                    tuple(_ingredients().ingredients))


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


@cache
def load_ruleset() -> RuleSet:
    """The shipped rule set, validated once per process."""
    manifest = _manifest()
    r = _Reader("ruleset.json")
    rule_paths = sorted(RULES_DIR.glob("*.json"))
    rules = tuple(load_rule(p) for p in rule_paths)
    data_paths = sorted(DATA_DIR.glob("*.json"))
    plaus = parse_plausibility(_read_json(DATA_DIR / "plausibility.json"), "plausibility.json")
    return RuleSet(
        version=r.text(manifest, "version"), digest=_digest(data_paths + rule_paths),
        title=r.text(manifest, "title"), citation=r.text(manifest, "citation"),
        settings=_context().settings, rules=rules, medications=_medications(),
        ingredients=_ingredients(), plausibility=plaus,
    )
