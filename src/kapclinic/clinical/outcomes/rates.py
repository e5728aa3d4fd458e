"""Dashboard rates from already-aggregated counts (the app counts in SQL), with Wilson intervals.

A rate here is a plain proportion of patients (responders / patients with a baseline and
a follow-up, etc.); which patients count is the caller's query. clinical.md 2 defines the
per-patient response and remission rules; it says nothing about interval methods, so the
Wilson score interval (Wilson 1927 JASA 22:209; recommended over the Wald interval by
Newcombe 1998 Stat Med 17:857) is an engineering choice, not a clinical fact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import OutcomeError

Z_95 = 1.959963984540054  # standard normal 97.5th percentile


@dataclass(frozen=True)
class Proportion:
    """``count`` of ``n`` with ``rate`` (0-1, None when n = 0) and a two-sided interval."""

    count: int
    n: int
    rate: float | None
    ci_lower: float | None
    ci_upper: float | None
    confidence: float
    method: str

    @property
    def percent(self) -> float | None:
        """``rate`` as a percentage (0-100), None when n = 0."""
        return None if self.rate is None else self.rate * 100.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"count": self.count, "n": self.n, "rate": self.rate, "percent": self.percent,
                "ci_lower": self.ci_lower, "ci_upper": self.ci_upper,
                "confidence": self.confidence, "method": self.method}


def wilson_interval(count: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for ``count`` successes of ``n`` (proportions, 0-1).

    (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), p = count/n. Exact ends:
    lower is 0 when count = 0, upper is 1 when count = n. Wilson 1927; Newcombe 1998.
    Not from clinical.md (which gives no interval method).
    """
    _check_counts(count, n)
    if n == 0:
        raise OutcomeError("wilson_interval: n is 0, the interval is undefined")
    if not (math.isfinite(z) and z > 0):
        raise OutcomeError(f"wilson_interval: z {z!r} must be a positive number")
    p = count / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    denom = 1 + z2 / n
    lower = 0.0 if count == 0 else max(0.0, (centre - half) / denom)
    upper = 1.0 if count == n else min(1.0, (centre + half) / denom)
    return lower, upper


def _check_counts(count: int, n: int) -> None:
    for name, value in (("count", count), ("n", n)):
        if type(value) is not int or value < 0:
            raise OutcomeError(f"{name} {value!r} must be a whole number >= 0")
    if count > n:
        raise OutcomeError(f"count {count} is more than n {n}")


def proportion(count: int, n: int) -> Proportion:
    """``count`` of ``n`` (patients) as a rate with a Wilson 95% interval; rate None when n = 0."""
    _check_counts(count, n)
    if n == 0:
        return Proportion(count, n, None, None, None, 0.95, "wilson")
    lower, upper = wilson_interval(count, n)
    return Proportion(count, n, count / n, lower, upper, 0.95, "wilson")


def response_rate(responders: int, n: int) -> Proportion:
    """Responders / patients evaluable for response, Wilson 95% CI. Response per patient is
    the instrument's change rule (clinical.md 2, e.g. PHQ-9 / MADRS >= 50% reduction)."""
    return proportion(responders, n)


def remission_rate(remitters: int, n: int) -> Proportion:
    """Remitters / patients evaluable, Wilson 95% CI. Remission per patient is the
    instrument's remission rule (clinical.md 2, e.g. PHQ-9 < 5, MADRS <= clinic setting)."""
    return proportion(remitters, n)


def relapse_rate(relapsed: int, n: int) -> Proportion:
    """Crude relapsed / patients at risk (responders or remitters), Wilson 95% CI. Ignores
    follow-up time: use ``kaplan_meier`` for time to relapse (clinical.md 2 SUSTAIN-1 row)."""
    return proportion(relapsed, n)
