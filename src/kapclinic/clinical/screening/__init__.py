"""Eligibility screening for ketamine (racemic) and esketamine: rules as data, an evaluator.

Pure Python: no Django and no I/O beyond the package's own data files. Every rule cites the
clinical.md row it rests on (sections 3, 4.4 and 6) and says whether that row is verified,
unverified or policy. See README.md in this package for the intake shape, the rule format
and the clinic settings.

Public API: ``evaluate``, ``Decision``, ``FiredRule``, ``load_ruleset``, ``default_settings``,
``age_on`` and the errors (all ``ValueError`` subclasses naming a field).
"""

from __future__ import annotations

from .clinic_settings import default_settings
from .definitions import DRUGS, ROUTES, Rule, RuleSet, load_rule, load_ruleset
from .engine import ADULT_AGE_YEARS, STATUSES, Decision, FiredRule, age_on, evaluate, is_minor
from .errors import IntakeError, RuleDefinitionError, ScreeningError, ScreeningInputError, SettingsError

__all__ = [
    "ADULT_AGE_YEARS", "DRUGS", "ROUTES", "STATUSES", "Decision", "FiredRule", "IntakeError",
    "Rule", "RuleDefinitionError", "RuleSet", "ScreeningError", "ScreeningInputError",
    "SettingsError", "age_on", "default_settings", "evaluate", "is_minor", "load_rule",
    "load_ruleset",
]
