"""Kaplan-Meier for time to relapse (relapse per clinical.md 2, SUSTAIN-1 row; the estimator is
statistics: clinical.md is silent on it, so the checks are a textbook example and properties)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.clinical.outcomes import OutcomeError, kaplan_meier, kaplan_meier_from_counts

# Classic example: Freireich et al. 1963 (Blood 21:699), 6-MP arm of the leukaemia remission
# trial, 21 patients, weeks in remission; "+" = censored. Worked in Kleinbaum & Klein, Survival
# Analysis: A Self-Learning Text, ch. 2, and Klein & Moeschberger, Survival Analysis, Table 4.1A.
#   6 6 6 6+ 7 9+ 10 10+ 11+ 13 16 17+ 19+ 20+ 22 23 25+ 32+ 32+ 34+ 35+
SIX_MP_WEEKS = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]


def test_it_reproduces_the_6mp_kaplan_meier_table_worked_by_hand():
    km = kaplan_meier(SIX_MP_WEEKS, SIX_MP_EVENT)
    # Step by step, event times only (n = at risk, d = events; a tie puts censored ones at risk):
    # t=6:  n=21 (all), d=3 (the 6+ is still at risk)  S = 18/21             = 0.8571
    # t=7:  n=17 (21 - 3 events - the 6+),  d=1        S = 0.8571 * 16/17     = 0.8067
    # t=10: n=15 (17 - 7 - 9+),             d=1        S = 0.8067 * 14/15     = 0.7529
    # t=13: n=12 (15 - 10 - 10+ - 11+),     d=1        S = 0.7529 * 11/12     = 0.6902
    # t=16: n=11,                           d=1        S = 0.6902 * 10/11     = 0.6275
    # t=22: n=7  (11 - 16 - 17+ 19+ 20+),   d=1        S = 0.6275 * 6/7       = 0.5378
    # t=23: n=6,                            d=1        S = 0.5378 * 5/6       = 0.4482
    by_hand = {6: (21, 3, 18 / 21), 7: (17, 1, 18 / 21 * 16 / 17)}
    by_hand[10] = (15, 1, by_hand[7][2] * 14 / 15)
    by_hand[13] = (12, 1, by_hand[10][2] * 11 / 12)
    by_hand[16] = (11, 1, by_hand[13][2] * 10 / 11)
    by_hand[22] = (7, 1, by_hand[16][2] * 6 / 7)
    by_hand[23] = (6, 1, by_hand[22][2] * 5 / 6)
    for t, (n, d, s) in by_hand.items():
        i = int(np.searchsorted(km.times, t))
        assert (km.times[i], km.at_risk[i], km.events[i]) == (t, n, d)
        assert math.isclose(km.survival[i], s, rel_tol=1e-12)
    textbook = [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448]
    assert [round(float(s), 3) for s in km.survival_at(list(by_hand))] == textbook
    assert km.median() == 23.0  # first time S <= 0.5
    # censored counts at the tied times: one 6+ and one 10+; 32+ twice
    assert dict(zip(km.times.tolist(), km.censored.tolist(), strict=True))[32.0] == 2


def test_greenwood_standard_errors_match_the_textbook_6mp_table():
    km = kaplan_meier(SIX_MP_WEEKS, SIX_MP_EVENT)
    # Greenwood: Var S(t) = S(t)^2 * sum d/(n(n-d)).
    # t=6: 0.857143^2 * 3/(21*18) = 0.734694 * 0.0079365 = 0.0058309 -> se 0.0764
    # t=7: 0.806723^2 * (0.0079365 + 1/(17*16)) = 0.650802 * 0.0116131 = 0.0075578 -> se 0.0869
    expected = {6: 0.0764, 7: 0.0869, 10: 0.0963, 13: 0.1068, 16: 0.1141, 22: 0.1282, 23: 0.1346}
    for t, se in expected.items():
        i = int(np.searchsorted(km.times, t))
        assert round(float(km.std_err[i]), 4) == se


def test_the_95_percent_intervals_are_worked_by_hand_at_week_6():
    s, se = 18 / 21, math.sqrt((18 / 21) ** 2 * 3 / (21 * 18))
    plain = kaplan_meier(SIX_MP_WEEKS, SIX_MP_EVENT, ci_method="plain")
    assert math.isclose(plain.ci_lower[0], s - 1.959963984540054 * se)  # 0.7074
    assert s + 1.959963984540054 * se > 1.0 and plain.ci_upper[0] == 1.0  # 1.0068, clipped to 1
    # log-log (Kalbfleisch & Prentice): S^exp(+/- z * sqrt(sum) / |log S|)
    theta = 1.959963984540054 * math.sqrt(3 / (21 * 18)) / abs(math.log(s))
    loglog = kaplan_meier(SIX_MP_WEEKS, SIX_MP_EVENT)
    assert math.isclose(loglog.ci_lower[0], s ** math.exp(theta))   # 0.6197
    assert math.isclose(loglog.ci_upper[0], s ** math.exp(-theta))  # 0.9516
    assert round(float(loglog.ci_lower[0]), 4) == 0.6197 and round(float(loglog.ci_upper[0]), 4) == 0.9516


def test_grouped_counts_from_sql_give_the_same_curve_as_per_patient_rows():
    per_patient = kaplan_meier(SIX_MP_WEEKS, SIX_MP_EVENT)
    # GROUP BY duration: (time, events, censored), deliberately unordered with a split row
    grouped = kaplan_meier_from_counts([10, 6, 6, 7, 9, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 34, 35],
                                       [1, 2, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0],
                                       [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 2, 1, 1])
    for a, b in zip(per_patient, grouped, strict=True):
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b)
        else:
            assert a == b


def test_when_everyone_relapses_survival_reaches_zero_and_the_interval_is_the_point():
    km = kaplan_meier([3, 5, 5], [1, 1, 1])
    np.testing.assert_allclose(km.survival, [2 / 3, 0.0])
    assert km.ci_lower[-1] == km.ci_upper[-1] == 0.0 and km.std_err[-1] == 0.0
    assert km.median() == 5.0


def test_everyone_censored_gives_survival_one_and_no_median():
    km = kaplan_meier([4, 9, 9], [False, False, False])
    assert km.survival.tolist() == [1.0, 1.0] and km.events.tolist() == [0, 0]
    assert km.median() is None and km.ci_lower.tolist() == [1.0, 1.0]


def test_no_patients_gives_an_empty_table_and_survival_one():
    km = kaplan_meier([], [])
    assert km.times.size == 0 and km.survival_at([0, 10]).tolist() == [1.0, 1.0]
    assert km.to_dict()["median_days"] is None


def test_the_first_four_fields_are_times_survival_at_risk_events():
    times, survival, at_risk, events = kaplan_meier([1, 2], [1, 0])[:4]
    assert times.tolist() == [1, 2] and survival.tolist() == [0.5, 0.5]
    assert at_risk.tolist() == [2, 1] and events.tolist() == [1, 0]


@pytest.mark.parametrize("durations, events, message", [
    ([1, -2], [1, 1], "finite and >= 0"),
    ([1, float("nan")], [1, 1], "finite"),
    ([1, 2], [1], "entries"),
    ([1, 2], [1, 2], "0/1"),
    ([[1, 2]], [[1, 0]], "one-dimensional"),
])
def test_bad_input_is_refused_with_a_clear_message(durations, events, message):
    with pytest.raises(OutcomeError, match=message):
        kaplan_meier(durations, events)


def test_an_unknown_interval_method_is_refused():
    with pytest.raises(OutcomeError, match="ci_method"):
        kaplan_meier([1], [1], ci_method="arcsine")


def naive_km(durations, events):
    """Reference: a loop straight from the definition, for the property test."""
    out = {}
    s = 1.0
    for t in sorted(set(durations)):
        n = sum(1 for d in durations if d >= t)
        d = sum(1 for x, e in zip(durations, events, strict=True) if x == t and e)
        s *= 1 - d / n
        out[t] = s
    return out


cohorts = st.lists(st.tuples(st.integers(0, 60).map(float), st.booleans()), max_size=80)


@given(cohorts)
def test_survival_is_non_increasing_within_0_1_and_matches_the_definition(rows):
    durations = [d for d, _ in rows]
    events = [e for _, e in rows]
    km = kaplan_meier(durations, events, ci_method="plain")
    assert np.all(np.diff(km.survival) <= 1e-15)
    assert np.all((km.survival >= 0) & (km.survival <= 1))
    assert np.all((km.ci_lower <= km.survival + 1e-12) & (km.survival <= km.ci_upper + 1e-12))
    assert np.all((km.ci_lower >= 0) & (km.ci_upper <= 1))
    ref = naive_km(durations, events)
    assert km.times.tolist() == sorted(ref)
    np.testing.assert_allclose(km.survival, [ref[t] for t in sorted(ref)], rtol=1e-12, atol=1e-15)
    assert int(km.events.sum()) == sum(events) and int(km.censored.sum()) == len(rows) - sum(events)
    if rows:
        assert km.at_risk[0] == len(rows)


@given(cohorts)
def test_survival_is_one_before_the_first_event(rows):
    km = kaplan_meier([d for d, _ in rows], [e for _, e in rows])
    event_times = [d for d, e in rows if e]
    first = min(event_times) if event_times else 61.0
    probe = np.linspace(0, first, 25, endpoint=False)
    assert np.all(km.survival_at(probe[probe < first]) == 1.0)
    if event_times:
        assert km.survival_at(first) < 1.0


@given(st.lists(st.floats(0, 1000, allow_nan=False), max_size=60))
def test_an_all_censored_cohort_keeps_survival_at_one(durations):
    km = kaplan_meier(durations, [False] * len(durations))
    assert np.all(km.survival == 1.0) and km.median() is None


@given(cohorts)
def test_log_log_intervals_stay_in_0_1_and_bracket_the_estimate(rows):
    km = kaplan_meier([d for d, _ in rows], [e for _, e in rows])
    assert np.all((km.ci_lower >= 0) & (km.ci_upper <= 1))
    assert np.all((km.ci_lower <= km.survival + 1e-12) & (km.survival <= km.ci_upper + 1e-12))
