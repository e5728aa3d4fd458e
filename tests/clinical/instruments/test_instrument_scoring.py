"""Worked examples for every shipped instrument, each naming its clinical.md section."""

import pytest

from kapclinic.clinical.instruments import (
    AnswerRangeError,
    AnswerTypeError,
    SettingError,
    UnknownInstrumentError,
    UnknownItemError,
    score,
)


def items(n, value=0, start=1):
    return {str(i): value for i in range(start, start + n)}


def phq9(*values, **overrides):
    answers = {str(i + 1): v for i, v in enumerate(values)}
    answers.update(overrides)
    return answers


# ---- PHQ-9 (clinical.md 1.1 phq9 row, 1.2) -------------------------------------------------

@pytest.mark.parametrize("total, band", [
    (0, "none_minimal"), (4, "none_minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
    (14, "moderate"), (15, "moderately_severe"), (19, "moderately_severe"), (20, "severe"),
    (27, "severe")])
def test_it_bands_phq9_totals_at_cut_points_5_10_15_20_per_clinical_md_1_1(total, band):
    values = [3] * (total // 3) + [total % 3] + [0] * 9
    result = score("phq9", phq9(*values[:9]))
    assert result.total == total and result.severity == band


def test_it_sums_phq9_items_1_to_9_and_not_the_difficulty_item_per_clinical_md_1_1():
    result = score("phq9", {**items(9, 1), "10": 3})
    assert result.total == 9 and result.total_range == (0, 27)


def test_it_flags_suicidal_ideation_when_phq9_item_9_is_positive_per_clinical_md_1_1():
    result = score("phq9", phq9(0, 0, 0, 0, 0, 0, 0, 0, 1))
    assert result.total == 1 and result.severity == "none_minimal"
    assert result.flags == ("suicidal_ideation",)


def test_it_does_not_flag_suicidal_ideation_when_phq9_item_9_is_zero():
    assert score("phq9", phq9(3, 3, 3, 3, 3, 3, 3, 3, 0)).flags == ()


def test_it_cannot_rule_out_suicidal_ideation_when_phq9_item_9_is_missing():
    result = score("phq9", phq9(1, 1, 1, 1, 1, 1, 1, 1))
    assert result.flags == () and result.undetermined_flags == ("suicidal_ideation",)


def test_it_withholds_the_phq9_total_when_an_item_is_missing_and_prorating_is_off():
    # clinical.md 1.2 Missing items: total only when all 9 present unless prorating is on [policy]
    result = score("phq9", phq9(1, 1, 1, 1, 1, 1, 1, 1, None))
    assert result.total is None and result.severity is None
    assert result.missing.missing == ("9",)
    assert "prorating is off" in result.missing.withheld


def test_it_prorates_phq9_with_two_missing_items_as_sum_times_9_over_answered_per_clinical_md_1_2():
    result = score("phq9", phq9(2, 2, 2, 2, 2, 2, 1), prorate=True)
    assert result.missing.unrounded_total == pytest.approx(13 * 9 / 7)  # 16.71
    assert result.total == 17 and result.prorated and result.missing.rule == "prorated"
    assert result.severity == "moderately_severe"


def test_a_prorated_phq9_of_4_5_rounds_to_5_and_is_banded_mild_not_minimal():
    # 8 answered summing 4 -> 4 * 9 / 8 = 4.5; rounding half up is the clinic's default
    result = score("phq9", phq9(1, 1, 1, 1, 0, 0, 0, 0), prorate=True)
    assert result.total == 5 and result.severity == "mild"
    assert result.missing.unrounded_total == 4.5 and result.missing.rounding == "half_up"
    assert result.to_dict()["unrounded_total"] == 4.5


def test_a_prorated_phq9_of_4_5_is_not_remission():
    from kapclinic.clinical.instruments import remission

    result = score("phq9", phq9(1, 1, 1, 1, 0, 0, 0, 0), prorate=True)
    assert remission("phq9", result.total).met is False


def test_a_clinic_may_round_any_prorated_fraction_up_instead():
    # 7 answered summing 3 -> 27 / 7 = 3.86 -> 4 either way; 8 answered summing 3 -> 3.375
    result = score("phq9", phq9(1, 1, 1, 0, 0, 0, 0, 0), prorate=True)
    assert result.total == 3
    result = score("phq9", phq9(1, 1, 1, 0, 0, 0, 0, 0), prorate=True, rounding="up")
    assert result.total == 4 and result.missing.rounding == "up"
    with pytest.raises(SettingError, match="'down' is not one of"):
        score("phq9", phq9(1, 1, 1, 0, 0, 0, 0, 0), prorate=True, rounding="down")


def test_python_round_half_to_even_is_not_used_for_prorated_totals():
    # round(4.5) == 4 in Python; the PHQ-9 rule is half up
    from kapclinic.clinical.instruments import round_total

    assert [round_total(x, "half_up") for x in (4.5, 5.5, 4.49, 10.5)] == [5, 6, 4, 11]
    assert [round_total(x, "up") for x in (4.01, 4.0)] == [5, 4]


def test_it_bands_a_prorated_phq9_total_by_its_rounded_value():
    # 8 answered summing 8 -> 9.0 (mild); 7 summing 8 -> 10.29 -> 10 (moderate)
    assert score("phq9", phq9(1, 1, 1, 1, 1, 1, 1, 1), prorate=True).severity == "mild"
    result = score("phq9", phq9(2, 1, 1, 1, 1, 1, 1), prorate=True)
    assert result.total == 10 and result.severity == "moderate"


def test_it_disregards_phq9_with_more_than_two_missing_items_even_when_prorating_per_clinical_md_1_2():
    result = score("phq9", phq9(2, 2, 2, 2, 2, 2), prorate=True)
    assert result.total is None and not result.prorated
    assert "at most 2" in result.missing.withheld


def test_it_finds_a_major_depressive_syndrome_by_the_phq9_algorithm_in_clinical_md_1_2():
    # items 1-8 count at >=2, item 9 at >=1; >=1 of items 1-2 and >=5 symptoms
    result = score("phq9", phq9(2, 0, 2, 2, 2, 0, 0, 0, 1))
    assert result.findings == {"major_depressive_syndrome": True, "other_depressive_syndrome": False}
    result = score("phq9", phq9(0, 2, 2, 0, 0, 0, 0, 0, 0))
    assert result.findings == {"major_depressive_syndrome": False, "other_depressive_syndrome": True}
    result = score("phq9", phq9(1, 1, 3, 3, 3, 3, 3, 3, 3))
    assert result.findings == {"major_depressive_syndrome": False, "other_depressive_syndrome": False}


# ---- PHQ-2, GAD-7, GAD-2 (clinical.md 1.1) ------------------------------------------------

@pytest.mark.parametrize("answers, positive", [({"1": 1, "2": 1}, False), ({"1": 2, "2": 1}, True)])
def test_it_screens_phq2_positive_at_3_per_clinical_md_1_1(answers, positive):
    result = score("phq2", answers)
    assert result.findings["positive_screen"] is positive and result.severity is None


@pytest.mark.parametrize("total, band", [(4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
                                         (14, "moderate"), (15, "severe"), (21, "severe")])
def test_it_bands_gad7_at_cut_points_5_10_15_per_clinical_md_1_1(total, band):
    values = ([3] * (total // 3) + [total % 3] + [0] * 7)[:7]
    result = score("gad7", {str(i + 1): v for i, v in enumerate(values)})
    assert result.total == total and result.severity == band
    assert result.findings["probable_gad"] is (total >= 10)


@pytest.mark.parametrize("answers, positive", [({"1": 0, "2": 2}, False), ({"1": 3, "2": 0}, True)])
def test_it_screens_gad2_positive_at_3_per_clinical_md_1_1(answers, positive):
    assert score("gad2", answers).findings["positive_screen"] is positive


# ---- PCL-5 (clinical.md 1.1 pcl5 row) -----------------------------------------------------

def test_it_scores_pcl5_clusters_b_to_e_that_add_up_to_the_total_per_clinical_md_1_1():
    answers = {str(i): i % 5 for i in range(1, 21)}
    result = score("pcl5", answers)
    assert result.subscales == {"B": 1 + 2 + 3 + 4 + 0, "C": 1 + 2, "D": 3 + 4 + 0 + 1 + 2 + 3 + 4,
                                "E": 0 + 1 + 2 + 3 + 4 + 0}
    assert sum(result.subscales.values()) == result.total == 40
    assert result.severity is None  # no official severity bands


@pytest.mark.parametrize("total, cutoff, probable", [(32, None, False), (33, None, True),
                                                     (31, 31, True), (30, 31, False)])
def test_it_calls_pcl5_probable_ptsd_at_the_clinic_cutoff_within_31_to_33_per_clinical_md_1_1(
        total, cutoff, probable):
    values = ([4] * (total // 4) + [total % 4] + [0] * 20)[:20]
    answers = {str(i + 1): v for i, v in enumerate(values)}
    settings = {"probable_ptsd_cutoff": cutoff} if cutoff else None
    assert score("pcl5", answers, settings=settings).findings["probable_ptsd"] is probable


def test_it_refuses_a_pcl5_cutoff_outside_the_31_to_33_range_of_clinical_md_1_1():
    with pytest.raises(SettingError, match="probable_ptsd_cutoff"):
        score("pcl5", items(20), settings={"probable_ptsd_cutoff": 30})


def test_it_makes_a_provisional_pcl5_diagnosis_with_1_b_1_c_2_d_2_e_per_clinical_md_1_1():
    answers = {**items(20, 1), "1": 2, "6": 2, "8": 2, "9": 2, "15": 2, "16": 2}
    assert score("pcl5", answers).findings["provisional_ptsd_diagnosis"] is True
    answers["16"] = 1
    assert score("pcl5", answers).findings["provisional_ptsd_diagnosis"] is False


def test_it_withholds_the_pcl5_total_and_the_cluster_when_an_item_is_missing_per_clinical_md_1_2():
    answers = {**items(20, 1), "7": None}
    result = score("pcl5", answers)
    assert result.total is None and result.subscales["C"] is None and result.subscales["B"] == 5


def test_it_does_not_prorate_pcl5_because_clinical_md_1_2_has_no_rule():
    result = score("pcl5", {**items(20, 1), "7": None}, prorate=True)
    assert result.total is None and "no prorating rule" in result.missing.withheld


# ---- QIDS-SR16 (clinical.md 1.1 qids_sr16 row, 1.2) ---------------------------------------

def qids(**values):
    answers = items(16, 0)
    answers.update({k.lstrip("_"): v for k, v in values.items()})
    return answers


def test_it_scores_qids_sr16_as_the_sum_of_nine_domains_with_max_of_groups_per_clinical_md_1_1():
    # sleep max(1,3,0,2)=3; item 5=1; appetite max(0,2,1,0)=2; items 10-14 = 1+1+0+2+1; psychomotor max(1,3)=3
    answers = qids(_1=1, _2=3, _3=0, _4=2, _5=1, _6=0, _7=2, _8=1, _9=0, _10=1, _11=1, _12=0,
                   _13=2, _14=1, _15=1, _16=3)
    result = score("qids_sr16", answers)
    assert result.total == 3 + 1 + 2 + 5 + 3 == 14 and result.severity == "moderate"


@pytest.mark.parametrize("total, band", [(5, "none"), (6, "mild"), (10, "mild"), (11, "moderate"),
                                         (15, "moderate"), (16, "severe"), (20, "severe"),
                                         (21, "very_severe"), (27, "very_severe")])
def test_it_bands_qids_sr16_per_the_ids_qids_table_in_clinical_md_1_1(total, band):
    singles = ["5", "10", "11", "12", "13", "14"]
    answers = qids()
    remaining = total
    for key in ["1", "6", "15", *singles]:
        answers[key] = min(3, remaining)
        remaining -= answers[key]
    assert remaining == 0
    assert score("qids_sr16", answers).severity == band


def test_it_uses_whichever_qids_items_of_a_domain_are_answered_per_clinical_md_1_2():
    result = score("qids_sr16", qids(_1=None, _2=None, _3=2, _4=None))
    assert result.total == 2 and result.missing.missing == ("1", "2", "4")
    assert result.missing.rule == "partial_groups"


def test_it_withholds_the_qids_total_when_a_whole_domain_is_missing_per_clinical_md_1_2():
    result = score("qids_sr16", qids(_15=None, _16=None))
    assert result.total is None and "psychomotor" in result.missing.withheld


@pytest.mark.parametrize("item_12, threshold, flagged", [(0, None, False), (1, None, True),
                                                         (1, 2, False), (2, 2, True), (3, 2, True)])
def test_it_flags_the_qids_suicide_item_at_or_above_the_clinic_threshold_per_clinical_md_1_1(
        item_12, threshold, flagged):
    settings = {"suicide_item_threshold": threshold} if threshold else None
    result = score("qids_sr16", qids(_12=item_12), settings=settings)
    assert ("suicidal_ideation" in result.flags) is flagged


# ---- MADRS (clinical.md 1.1 madrs row) ----------------------------------------------------

@pytest.mark.parametrize("total, band", [(6, "normal"), (7, "mild"), (19, "mild"), (20, "moderate"),
                                         (34, "moderate"), (35, "severe"), (60, "severe")])
def test_it_bands_madrs_by_the_snaith_convention_in_clinical_md_1_1(total, band):
    values = ([6] * (total // 6) + [total % 6] + [0] * 10)[:10]
    result = score("madrs", {str(i + 1): v for i, v in enumerate(values)})
    assert result.total == total and result.severity == band


def test_it_accepts_madrs_ratings_between_the_anchors_0_2_4_6_per_clinical_md_1_1():
    assert score("madrs", {**items(10, 3)}).total == 30


def test_it_flags_madrs_item_10_at_4_or_more_by_default_per_clinical_md_1_1():
    assert score("madrs", {**items(10, 0), "10": 3}).flags == ()
    assert score("madrs", {**items(10, 0), "10": 4}).flags == ("suicidal_ideation",)


# ---- C-SSRS screener (clinical.md 1.1 cssrs_screener row, 1.2) ----------------------------

NO_TO_ALL = {"1": 0, "2": 0, "6": 0}


def test_it_triages_the_cssrs_screener_as_none_when_every_asked_item_is_no():
    result = score("cssrs_screener", NO_TO_ALL)
    assert result.total is None and result.severity == "none" and result.flags == ()
    assert result.missing.not_applicable == ("3", "4", "5", "6b")


@pytest.mark.parametrize("answers", [
    {"1": 1, "2": 1, "3": 1, "4": 1, "5": 0, "6": 0},
    {"1": 1, "2": 1, "3": 1, "4": 0, "5": 1, "6": 0},
    {"1": 0, "2": 0, "6": 1, "6b": 1},
    {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 1, "6b": 0},
])
def test_a_yes_to_item_4_or_5_or_recent_behaviour_is_high_risk_per_columbia(answers):
    result = score("cssrs_screener", answers)
    assert result.severity == "high" and result.flags == ("suicide_risk_high",)
    assert "Immediate safety evaluation" in result.severity_label


def test_a_yes_to_item_3_alone_is_moderate_risk():
    result = score("cssrs_screener", {"1": 1, "2": 1, "3": 1, "4": 0, "5": 0, "6": 0})
    assert result.severity == "moderate" and result.severity_label.startswith("Moderate risk")
    assert result.flags == ("suicide_risk_moderate",)


def test_suicidal_behaviour_more_than_3_months_ago_is_moderate_risk():
    result = score("cssrs_screener", {"1": 0, "2": 0, "6": 1, "6b": 0})
    assert result.severity == "moderate" and result.flags == ("suicide_risk_moderate",)


@pytest.mark.parametrize("answers", [
    {"1": 1, "2": 0, "6": 0},
    {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0, "6": 0},
    {"1": 1, "2": 1, "3": 0, "4": 0, "5": 0, "6": 0},
])
def test_a_yes_to_item_1_and_or_2_only_is_low_risk(answers):
    result = score("cssrs_screener", answers)
    assert result.severity == "low" and result.severity_label.startswith("Low risk")
    assert result.flags == ()


def test_each_cssrs_level_carries_its_loinc_answer_for_the_derived_risk_level():
    # clinical.md 1.2: 93374-7 "Suicide risk level", answer list LL465-6
    from kapclinic.clinical.instruments import get_instrument

    d = get_instrument("cssrs_screener")
    assert d.triage_code.code == "93374-7" and d.version == "2"
    assert {t.code: t.answer_code.code for t in d.triage if t.answer_code} == {
        "high": "LA9193-9", "moderate": "LA6751-7", "low": "LA9194-7"}
    alerts = {a.id: a.priority for a in d.alerts}
    assert alerts == {"suicide_risk_high": "urgent", "suicide_risk_moderate": "follow_up"}


def test_it_never_hides_a_cssrs_yes_to_item_5_behind_missing_answers():
    result = score("cssrs_screener", {"2": 1, "5": 1})
    assert result.severity == "high" and result.flags == ("suicide_risk_high",)


def test_it_withholds_the_cssrs_level_when_a_missing_answer_could_make_it_high():
    result = score("cssrs_screener", {"1": 1, "2": 1, "3": 0, "4": None, "5": 0, "6": 0})
    assert result.severity is None and "item(s) 4 missing" in result.missing.withheld
    assert result.undetermined_flags == ("suicide_risk_high",)


def test_it_reads_cssrs_yes_and_no_as_1_and_0():
    with pytest.raises(AnswerRangeError, match="allowed: 0, 1"):
        score("cssrs_screener", {"1": 2})


# ---- CADSS, CADSS-6, MOAA/S, BPRS+ (clinical.md 1.1) --------------------------------------

def test_it_sums_cadss_over_23_items_to_at_most_92_per_clinical_md_1_1():
    result = score("cadss", items(23, 4))
    assert result.total == 92 and result.severity is None and result.total_range == (0, 92)


def test_it_scores_cadss6_on_cadss_items_1_2_6_7_15_22_per_clinical_md_1_1():
    result = score("cadss6", {"1": 4, "2": 4, "6": 4, "7": 4, "15": 4, "22": 4})
    assert result.total == 24
    with pytest.raises(UnknownItemError, match="cadss6 item 3"):
        score("cadss6", {"3": 1})


@pytest.mark.parametrize("rating, flags", [
    (5, ()), (4, ()), (3, ("sedation_escalate",)),
    (0, ("loss_of_consciousness", "sedation_escalate"))])
def test_it_escalates_moaas_at_3_or_below_and_calls_0_loss_of_consciousness_per_clinical_md_1_1(
        rating, flags):
    result = score("moaas", {"rating": rating})
    assert result.total == rating and result.severity == str(rating) and result.flags == flags


BPRS_ITEMS = ["conceptual_disorganisation", "hallucinatory_behaviour", "suspiciousness",
              "unusual_thought_content"]


def test_it_scores_bprs_positive_items_1_to_7_per_clinical_md_1_1():
    result = score("bprs_pos4", dict.fromkeys(BPRS_ITEMS, 1))
    assert result.total == 4 and result.flags == ()
    result = score("bprs_pos4", {**dict.fromkeys(BPRS_ITEMS, 2), "suspiciousness": 4})
    assert result.total == 10 and result.flags == ("psychotic_symptom_review",)


def test_a_bprs_item_rated_0_is_not_rated_and_the_total_sums_the_rated_items():
    # clinical.md 1.1 bprs_pos4: 0 = not rated (CamCOPS bprs.py sums the rated items)
    result = score("bprs_pos4", {**dict.fromkeys(BPRS_ITEMS, 2), "suspiciousness": 0})
    assert result.total == 6 and result.missing.not_rated == ("suspiciousness",)
    assert result.missing.missing == () and result.missing.rule == "sum_of_rated"


def test_the_bprs_definition_states_its_not_rated_convention():
    from kapclinic.clinical.instruments import get_instrument

    d = get_instrument("bprs_pos4")
    assert d.scoring.missing.rule == "sum_of_rated"
    assert "sum of the rated items" in d.text_notice and "0 means not rated" in d.text_notice


def test_a_bprs_item_with_no_rating_at_all_still_withholds_the_total():
    result = score("bprs_pos4", {**dict.fromkeys(BPRS_ITEMS, 2), "suspiciousness": None})
    assert result.total is None and result.missing.missing == ("suspiciousness",)
    result = score("bprs_pos4", dict.fromkeys(BPRS_ITEMS, 0))
    assert result.total is None and "no item" in result.missing.withheld


# ---- AUDIT, AUDIT-C (clinical.md 1.1, 1.2) ------------------------------------------------

def test_it_scores_audit_items_9_and_10_only_as_0_2_or_4_per_clinical_md_1_1():
    with pytest.raises(AnswerRangeError, match="audit item 9: answer 1 is out of range"):
        score("audit", {**items(8, 1), "9": 1, "10": 0})


def test_it_completes_audit_without_items_2_to_8_when_item_1_is_0_per_clinical_md_1_2():
    result = score("audit", {"1": 0, "9": 2, "10": 0})
    assert result.total == 2 and result.missing.not_applicable == tuple("2345678")


def test_it_completes_audit_without_items_4_to_8_when_items_2_and_3_are_0_per_clinical_md_1_2():
    result = score("audit", {"1": 2, "2": 0, "3": 0, "9": 0, "10": 4})
    assert result.total == 6 and result.severity == "zone_1"


def test_it_needs_every_audit_item_otherwise_per_clinical_md_1_2():
    result = score("audit", {"1": 2, "2": 1, "3": 0, "9": 0, "10": 0})
    assert result.total is None and result.missing.missing == tuple("45678")
    result = score("audit", {"1": 0, "10": 0})
    assert result.total is None and result.missing.missing == ("9",)


@pytest.mark.parametrize("total, zone", [(7, "zone_1"), (8, "zone_2"), (15, "zone_2"), (16, "zone_3"),
                                         (19, "zone_3"), (20, "zone_4"), (40, "zone_4")])
def test_it_places_audit_totals_in_the_who_risk_zones_of_clinical_md_1_1(total, zone):
    values = ([4] * (total // 4) + [total % 4] + [0] * 10)[:8]
    rest = total - sum(values)
    answers = {**{str(i + 1): v for i, v in enumerate(values)}, "9": min(4, rest), "10": rest - min(4, rest)}
    result = score("audit", answers)
    assert result.total == total and result.severity == zone
    assert result.findings["positive_screen"] is (total >= 8)


@pytest.mark.parametrize("total, sex, positive", [
    (3, "male", False), (4, "male", True), (2, "female", False), (3, "female", True),
    (3, None, None), (4, None, True), (2, None, False)])
def test_it_screens_audit_c_at_4_for_men_and_3_for_women_per_clinical_md_1_1(total, sex, positive):
    answers = {"1": min(4, total), "2": max(0, total - 4), "3": 0}
    assert score("audit_c", answers, sex=sex).findings["positive_screen"] is positive


# ---- Pain NRS (clinical.md 1.1) -----------------------------------------------------------

def test_it_takes_the_pain_nrs_value_as_is_with_no_bands_per_clinical_md_1_1():
    result = score("pain_nrs", {"pain": 7})
    assert result.total == 7 and result.severity is None
    with pytest.raises(AnswerRangeError, match="pain_nrs item pain: answer 11"):
        score("pain_nrs", {"pain": 11})


# ---- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("answers, error, item", [
    ({"1": 4}, AnswerRangeError, "1"),
    ({"1": -1}, AnswerRangeError, "1"),
    ({"11": 0}, UnknownItemError, "11"),
    ({1: 0}, UnknownItemError, "1"),
    ({"3": "2"}, AnswerTypeError, "3"),
    ({"3": 1.0}, AnswerTypeError, "3"),
    ({"3": True}, AnswerTypeError, "3"),
])
def test_it_refuses_bad_answers_with_a_value_error_naming_the_item(answers, error, item):
    with pytest.raises(error) as caught:
        score("phq9", answers)
    assert isinstance(caught.value, ValueError)
    assert caught.value.item == item and f"phq9 item {item}:" in str(caught.value)


def test_it_refuses_an_unknown_instrument_listing_the_known_ones():
    with pytest.raises(UnknownInstrumentError, match="known: audit, audit_c"):
        score("phq10", {})


def test_it_refuses_an_unknown_clinic_setting():
    with pytest.raises(SettingError, match="not a setting of PHQ-9"):
        score("phq9", items(9), settings={"suicide_item_threshold": 1})
