"""``evaluate``: run every applicable rule over a validated intake and decide a status.

Rules use three-valued logic: a condition is true, false or unknown (its input is absent or
null). A rule fires when its condition is true. Every input that an applicable rule needs and
the intake lacks is reported as missing, so missing information can never pass silently.

Status precedence (issue 4): any ``exclude`` -> ``not_eligible``; else any ``review`` or
anything missing -> ``needs_review``; else any ``caution`` -> ``eligible_with_cautions``;
else ``eligible``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from kapclinic.clinical.codes import DiagnosisTable, diagnoses

from .clinic_settings import SEVERITY_RANK, ClinicSettings, resolve_settings
from .definitions import (
    DRUGS,
    ROUTES,
    AllOf,
    AnyOf,
    Compare,
    Condition,
    DiagnosisAnyOf,
    DiagnosisGroupAnyOf,
    DiagnosisGroupNoneOf,
    HypersensitivityAnyOf,
    HypersensitivityOtherThan,
    HypersensitivityUnclear,
    IsFalse,
    IsTrue,
    MedicationConsideration,
    MedicationConsiderationAbsent,
    MedicationUnrecognised,
    Rule,
    RuleSet,
    load_ruleset,
)
from .errors import ScreeningInputError
from .hypersensitivity import (
    NO_ALLERGY,
    STATED,
    UNCLEAR,
    HypersensitivityMatch,
    read_hypersensitivity,
    split_entries,
)
from .intake import Intake, validate_intake
from .medications import MedicationMatch, match_medication
from .schema import HISTORY_KEYS, comparison_words

STATUSES = ("eligible", "eligible_with_cautions", "needs_review", "not_eligible")


@dataclass(frozen=True)
class FiredRule:
    """A rule that fired, with what a clinician reads and where it comes from."""

    id: str
    severity: str
    tests: str
    message: str
    action: str
    citation: str  # as a clinician reads it
    reference: str  # where the project's reference files keep the fact
    evidence: str
    evidence_note: str
    details: tuple[str, ...]  # e.g. the medications or diagnoses that matched
    locked: bool = False  # a label contraindication: no clinic setting or override relaxes it

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity, "tests": self.tests, "message": self.message,
                "action": self.action, "citation": self.citation, "reference": self.reference,
                "evidence": self.evidence, "evidence_note": self.evidence_note, "details": list(self.details),
                "locked": self.locked}


@dataclass(frozen=True)
class Decision:
    """The outcome of screening one intake. Equal inputs give an equal Decision."""

    status: str
    drug: str
    route: str | None
    rules: tuple[FiredRule, ...]
    missing: tuple[str, ...]
    missing_for: Mapping[str, tuple[str, ...]]  # field -> ids of the rules that need it
    unrecognised_medications: tuple[str, ...]
    medications: tuple[str, ...]  # how each medication was matched
    hypersensitivities: tuple[str, ...]  # how each recorded hypersensitivity was read
    warnings: tuple[str, ...]
    unassessed: tuple[str, ...]  # "yes" answers no rule reads: for the prescriber to weigh
    evaluated_on: date
    age_years: int | None
    ruleset_version: str
    ruleset_digest: str
    settings_changed: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``--json`` output and what the app stores)."""
        return {
            "status": self.status,
            "drug": self.drug,
            "route": self.route,
            "rules": [r.to_dict() for r in self.rules],
            "missing": list(self.missing),
            "missing_for": {k: list(v) for k, v in self.missing_for.items()},
            "unrecognised_medications": list(self.unrecognised_medications),
            "medications": list(self.medications),
            "hypersensitivities": list(self.hypersensitivities),
            "warnings": list(self.warnings),
            "unassessed": list(self.unassessed),
            "evaluated_on": self.evaluated_on.isoformat(),
            "age_years": self.age_years,
            "ruleset_version": self.ruleset_version,
            "ruleset_digest": self.ruleset_digest,
            "settings_changed": dict(self.settings_changed),
        }


