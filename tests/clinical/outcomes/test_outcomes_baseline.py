"""Baseline per course or episode (clinical.md 2 encoding guidance: "store baseline per treatment
episode" [policy]; the reference is silent on which score is the baseline, so the rule is a setting)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kapclinic.clinical.instruments import percent_reduction
from kapclinic.clinical.outcomes import (
    OutcomeSettingError,
    OutcomeSettings,
    ScorePoint,
    ScoreSeries,
    SeriesError,
    baseline,
    load_rules,
    reduction_points,
)
from kapclinic.clinical.outcomes import percent_reduction as outcomes_percent_reduction

START = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return START + timedelta(days=n)


def phq9(*pairs, **starts) -> ScoreSeries:
    return ScoreSeries.from_pairs("phq9", [(day(d), v) for d, v in pairs], **starts)


def test_the_baseline_is_the_last_score_on_or_before_the_start_within_the_window_per_clinical_md_2_policy():
    series = phq9((-20, 22), (-10, 18), (-1, 16), (0, 15), (3, 9), course_start=START)
    b = baseline(series, START)
    assert (b.total, b.taken_at, b.source) == (15, START, "last_before_start")


def test_a_score_older_than_the_window_is_skipped_for_the_first_later_score_per_clinical_md_2_policy():
    series = phq9((-15, 22), (2, 18), (9, 9))
    b = baseline(series, START)  # default window 14 days: day -15 is too old
    assert (b.total, b.source) == (18, "first_after_start")
    assert baseline(series, START, window_days=15).total == 22


def test_a_clinic_can_refuse_a_post_start_baseline_per_clinical_md_2_policy():
    series = phq9((2, 18), (9, 9))
    assert baseline(series, START, fallback="none") is None


def test_without_a_start_the_baseline_is_the_first_score_per_clinical_md_2_policy():
    b = baseline(phq9((5, 20), (1, 24), (9, 9)))
    assert (b.total, b.source, b.start) == (24, "first_score", None)


def test_an_empty_series_has_no_baseline():
    assert baseline(phq9()) is None


def test_the_window_edge_is_inclusive_to_the_second_per_clinical_md_2_policy():
    assert baseline(phq9((-14, 20), (3, 9)), START).total == 20
    late = ScoreSeries("phq9", (ScorePoint(day(-14) - timedelta(seconds=1), 20), ScorePoint(day(3), 9)))
    assert baseline(late, START).source == "first_after_start"


def test_the_baseline_rule_id_names_its_settings_and_the_rules_version():
    b = baseline(phq9((-1, 20)), START, window_days=7, anchor="episode")
    expected = "baseline(anchor=episode,window_days=7,fallback=first_after_start)"
    assert b.rule_id == f"{load_rules().rules_version}:{expected}"


def test_the_default_window_is_the_labelled_setting_in_outcomes_json_and_says_clinical_md_is_silent():
    spec = load_rules().settings["baseline_window_days"]
    assert spec.default == 14 and spec.evidence == "policy" and "silent" in spec.source
    assert OutcomeSettings().baseline_window_days == 14


def test_a_window_outside_its_range_is_refused_naming_the_setting():
    with pytest.raises(OutcomeSettingError, match="baseline_window_days"):
        baseline(phq9((-1, 20)), START, window_days=-1)


def test_scores_are_sorted_by_time_whatever_the_input_order():
    series = phq9((9, 9), (-1, 20), (3, 12))
    assert [p.total for p in series.points] == [20, 12, 9]


def test_a_naive_datetime_is_refused_naming_the_field():
    with pytest.raises(SeriesError, match="no timezone"):
        ScorePoint(datetime(2025, 1, 1), 10)
    with pytest.raises(SeriesError, match="course_start"):
        ScoreSeries("phq9", (), course_start=datetime(2025, 1, 1))


def test_a_non_finite_total_is_refused():
    with pytest.raises(SeriesError, match="finite"):
        ScorePoint(START, float("nan"))


def test_a_start_in_another_zone_is_the_same_instant():
    plus2 = timezone(timedelta(hours=2))
    series = phq9((0, 20), (3, 9))
    assert baseline(series, START.astimezone(plus2)).total == 20


def test_percent_change_is_baseline_minus_current_over_baseline_reused_from_instruments_per_clinical_md_2():
    assert outcomes_percent_reduction is percent_reduction
    assert percent_reduction(20, 5) == 75.0
    assert reduction_points(20, 5) == 15.0 and reduction_points(10, 14) == -4.0
