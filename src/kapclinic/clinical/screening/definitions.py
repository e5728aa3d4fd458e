"""Load and validate the screening data: rule files, the rule-set manifest (version and
clinic-setting definitions), the medication table and the plausibility limits.

Clinical knowledge is data with a source (clinical.md sections 3, 4.4 and 6). The loader
refuses a malformed file with a ``RuleDefinitionError`` naming the file and the field, so
a typo in a rule never becomes a silent pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, get_args

from kapclinic.clinical.codes import diagnoses
from kapclinic.clinical.definitions import Setting, read_json, validate

from . import file_model as fm
from .errors import RuleDefinitionError
from .file_model import IngredientsFile, Manifest, MedicationsFile, PlausibilityFile, RuleFile, Threshold
from .schema import COMPARABLE_FIELDS, INPUT_FIELDS

PACKAGE_DIR = Path(__file__).parent
RULES_DIR = PACKAGE_DIR / "rules"
DATA_DIR = PACKAGE_DIR / "data"

# The vocabularies, as the file model types them (one list of each).
DRUGS: tuple[str, ...] = get_args(fm.Drug)
ROUTES: tuple[str, ...] = get_args(fm.Route)
SEVERITIES: tuple[str, ...] = get_args(fm.Severity)
EVIDENCE: tuple[str, ...] = get_args(fm.Evidence)
OPS: tuple[str, ...] = get_args(fm.Op)
# Sections of the reference a rule may cite: clinical.md 3, 4.4 and 6, and sessions.md.
CITABLE_SECTIONS = {
    "clinical.md": ("3.1", "3.2", "3.3", "3.4", "3.4a", "3.5", "3.6", "4.4", "6.1", "6.2", "6.3", "6.4"),
    "sessions.md": ("1", "2", "3", "4", "5", "6", "7"),
}


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


# ---- checks after the file model ----------------------------------------------------------

class _Checker:
    """The checks a file's shape cannot express, each problem a RuleDefinitionError naming
    the file and the field."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, where: str, problem: str) -> RuleDefinitionError:
        return RuleDefinitionError(self.filename, where, problem)

    def known(self, values: list[str], where: str, choices: tuple[str, ...] | Mapping[str, Any],
              ) -> tuple[str, ...]:
        """``values``, each one of ``choices`` and none twice."""
        for i, value in enumerate(values):
            if value not in choices:
                raise self.fail(f"{where}[{i}]", f"'{value}' is not one of {', '.join(choices)}")
        return self.unique(values, where)

    def unique(self, values: list[str], where: str) -> tuple[str, ...]:
        if len(set(values)) != len(values):
            raise self.fail(where, "has duplicates")
        return tuple(values)


# ---- conditions ---------------------------------------------------------------------------

