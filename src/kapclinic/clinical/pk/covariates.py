"""Patient covariates and the published effects they have on a model's parameters."""

from __future__ import annotations

from dataclasses import dataclass

from .definitions import UNITS, ModelDefinition
from .errors import PKInputError

AGE_LIMITS_YEARS = (0.0, 120.0)  # [policy] plausibility; beyond it an age is a typo


@dataclass(frozen=True)
class Covariates:
    """What the user told us about the patient; ``None`` / False means not given."""

    asian: bool = False
    japanese: bool = False
    age_years: float | None = None

    @property
    def given(self) -> bool:
        return self.asian or self.japanese or self.age_years is not None


def check_covariates(asian: object = None, japanese: object = None,
                     age_years: object = None) -> Covariates:
    """Validate covariate inputs; ``PKInputError`` names the field."""
    flags = {}
    for name, value in (("asian", asian), ("japanese", japanese)):
        if value is not None and not isinstance(value, bool):
            raise PKInputError(name, f"{name} must be true or false, got {value!r}")
        flags[name] = bool(value)
    age = None
    if age_years is not None:
        if isinstance(age_years, bool) or not isinstance(age_years, int | float):
            raise PKInputError("age_years", f"age_years must be a number, got {age_years!r}")
        age = float(age_years)
        lo, hi = AGE_LIMITS_YEARS
        if not lo < age <= hi:
            raise PKInputError("age_years", f"age_years must be more than {lo:g} and at most "
                               f"{hi:g} years, got {age_years!r}")
    return Covariates(flags["asian"], flags["japanese"], age)


def apply(defn: ModelDefinition, typical: dict[str, float],
          cov: Covariates) -> list[str]:
    """Change typical values (internal units) in place; return what was applied or not.

    Japanese patients take the Asian effects too (Japanese are Asian subjects; with both,
    Perez-Ruixo Table 4's Japanese Cmax is reproduced, pk.md 3.4).
    """
    notes: list[str] = []
    if not cov.given:
        return notes
    effects = defn.covariates
    if not effects:
        given = [n for n, v in (("Asian", cov.asian), ("Japanese", cov.japanese),
                                ("age", cov.age_years is not None)) if v]
        notes.append(f"{', '.join(given)}: {defn.name} has no published covariate effect "
                     "in pk.md; not applied")
        return notes
    ages = defn.fitted_population.get("age_years")
    youngest = ages.low if ages is not None else None
    if cov.age_years is not None and youngest is not None and cov.age_years < youngest:
        raise PKInputError("age_years", f"{defn.name} was fitted in adults "
                           f"({youngest:g} years and over); age_years "
                           f"{cov.age_years:g} is outside it")
    asian = cov.asian or cov.japanese
    if cov.japanese and not cov.asian:
        notes.append("Japanese: the Asian effects are applied too")
    for e in effects:
        if e.effect == "multiply" and ((e.covariate == "asian" and asian)
                                       or (e.covariate == "japanese" and cov.japanese)):
            value = typical[e.parameter] * e.value
            if defn.parameters[e.parameter].kind == "fraction":
                value = min(value, 0.999)
            typical[e.parameter] = value
            notes.append(f"{e.covariate}: {e.parameter} x{e.value:g} [{e.evidence}] "
                         f"({e.source})")
        elif e.effect == "per_year_above" and cov.age_years is not None \
                and e.threshold is not None and cov.age_years > e.threshold:
            years = cov.age_years - e.threshold
            typical[e.parameter] += e.value * UNITS[e.unit][1] * years
            notes.append(f"age {cov.age_years:g}: {e.parameter} {e.value:+g} {e.unit} per year "
                         f"above {e.threshold:g} [{e.evidence}] ({e.source})")
    return notes