# Under this age a parent or guardian co-signs consent (clinical.md 3.5, special populations).
ADULT_AGE_YEARS = 18


def is_minor(age_years: int) -> bool:
    return age_years < ADULT_AGE_YEARS


def age_on(born: date, on: date) -> int:
    """Completed years of age on ``on`` (a 29 February birthday counts from 1 March)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass(frozen=True)
class _Facts:
    intake: Intake
    age_years: int | None
    medications: tuple[MedicationMatch, ...] | None
    hypersensitivities: tuple[HypersensitivityMatch, ...] | None
    settings: ClinicSettings

    def field(self, name: str) -> Any:
        return self.age_years if name == "age_years" else self.intake.get(name)


_Result = tuple[bool | None, tuple[str, ...]]


def _check(cond: Condition, facts: _Facts) -> _Result:
    if isinstance(cond, AnyOf):
        results = [_check(p, facts) for p in cond.parts]
        hits = tuple(d for v, ds in results if v for d in ds)
        if any(v for v, _ in results):
            return True, hits
        return (None if any(v is None for v, _ in results) else False), ()
    if isinstance(cond, AllOf):
        results = [_check(p, facts) for p in cond.parts]
        if any(v is False for v, _ in results):
            return False, ()
        if any(v is None for v, _ in results):
            return None, ()
        return True, tuple(d for _, ds in results for d in ds)
    if isinstance(cond, IsTrue | IsFalse):
        value = facts.field(cond.field)
        return (None, ()) if value is None else (value is isinstance(cond, IsTrue), ())
    if isinstance(cond, Compare):
        value = facts.field(cond.field)
        if value is None:
            return None, ()
        limit = facts.settings.thresholds[cond.setting] if cond.setting else cond.value
        assert limit is not None
        hit = {">": value > limit, ">=": value >= limit, "<": value < limit, "<=": value <= limit}[cond.op]
        return hit, ((comparison_words(cond.field, value, cond.op, limit),) if hit else ())
    if isinstance(cond, MedicationConsiderationAbsent):
        if facts.medications is None:
            return None, ()
        carrying = [m for m in facts.medications if m.entry and cond.consideration in m.entry.considerations]
        return (False, ()) if carrying else (True, tuple(m.describe() for m in facts.medications)
                                             or ("no medications recorded",))
    if isinstance(cond, MedicationConsideration | MedicationUnrecognised):
        if facts.medications is None:
            return None, ()
        if isinstance(cond, MedicationUnrecognised):
            matched = [m for m in facts.medications if m.entry is None]
        else:
            matched = [m for m in facts.medications
                       if m.entry is not None and cond.consideration in m.entry.considerations]
        return bool(matched), tuple(m.describe() for m in matched)
    if isinstance(cond, HypersensitivityAnyOf | HypersensitivityUnclear | HypersensitivityOtherThan):
        if facts.hypersensitivities is None:
            return None, ()
        if isinstance(cond, HypersensitivityOtherThan):
            found = [h for h in facts.hypersensitivities if h.reading != NO_ALLERGY and not (
                h.ingredient is not None and h.ingredient.id in cond.ingredients)]
        else:
            reading = UNCLEAR if isinstance(cond, HypersensitivityUnclear) else STATED
            found = [h for h in facts.hypersensitivities if h.names(cond.ingredients, reading)]
        return bool(found), tuple(h.describe() for h in found)
    codes = facts.intake.get("diagnoses")
    if codes is None:
        return None, ()
    table = diagnoses()
    if isinstance(cond, DiagnosisAnyOf):
        hits = tuple(c for c in codes if c in cond.codes)
        return bool(hits), hits
    assert isinstance(cond, DiagnosisGroupAnyOf | DiagnosisGroupNoneOf)
    in_groups = tuple(c for c in codes if _group(table, c) in cond.groups)
    if isinstance(cond, DiagnosisGroupAnyOf):
        return bool(in_groups), in_groups
    if in_groups:
        return False, ()
    return True, codes or ("no diagnosis recorded",)


def _group(table: DiagnosisTable, code: str) -> str:
    found = table.get(code)
    assert found is not None  # the intake was validated
    return found.group


def evaluate(intake: Mapping[str, Any], drug: str = "ketamine", route: str | None = None,
             settings: Mapping[str, Any] | None = None, *, as_of: date | None = None,
             ruleset: RuleSet | None = None) -> Decision:
    """Screen ``intake`` for ``drug`` (and ``route``; None = not chosen yet, every route's rules apply).

    ``as_of`` is the evaluation date that ages are computed against (default: today).
    Raises ``IntakeError``, ``SettingsError`` or ``ScreeningInputError`` (all ValueError
    subclasses naming the field) for invalid input.
    """
    if drug not in DRUGS:
        raise ScreeningInputError("drug", f"'{drug}' is not one of {', '.join(DRUGS)}")
    if route is not None and route not in ROUTES:
        raise ScreeningInputError("route", f"'{route}' is not one of {', '.join(ROUTES)}")
    on = date.today() if as_of is None else as_of
    if not isinstance(on, date):
        raise ScreeningInputError("as_of", "must be a date")
    rs = ruleset or load_ruleset()
    clinic = resolve_settings(settings, rs)
    checked = validate_intake(intake, on, rs.plausibility)
    born = checked.get("date_of_birth")
    meds = checked.get("medications")
    matches = None if meds is None else tuple(match_medication(m, rs.medications) for m in meds)
    written = checked.get("hypersensitivities")
    allergies = None if written is None else tuple(
        read_hypersensitivity(part, rs.ingredients) for entry in written for part in split_entries(entry))
    facts = _Facts(checked, None if born is None else age_on(born, on), matches, allergies, clinic)

    fired: list[FiredRule] = []
    missing_for: dict[str, list[str]] = {}
    read_by_rules: set[str] = set()
    for rule in rs.rules:
        if not rule.applies_to(drug, route) or rule.id in clinic.disabled_rules:
            continue
        read_by_rules.update(rule.inputs)
        hit, details = _check(rule.when, facts)
        if hit is not False:  # a rule already decided "no" needs nothing more
            for name in rule.inputs:
                if checked.get(name) is None:
                    missing_for.setdefault(name, []).append(rule.id)
        if hit:
            fired.append(_fired(rule, clinic.rule_severity.get(rule.id, rule.severity), details))
    fired.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.id))
    severities = {f.severity for f in fired}
    if "exclude" in severities:
        status = "not_eligible"
    elif "review" in severities or missing_for:
        status = "needs_review"
    elif "caution" in severities:
        status = "eligible_with_cautions"
    else:
        status = "eligible"
    return Decision(
        status=status, drug=drug, route=route, rules=tuple(fired),
        missing=tuple(sorted(missing_for)),
        missing_for={k: tuple(sorted(v)) for k, v in sorted(missing_for.items())},
        unrecognised_medications=tuple(m.written for m in matches or () if m.entry is None),
        medications=tuple(m.describe() for m in matches or ()),
        hypersensitivities=tuple(h.describe() for h in allergies or ()),
        warnings=checked.warnings, unassessed=_unassessed(checked, read_by_rules), evaluated_on=on,
        age_years=facts.age_years,
        ruleset_version=rs.version, ruleset_digest=rs.digest, settings_changed=clinic.changed,
    )


def _unassessed(checked: Intake, read_by_rules: set[str]) -> tuple[str, ...]:
    """History answered "yes" that no applicable rule reads (e.g. seizures): the prescriber
    must still see it."""
    return tuple(f"history.{key}" for key in HISTORY_KEYS
                 if checked.get(f"history.{key}") is True and f"history.{key}" not in read_by_rules)


def _fired(rule: Rule, severity: str, details: tuple[str, ...]) -> FiredRule:
    return FiredRule(id=rule.id, severity=severity, tests=rule.tests, message=rule.message,
                     action=rule.action, citation=rule.citation, reference=rule.reference,
                     evidence=rule.evidence, locked=rule.locked,
                     evidence_note=rule.evidence_note, details=details)