def _condition(r: _Checker, d: fm.Condition, where: str, ctx: _Context) -> Condition:
    here = f"{where}."
    if isinstance(d, fm.IsTrue | fm.IsFalse):
        kind, field = ("is_true", d.is_true) if isinstance(d, fm.IsTrue) else ("is_false", d.is_false)
        if INPUT_FIELDS.get(field) != "bool":
            raise r.fail(f"{here}{kind}", f"'{field}' is not a yes/no intake field")
        return IsTrue(field) if kind == "is_true" else IsFalse(field)
    if isinstance(d, fm.Compare):
        if d.compare not in COMPARABLE_FIELDS:
            raise r.fail(f"{here}compare", f"'{d.compare}' is not one of {', '.join(COMPARABLE_FIELDS)}")
        if (d.value is None) == (d.setting is None):
            raise r.fail(f"{here}value", "give exactly one of value (a fact) or setting (a clinic threshold)")
        if d.setting is not None:
            if d.setting not in ctx.settings:
                raise r.fail(f"{here}setting", f"'{d.setting}' is not defined in ruleset.json settings")
            return Compare(d.compare, d.op, setting=d.setting)
        return Compare(d.compare, d.op, value=d.value)
    if isinstance(d, fm.AnyOf):
        return AnyOf(tuple(_condition(r, p, f"{here}any[{i}]", ctx) for i, p in enumerate(d.any)))
    if isinstance(d, fm.AllOf):
        return AllOf(tuple(_condition(r, p, f"{here}all[{i}]", ctx) for i, p in enumerate(d.all)))
    if isinstance(d, fm.MedicationConsideration | fm.MedicationConsiderationAbsent):
        present = isinstance(d, fm.MedicationConsideration)
        kind = "medication_consideration" if present else "medication_consideration_absent"
        name = d.medication_consideration if isinstance(d, fm.MedicationConsideration) \
            else d.medication_consideration_absent
        if name not in ctx.considerations:
            raise r.fail(f"{here}{kind}", f"'{name}' is not one of {', '.join(ctx.considerations)}")
        return MedicationConsideration(name) if present else MedicationConsiderationAbsent(name)
    if isinstance(d, fm.MedicationUnrecognised):
        return MedicationUnrecognised()
    if isinstance(d, fm.HypersensitivityAnyOf):
        return HypersensitivityAnyOf(r.known(d.hypersensitivity_any_of,
                                             f"{here}hypersensitivity_any_of", ctx.ingredients))
    if isinstance(d, fm.HypersensitivityUnclear):
        return HypersensitivityUnclear(r.known(d.hypersensitivity_unclear_any_of,
                                               f"{here}hypersensitivity_unclear_any_of", ctx.ingredients))
    if isinstance(d, fm.HypersensitivityOtherThan):
        return HypersensitivityOtherThan(r.known(d.hypersensitivity_other_than,
                                                 f"{here}hypersensitivity_other_than", ctx.ingredients))
    if isinstance(d, fm.DiagnosisAnyOf):
        for i, code in enumerate(d.diagnosis_any_of):
            if diagnoses().get(code) is None:
                raise r.fail(f"{here}diagnosis_any_of[{i}]", f"'{code}' is not an ICD-10-CM code")
        return DiagnosisAnyOf(r.unique(d.diagnosis_any_of, f"{here}diagnosis_any_of"))
    if isinstance(d, fm.DiagnosisGroupAnyOf):
        return DiagnosisGroupAnyOf(r.known(d.diagnosis_group_any_of,
                                           f"{here}diagnosis_group_any_of", ctx.diagnosis_groups))
    return DiagnosisGroupNoneOf(r.known(d.diagnosis_group_none_of,
                                        f"{here}diagnosis_group_none_of", ctx.diagnosis_groups))


# ---- rules --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Context:
    settings: Mapping[str, Setting[float]]
    considerations: Mapping[str, str]
    diagnosis_groups: tuple[str, ...]
    ingredients: tuple[str, ...]


def parse_rule(data: Any, filename: str, ctx: _Context | None = None) -> Rule:
    """Validate one decoded rule (its shape through ``RuleFile``, then what it names
    against the rest of the data); raise RuleDefinitionError naming file and field."""
    ctx = ctx or _context()
    r = _Checker(filename)
    d = validate(RuleFile, data, r.fail)
    stem = Path(filename).stem
    if d.id != stem:
        raise r.fail("id", f"'{d.id}' must match the file name '{stem}'")
    if d.locked and d.evidence != "verified":
        raise r.fail("locked", "only a rule resting on verified entries can be locked")
    drugs = r.unique(list(d.drugs), "drugs")
    routes = ROUTES if d.routes == "all" else r.unique(list(d.routes), "routes")
    for i, name in enumerate(d.inputs):
        if name not in INPUT_FIELDS:
            raise r.fail(f"inputs[{i}]", f"'{name}' is not an intake field")
    inputs = r.unique(d.inputs, "inputs")
    when = _condition(r, d.when, "when", ctx)
    needed = condition_inputs(when)
    if set(inputs) != needed:
        raise r.fail("inputs", f"must list exactly the fields 'when' reads: {', '.join(sorted(needed))}")
    citations = []
    for i, c in enumerate(d.citations):
        if c.section not in CITABLE_SECTIONS[c.document]:
            raise r.fail(f"citations[{i}].section",
                         f"'{c.section}' is not one of {', '.join(CITABLE_SECTIONS[c.document])}")
        citations.append(Citation(c.document, c.section, c.row, c.source))
    return Rule(
        id=d.id, tests=d.tests, severity=d.severity, locked=d.locked, drugs=drugs,
        routes=tuple(routes), inputs=tuple(sorted(inputs)), when=when, message=d.message,
        action=d.action, citations=tuple(citations), evidence=d.evidence,
        evidence_note=d.evidence_note or "", source_file=filename,
    )


def load_rule(path: Path) -> Rule:
    """Read and validate one rule file against the shipped settings and medication table."""
    return parse_rule(_read_json(path), path.name)


def _read_json(path: Path) -> Any:
    return read_json(path, lambda field, problem: RuleDefinitionError(path.name, field, problem))


# ---- manifest, medications, plausibility ---------------------------------------------------

