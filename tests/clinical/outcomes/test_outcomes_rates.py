"""Dashboard rates from SQL-aggregated counts with Wilson 95% intervals. Per-patient response and
remission are clinical.md 2 rules; the interval method is statistics (clinical.md is silent)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.clinical.outcomes import (
    OutcomeError,
    proportion,
    relapse_rate,
    remission_rate,
    response_rate,
    wilson_interval,
)


@pytest.mark.parametrize("count, n, lower, upper", [
    # Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of
    # seven methods. Stat Med 1998;17:857-872, Table I, method 3 (Wilson score, no correction).
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_the_wilson_interval_matches_newcombe_1998_table_1(count, n, lower, upper):
    lo, hi = wilson_interval(count, n)
    assert round(lo, 4) == lower and round(hi, 4) == upper


def test_the_wilson_interval_is_worked_by_hand_for_7_of_10():
    # p = 0.7, z = 1.96: centre = 0.7 + 1.96^2/20 = 0.89208; half = 1.96 sqrt(0.021 + 1.96^2/400)
    # = 1.96 sqrt(0.0306040) = 0.342884; denom = 1 + 1.96^2/10 = 1.38416
    # lower = (0.89208 - 0.342884)/1.38416 = 0.3968; upper = (0.89208 + 0.342884)/1.38416 = 0.8922
    lo, hi = wilson_interval(7, 10, z=1.96)
    assert math.isclose(lo, 0.3968, abs_tol=5e-5) and math.isclose(hi, 0.8922, abs_tol=5e-5)


def test_a_response_rate_reports_count_n_rate_percent_and_a_95_percent_interval_per_clinical_md_2():
    r = response_rate(12, 40)
    assert (r.count, r.n, r.rate, r.percent, r.confidence, r.method) == (12, 40, 0.3, 30.0, 0.95, "wilson")
    assert r.ci_lower < 0.3 < r.ci_upper
    assert r.to_dict()["ci_upper"] == r.ci_upper


def test_no_patients_gives_no_rate_rather_than_zero():
    r = remission_rate(0, 0)
    assert r.rate is None and r.ci_lower is None and r.percent is None


@pytest.mark.parametrize("count, n", [(-1, 5), (6, 5), (1.5, 5), (True, 5)])
def test_impossible_counts_are_refused(count, n):
    with pytest.raises(OutcomeError):
        relapse_rate(count, n)


def test_wilson_needs_at_least_one_patient():
    with pytest.raises(OutcomeError, match="n is 0"):
        wilson_interval(0, 0)


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_the_wilson_interval_lies_in_0_1_and_contains_the_observed_rate(case):
    count, n = case
    p = proportion(count, n)
    assert 0.0 <= p.ci_lower <= p.rate <= p.ci_upper <= 1.0


@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_the_wilson_interval_is_symmetric_under_swapping_successes_and_failures(case):
    count, n = case
    lo, hi = wilson_interval(count, n)
    lo2, hi2 = wilson_interval(n - count, n)
    assert math.isclose(lo, 1 - hi2, abs_tol=1e-12) and math.isclose(hi, 1 - lo2, abs_tol=1e-12)
