"""Response, remission, time to response, relapse, durability and relief fading per patient
(clinical.md 2; thresholds come from the instrument definitions and outcomes.json, not from here)."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from kapclinic.clinical.instruments import clinic_change_rule
from kapclinic.clinical.outcomes import (
    ClinicalEvent,
    OutcomeError,
    OutcomeSettingError,
    OutcomeSettings,
    ScorePoint,
    ScoreSeries,
    SeriesError,
    clinic_relapse_rule,
    find_relapse,
    load_rules,
    relief_fading,
    stable_remission,
    summarise,
    time_to_first_response_days,
)
from kapclinic.clinical.outcomes import baseline as pick_baseline

START = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return START + timedelta(days=n)


def series(instrument: str, *pairs, **starts) -> ScoreSeries:
    starts.setdefault("episode_start", START)
    return ScoreSeries.from_pairs(instrument, [(day(d), v) for d, v in pairs], **starts)


# ---------------------------------------------------------------- response / remission

def test_phq9_response_is_a_50_percent_reduction_and_remission_is_below_5_per_clinical_md_2():
    s = summarise(series("phq9", (-1, 20), (7, 11), (14, 10), (21, 4)))
    assert s.baseline.total == 20
    assert s.first_response_at == day(14) and s.time_to_response_days == 14.0
    assert s.first_remission_at == day(21) and s.time_to_remission_days == 21.0
    assert s.response_now is True and s.remission_now is True
    assert s.reduction_points == 16.0 and s.reduction_pct == 80.0
    assert s.rules["response"] == "phq9@2:response" and s.rules["remission"] == "phq9@2:remission"
    assert s.evidence == {"response": "verified", "remission": "verified", "relief_fading": "policy",
                          "baseline": "policy"}


def test_a_5_point_pcl5_drop_is_not_called_a_response_unless_the_clinic_set_that_rule():
    # clinical.md 2 PCL-5 row, corrected 2026-11-30: no published PCL-5 response rule
    ser = series("pcl5", (0, 50), (7, 46), (14, 45))
    s = summarise(ser)
    assert s.response_now is None and s.first_response_at is None and s.reduction_points == 5.0
    assert "response" not in s.rules
    assert any("No published response rule for PCL-5" in n for n in s.notes)
    own = clinic_change_rule("pcl5", kind="point_reduction", at_least=5)
    s = summarise(ser, settings=OutcomeSettings(change_rules={"pcl5": own}))
    assert s.first_response_at == day(14) and s.response_now is True
    assert s.rules["response"] == "pcl5@2:response(clinic:point_reduction>=5)"
    assert s.evidence["response"] == "policy"


def test_madrs_remission_follows_the_clinic_setting_default_10_or_12_per_clinical_md_2():
    pts = ((0, 30), (7, 12))
    assert summarise(series("madrs", *pts)).remission_now is False
    twelve = OutcomeSettings(instrument_settings={"madrs": {"remission_max": 12}})
    s = summarise(series("madrs", *pts), settings=twelve)
    assert s.remission_now is True and s.rules["remission"] == "madrs@1:remission(remission_max=12)"
    assert s.settings["instrument_settings_used"] == {"remission_max": 12}


def test_gad7_rules_carry_the_unverified_tag_of_clinical_md_2():
    s = summarise(series("gad7", (0, 15), (7, 4)))
    assert s.evidence["response"] == "unverified" and s.evidence["remission"] == "unverified"


def test_time_to_response_counts_from_the_episode_start_not_the_baseline_score_per_clinical_md_2_policy():
    ser = series("phq9", (-3, 20), (10, 10))
    assert summarise(ser).time_to_response_days == 10.0
    b = pick_baseline(ser, None)
    assert time_to_first_response_days(ser, b) == 13.0  # no start: from the baseline score


def test_the_course_anchor_uses_the_course_start_per_clinical_md_2_policy():
    ser = series("phq9", (-3, 20), (5, 16), (10, 8), course_start=day(4))
    s = summarise(ser, settings=OutcomeSettings(baseline_anchor="course"))
    assert s.baseline.total == 20 and s.baseline.start == day(4)
    assert s.time_to_response_days == 6.0


def test_a_zero_baseline_cannot_give_a_percent_response_per_clinical_md_2():
    s = summarise(series("phq9", (0, 0), (7, 0)))
    assert s.response_now is None and s.first_response_at is None and s.reduction_pct is None
    assert any("percent change" in n for n in s.notes)
    assert any("already meets the remission" in n for n in s.notes)


def test_an_instrument_without_response_rules_says_so():
    s = summarise(series("pain_nrs", (0, 8), (7, 2)))
    assert s.response_now is None and s.remission_now is None and s.relapsed is None
    assert any("No published response rule for Pain NRS" in n for n in s.notes)


def test_a_triage_instrument_has_no_outcomes():
    with pytest.raises(OutcomeError, match="no total"):
        summarise(series("cssrs_screener", (0, 1)))


def test_a_total_outside_the_instrument_range_is_refused_naming_the_time():
    with pytest.raises(SeriesError, match="outside the total range 0-27"):
        summarise(series("phq9", (0, 20), (7, 28)))


def test_no_baseline_and_no_follow_up_give_empty_outcomes_with_a_reason():
    assert "no scores" in summarise(series("phq9")).notes
    s = summarise(series("phq9", (0, 20)))
    assert s.latest is None and s.response_now is None and "no score after the baseline yet" in s.notes


# ---------------------------------------------------------------------------- relapse

def madrs_remitter(*after):
    """MADRS 32 at baseline, 10 on day 14 (>= 50% reduction and <= 10: response and remission)."""
    return series("madrs", (0, 32), (14, 10), *after)


def test_madrs_relapse_is_22_or_more_on_2_consecutive_assessments_5_to_15_days_apart_per_clinical_md_2():
    s = summarise(madrs_remitter((28, 22), (35, 24)))
    assert s.relapsed is True and s.relapse.at == day(28) and s.relapse.criterion == "score"
    assert s.rules["relapse"] == "madrs:relapse@sustain1-1" and s.evidence["relapse"] == "verified"
    assert s.durability_days == 14.0 and s.durability_censored is False and s.durability_from == "response"


@pytest.mark.parametrize("gap, relapsed", [(4, False), (5, True), (15, True), (16, False)])
def test_the_5_to_15_day_spacing_is_inclusive_per_clinical_md_2(gap, relapsed):
    assert summarise(madrs_remitter((28, 25), (28 + gap, 25))).relapsed is relapsed


def test_one_score_of_22_or_a_21_does_not_make_a_relapse_per_clinical_md_2():
    assert summarise(madrs_remitter((28, 30), (35, 12), (42, 21), (49, 21))).relapsed is False


def test_the_two_assessments_must_be_consecutive_per_clinical_md_2():
    assert summarise(madrs_remitter((28, 25), (32, 12), (38, 25))).relapsed is False


def test_spacing_counts_calendar_days_in_the_zone_the_times_carry_per_clinical_md_2():
    tz = timezone(timedelta(hours=-5))
    first = datetime(2025, 4, 1, 23, 0, tzinfo=tz)
    second = datetime(2025, 4, 6, 8, 0, tzinfo=tz)  # 4.4 elapsed days, 5 calendar days
    rule = load_rules().relapse_rules["madrs"]
    found = find_relapse([ScorePoint(first, 23), ScorePoint(second, 23)], first - timedelta(days=1), rule)
    assert found is not None and found.at == first


def test_the_relapse_date_can_be_the_confirming_assessment_as_a_clinic_setting():
    s = summarise(madrs_remitter((28, 22), (35, 24)), settings=OutcomeSettings(relapse_date="last_of_run"))
    assert s.relapse.at == day(35) and s.durability_days == 21.0


def test_a_hospitalisation_for_worsening_depression_is_a_relapse_dated_at_admission_per_clinical_md_2():
    admitted = ClinicalEvent("hospitalisation_worsening_depression", day(20))
    s = summarise(madrs_remitter((28, 22), (35, 24)), events=[admitted])
    assert s.relapse.criterion == "hospitalisation_worsening_depression" and s.relapse.at == day(20)
    assert s.durability_days == 6.0


@pytest.mark.parametrize("kind", ["suicide_attempt", "completed_suicide",
                                  "hospitalisation_suicide_prevention", "other_clinically_relevant_event"])
def test_each_clinically_relevant_event_of_sustain1_is_a_relapse_per_clinical_md_2(kind):
    assert summarise(madrs_remitter((21, 10)), events=[ClinicalEvent(kind, day(18))]).relapsed is True


def test_events_before_the_response_or_of_other_kinds_are_not_relapses():
    events = [ClinicalEvent("suicide_attempt", day(3)), ClinicalEvent("missed_session", day(20))]
    assert summarise(madrs_remitter((21, 10)), events=events).relapsed is False


def test_without_relapse_durability_is_censored_at_the_last_score_or_as_of():
    s = summarise(madrs_remitter((28, 12), (42, 14)))
    assert s.relapsed is False and s.durability_censored is True and s.durability_days == 28.0
    s = summarise(madrs_remitter((28, 12), (42, 14), (50, 30), (56, 30)), as_of=day(45))
    assert s.relapsed is False and s.durability_days == 31.0 and s.n_scores == 4


def test_relapse_is_not_looked_for_before_a_response_or_remission():
    s = summarise(series("madrs", (0, 32), (7, 30), (14, 30)))
    assert s.relapsed is None and s.durability_days is None
    assert "not at risk of relapse: no response or remission yet" in s.notes


def test_the_relapse_anchor_can_be_remission_only_as_a_clinic_setting():
    ser = series("madrs", (0, 40), (7, 18), (14, 9), (24, 23), (31, 23))
    s = summarise(ser, settings=OutcomeSettings(relapse_after="remission"))
    assert s.durability_from == "remission" and s.durability_days == 10.0
    s = summarise(ser)
    assert s.durability_from == "response" and s.durability_days == 17.0


def test_phq9_has_no_relapse_definition_in_clinical_md_2_unless_the_clinic_sets_one():
    ser = series("phq9", (0, 20), (7, 8), (14, 15), (21, 16))
    s = summarise(ser)
    assert s.relapsed is None and "relapse" not in s.rules
    assert any("No published relapse definition for PHQ-9" in n for n in s.notes)
    own = clinic_relapse_rule("phq9", threshold=15, consecutive=2, spacing_days=(5, 15))
    s = summarise(ser, settings=OutcomeSettings(relapse_rules={"phq9": own}))
    assert s.relapsed is True and s.relapse.at == day(14)
    assert s.rules["relapse"] == "phq9:relapse@clinic-1" and s.evidence["relapse"] == "policy"


def test_a_clinic_rule_filed_under_the_wrong_instrument_is_refused():
    with pytest.raises(OutcomeSettingError, match="relapse_rules"):
        OutcomeSettings(relapse_rules={"gad7": clinic_relapse_rule("phq9", threshold=10)})


# ----------------------------------------------------------------------- relief fading

def test_relief_fading_flags_a_rise_back_of_half_the_improvement_by_default_as_a_clinic_setting():
    # PHQ-9 baseline 20, nadir 4 (improvement 16); latest 12 regains 8/16 = 0.5
    s = summarise(series("phq9", (0, 20), (7, 9), (14, 4), (21, 12)))
    assert s.relief_fading is True and s.fading.regained_fraction == 0.5 and s.fading.nadir == 4
    assert s.rules["relief_fading"] == "outcomes@1:relief_fading(fraction=0.5)"
    assert summarise(series("phq9", (0, 20), (7, 9), (14, 4), (21, 11))).relief_fading is False
    strict = OutcomeSettings(fading_fraction=0.25)
    assert summarise(series("phq9", (0, 20), (7, 9), (14, 4), (21, 8)), settings=strict).relief_fading is True


def test_relief_fading_needs_a_response_first():
    assert summarise(series("phq9", (0, 20), (7, 14), (14, 18))).relief_fading is None


def test_relief_fading_is_undefined_without_improvement_and_refuses_a_bad_fraction():
    assert relief_fading(10, [10, 12]) is None and relief_fading(10, []) is None
    with pytest.raises(OutcomeSettingError, match="fading_fraction"):
        relief_fading(20, [5, 10], fraction=1.5)


# -------------------------------------------------------------------- stable remission

@pytest.mark.parametrize("weeks, met", [
    ({13: 10, 14: 11, 15: 12, 16: 9}, True),
    ({13: 20, 14: 11, 15: 12, 16: 9}, True),    # one excursion at week 13 tolerated
    ({14: 11, 15: 12, 16: 9}, True),            # one missing at week 13 tolerated
    ({13: 10, 14: 11, 15: 13, 16: 9}, False),   # excursion at week 15 is not tolerated
    ({13: 20, 14: 20, 15: 12, 16: 9}, False),   # two excursions
    ({13: 10, 14: 11, 15: 12}, False),          # week 16 missing
])
def test_sustain1_stable_remission_is_madrs_12_or_less_in_3_of_the_last_4_weeks_per_clinical_md_2(weeks, met):
    result = stable_remission(weeks)
    assert result.met is met and result.rule_id == "madrs:sustain1_stable_remission-1"


def test_stable_remission_is_only_defined_for_madrs_per_clinical_md_2():
    with pytest.raises(OutcomeError, match="no stable-remission definition for phq9"):
        stable_remission({}, instrument_id="phq9")


# -------------------------------------------------------------------------- to_dict

def test_the_summary_is_json_ready_with_rule_versions_and_settings():
    s = summarise(madrs_remitter((28, 22), (35, 24)), events=[], as_of=day(40))
    data = json.loads(json.dumps(s.to_dict()))
    assert data["instrument"] == "madrs" and data["instrument_version"] == "1"
    assert data["baseline"]["taken_at"] == START.isoformat() and data["as_of"] == day(40).isoformat()
    assert data["relapse"]["run"][0]["total"] == 22
    assert data["settings"]["baseline_window_days"] == 14
    assert data["settings"]["relapse_date"] == "first_of_run"
    assert set(data["rules"]) == {"outcomes", "baseline", "response", "remission", "relapse", "relief_fading"}