def parse_settings(data: Mapping[str, Threshold], filename: str) -> dict[str, Setting[float]]:
    """The manifest's clinic thresholds as settings; each default within its bounds."""
    r = _Checker(filename)
    out: dict[str, Setting[float]] = {}
    for name, s in data.items():
        where = f"settings.{name}."
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
    """The medication table: each class's considerations known, each name listed once."""
    r = _Checker(filename)
    d = validate(MedicationsFile, data, r.fail)
    by_name: dict[str, MedicationEntry] = {}
    for i, cl in enumerate(d.classes):
        where = f"classes[{i}]."
        cons = r.known(cl.considerations, f"{where}considerations", d.considerations)
        for j, m in enumerate(cl.members):
            mw = f"{where}members[{j}]."
            for k, name in enumerate((m.name, *m.added_aliases)):
                key = normalise_name(name)
                if key in by_name:
                    field = f"{mw}name" if k == 0 else f"{mw}added_aliases[{k - 1}]"
                    raise r.fail(field, f"'{name}' is already listed under {by_name[key].generic}")
                by_name[key] = MedicationEntry(name, m.name, m.atc, cl.id, cl.label, cons, k > 0)
    return MedicationTable(dict(d.considerations), by_name)


def parse_ingredients(data: Any, filename: str) -> IngredientTable:
    """The ingredient names: each from the reference or marked added, none listed twice."""
    from .hypersensitivity import words  # the matcher's own reading of a name

    r = _Checker(filename)
    d = validate(IngredientsFile, data, r.fail)
    ingredients: dict[str, Ingredient] = {}
    by_words: list[tuple[tuple[str, ...], Ingredient]] = []
    seen: dict[tuple[str, ...], str] = {}
    for i, io in enumerate(d.ingredients):
        where = f"ingredients[{i}]."
        if io.id in ingredients:
            raise r.fail(f"{where}id", "must be lower_snake_case and unique")
        names: list[str] = []
        added: list[str] = []
        name_words: list[tuple[str, ...]] = []
        for j, entry in enumerate(io.names):
            nw = f"{where}names[{j}]."
            if (entry.source is None) == (entry.added is None):
                raise r.fail(f"{nw}source", "give exactly one of source (the reference) or added (why)")
            key = words(entry.name)
            if not key or key in seen:
                raise r.fail(f"{nw}name", f"'{entry.name}' is empty or already listed under {seen.get(key)}")
            seen[key] = io.id
            (added if entry.added is not None else names).append(entry.name)
            name_words.append(key)
        ingredient = Ingredient(io.id, io.label, tuple(names), tuple(added))
        ingredients[io.id] = ingredient
        by_words.extend((key, ingredient) for key in name_words)
    return IngredientTable(ingredients, tuple(by_words))


def parse_plausibility(data: Any, filename: str) -> dict[str, PlausibilityLimit]:
    """The data-entry limits: each refusing range not empty."""
    r = _Checker(filename)
    d = validate(PlausibilityFile, data, r.fail)
    out = {}
    for name, f in d.fields.items():
        if f.reject_below >= f.reject_above:
            raise r.fail(f"fields.{name}.reject_below", "must be below reject_above")
        out[name] = PlausibilityLimit(name, f.unit, f.reject_below, f.reject_above,
                                      f.warn_below, f.warn_above)
    return out


@cache
def _manifest() -> Manifest:
    path = DATA_DIR / "ruleset.json"
    return validate(Manifest, _read_json(path), _Checker(path.name).fail)


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
    return _Context(parse_settings(_manifest().settings, "ruleset.json"),
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
def load_plausibility() -> dict[str, PlausibilityLimit]:
    """The plausibility limits alone (a bedside monitors' listener needs only them, not the
    rule set, which reads the whole ICD-10-CM code set)."""
    return parse_plausibility(_read_json(DATA_DIR / "plausibility.json"), "plausibility.json")


@cache
def load_ruleset() -> RuleSet:
    """The shipped rule set, validated once per process."""
    manifest = _manifest()
    rule_paths = sorted(RULES_DIR.glob("*.json"))
    rules = tuple(load_rule(p) for p in rule_paths)
    data_paths = sorted(DATA_DIR.glob("*.json"))
    plaus = load_plausibility()
    return RuleSet(
        version=manifest.version, digest=_digest(data_paths + rule_paths),
        title=manifest.title, citation=manifest.citation,
        settings=_context().settings, rules=rules, medications=_medications(),
        ingredients=_ingredients(), plausibility=plaus,
    )
