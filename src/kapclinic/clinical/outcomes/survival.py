"""Kaplan-Meier estimator (vectorised numpy) for time to relapse on the clinic dashboard.

Durations are days from response (or remission) to relapse, or to the last follow-up for
a censored patient (``OutcomeSummary.durability_days`` / ``durability_censored``; the
relapse definition is clinical.md 2, SUSTAIN-1 row; the reference's own time-to-relapse
figures, median 18 days after six infusions (Murrough 2013) and mean 16 days (Shiroma
2014), are the kind of number this curve shows). The estimator itself is statistics,
not clinical knowledge: clinical.md is silent on it.

References
----------
Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. J Am Stat
Assoc 1958;53:457-481. Greenwood M. The natural duration of cancer. Reports on Public
Health and Medical Subjects 1926;33:1-26. Kalbfleisch JD, Prentice RL. The Statistical
Analysis of Failure Time Data, 2nd ed., 2002, section 1.4 (log-log interval).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from .errors import OutcomeError
from .rates import Z_95

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CI_METHODS = ("log-log", "plain", "log")


class KaplanMeier(NamedTuple):
    """Kaplan-Meier table, one row per distinct observed time (event or censoring).

    The first four fields are ``(times, survival, at_risk, events)``:
    ``times`` (days, ascending), ``survival`` S(t) just after each time (S = 1 before the
    first time), ``at_risk`` patients with duration >= t, ``events`` relapses at t. Then
    ``censored`` at t, Greenwood standard error ``std_err`` of S(t), and the pointwise
    ``ci_lower``/``ci_upper`` interval at ``confidence`` by ``ci_method``.
    """

    times: FloatArray
    survival: FloatArray
    at_risk: IntArray
    events: IntArray
    censored: IntArray
    std_err: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray
    confidence: float
    ci_method: str

    def survival_at(self, t: npt.ArrayLike) -> FloatArray:
        """S(t) at each requested time ``t`` (days); the step is right-continuous, 1 before
        the first observed time."""
        query = np.asarray(t, dtype=np.float64)
        if self.times.size == 0:
            return np.ones_like(query)
        idx = np.searchsorted(self.times, query, side="right") - 1
        return np.asarray(np.where(idx >= 0, self.survival[np.clip(idx, 0, None)], 1.0), dtype=np.float64)

    def median(self) -> float | None:
        """Median time to event (days): the first time S(t) <= 0.5; None if not reached."""
        hit = np.nonzero(self.survival <= 0.5)[0]
        return float(self.times[hit[0]]) if hit.size else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready columns (lists) for a dashboard chart and its accessible table."""
        return {"times_days": self.times.tolist(), "survival": self.survival.tolist(),
                "at_risk": self.at_risk.tolist(), "events": self.events.tolist(),
                "censored": self.censored.tolist(), "std_err": self.std_err.tolist(),
                "ci_lower": self.ci_lower.tolist(), "ci_upper": self.ci_upper.tolist(),
                "confidence": self.confidence, "ci_method": self.ci_method,
                "median_days": self.median()}


def _as_durations(values: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise OutcomeError(f"{name} must be one-dimensional")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise OutcomeError(f"{name} must be finite and >= 0 (days)")
    return arr


def _as_counts(values: npt.ArrayLike, name: str, size: int) -> IntArray:
    raw = np.asarray(values)
    if raw.ndim != 1 or raw.size != size:
        raise OutcomeError(f"{name} must be one-dimensional with {size} entries")
    if raw.size and (raw.dtype.kind not in "biuf" or np.any(raw < 0) or np.any(raw != np.round(raw))):
        raise OutcomeError(f"{name} must be whole numbers >= 0")
    return raw.astype(np.int64)


def kaplan_meier_from_counts(times_days: npt.ArrayLike, events: npt.ArrayLike,
                             censored: npt.ArrayLike, *, ci_method: str = "log-log",
                             z: float = Z_95) -> KaplanMeier:
    """Kaplan-Meier from grouped counts, e.g. SQL ``GROUP BY duration_days``.

    ``times_days`` (>= 0, any order, repeats are summed), ``events`` and ``censored``
    (patient counts at each time). Ties: at a time with both events and censorings the
    censored patients count as at risk for those events (the usual convention, Kaplan &
    Meier 1958). S(t) = prod over event times t_i <= t of (1 - d_i / n_i); Greenwood
    Var S(t) = S(t)^2 sum d_i / (n_i (n_i - d_i)). ``ci_method``: ``"log-log"`` (default;
    S^exp(+/- z se / log S), stays in [0, 1]), ``"log"`` (S exp(+/- z se/S), capped at 1)
    or ``"plain"`` (S +/- z se, clipped to [0, 1]). Where S = 1 or S = 0 the interval is
    the point itself. clinical.md is silent on survival statistics (see module docstring).
    """
    if ci_method not in CI_METHODS:
        raise OutcomeError(f"ci_method {ci_method!r} is not one of {list(CI_METHODS)}")
    if isinstance(z, bool) or not isinstance(z, int | float) or not (math.isfinite(z) and z > 0):
        raise OutcomeError(f"z {z!r} must be a positive number")
    t = _as_durations(times_days, "times_days")
    d_in = _as_counts(events, "events", t.size)
    c_in = _as_counts(censored, "censored", t.size)
    uniq, inverse = np.unique(t, return_inverse=True)
    d = np.bincount(inverse, weights=d_in, minlength=uniq.size).astype(np.int64)
    c = np.bincount(inverse, weights=c_in, minlength=uniq.size).astype(np.int64)
    keep = (d + c) > 0
    uniq, d, c = uniq[keep], d[keep], c[keep]
    at_risk = np.cumsum((d + c)[::-1])[::-1].astype(np.int64)

    n = at_risk.astype(np.float64)
    factor = 1.0 - d / n
    survival = np.cumprod(factor)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(d > 0, d / (n * (n - d)), 0.0)  # inf where n == d (S drops to 0)
    greenwood = np.cumsum(term)  # sum d_i / (n_i (n_i - d_i)) = Var(log S) (delta method)
    positive = survival > 0
    std_err = np.where(positive, survival * np.sqrt(np.where(positive, greenwood, 0.0)), 0.0)

    lower = survival.copy()
    upper = survival.copy()
    inner = positive & (survival < 1.0)
    se_log = np.sqrt(np.where(inner, greenwood, 0.0))
    if ci_method == "plain":
        lower = np.where(inner, np.clip(survival - z * std_err, 0.0, 1.0), lower)
        upper = np.where(inner, np.clip(survival + z * std_err, 0.0, 1.0), upper)
    elif ci_method == "log":
        lower = np.where(inner, survival * np.exp(-z * se_log), lower)
        upper = np.where(inner, np.minimum(1.0, survival * np.exp(z * se_log)), upper)
    else:
        log_s = np.log(np.where(inner, survival, 0.5))
        theta = z * se_log / np.abs(log_s)
        lower = np.where(inner, survival ** np.exp(theta), lower)
        upper = np.where(inner, survival ** np.exp(-theta), upper)
    confidence = float(round(2 * _normal_cdf(z) - 1, 6))
    f64 = np.float64
    return KaplanMeier(uniq.astype(f64), np.asarray(survival, dtype=f64), at_risk, d, c,
                       np.asarray(std_err, dtype=f64), np.asarray(lower, dtype=f64),
                       np.asarray(upper, dtype=f64), confidence, ci_method)


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def kaplan_meier(durations_days: npt.ArrayLike, event_observed: npt.ArrayLike, *,
                 ci_method: str = "log-log", z: float = Z_95) -> KaplanMeier:
    """Kaplan-Meier estimate of time to relapse from per-patient data.

    ``durations_days``: days from response/remission to relapse or censoring (>= 0);
    ``event_observed``: True/1 for relapse, False/0 for censored (no relapse yet).
    Returns ``KaplanMeier`` whose first four fields are ``(times, survival, at_risk,
    events)``, with Greenwood standard errors and a 95% interval (``ci_method`` as in
    ``kaplan_meier_from_counts``). Empty input gives empty arrays.
    """
    t = _as_durations(durations_days, "durations_days")
    e = np.asarray(event_observed)
    if e.ndim != 1 or e.size != t.size:
        raise OutcomeError(f"event_observed must be one-dimensional with {t.size} entries")
    if e.size and (e.dtype.kind not in "biuf" or not np.all((e == 0) | (e == 1))):
        raise OutcomeError("event_observed must be booleans or 0/1")
    observed = e.astype(bool)
    return kaplan_meier_from_counts(t, observed.astype(np.int64), (~observed).astype(np.int64),
                                    ci_method=ci_method, z=z)
