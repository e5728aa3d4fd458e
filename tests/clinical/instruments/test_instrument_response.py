"""Response and remission helpers against clinical.md section 2."""

import pytest

from kapclinic.clinical.instruments import (
    SettingError,
    change_outcome,
    clinic_change_rule,
    is_response,
    percent_reduction,
    remission,
)


def test_it_computes_percent_change_as_baseline_minus_current_over_baseline_per_clinical_md_2():
    assert percent_reduction(20, 10) == 50.0
    assert percent_reduction(20, 25) == -25.0
    assert percent_reduction(0, 3) is None


@pytest.mark.parametrize("instrument", ["phq9", "madrs", "qids_sr16", "gad7"])
@pytest.mark.parametrize("baseline, current, met", [(20, 10, True), (20, 11, False), (9, 4, True),
                                                    (9, 5, False)])
def test_it_calls_response_at_a_50_percent_reduction_from_baseline_per_clinical_md_2(
        instrument, baseline, current, met):
    assert is_response(instrument, baseline, current) is met


def test_it_marks_qids_and_gad7_response_rules_unverified_as_clinical_md_2_does():
    assert change_outcome("qids_sr16", 10, 5).evidence == "unverified"
    assert change_outcome("gad7", 10, 5).evidence == "unverified"
    assert change_outcome("phq9", 10, 5).evidence == "verified"


def test_it_cannot_call_response_from_a_zero_baseline():
    outcome = change_outcome("phq9", 0, 0)
    assert outcome.met is None and "undefined" in outcome.reason


def test_pcl5_has_no_response_rule_by_default_because_the_5_and_10_point_figures_were_the_dsm_iv_pcls():
    # clinical.md 2 PCL-5 row, corrected 2026-11-30 (NCPTSD: PCL and PCL-5 scores differ)
    with pytest.raises(ValueError, match="no change rule 'response'"):
        change_outcome("pcl5", 50, 40)
    with pytest.raises(ValueError, match="no change rule 'clinically_meaningful'"):
        change_outcome("pcl5", 50, 40, rule="clinically_meaningful")


@pytest.mark.parametrize("drop, met", [(9, False), (10, True), (15, True)])
def test_a_clinic_may_set_its_own_pcl5_response_rule_and_it_is_labelled_as_the_clinics(drop, met):
    own = clinic_change_rule("pcl5", kind="point_reduction", at_least=10)
    outcome = change_outcome("pcl5", 50, 50 - drop, clinic_rule=own)
    assert outcome.met is met and outcome.evidence == "policy"
    assert outcome.rule_version == "pcl5@2:response(clinic:point_reduction>=10)"


def test_a_clinic_cannot_replace_a_published_response_rule_or_set_an_impossible_one():
    with pytest.raises(ValueError, match="already has a 'response' rule"):
        clinic_change_rule("phq9", kind="percent_reduction", at_least=40)
    with pytest.raises(ValueError, match="at most 80 points"):
        clinic_change_rule("pcl5", kind="point_reduction", at_least=81)
    with pytest.raises(ValueError, match="at most 100%"):
        clinic_change_rule("pcl5", kind="percent_reduction", at_least=120)


def test_a_prorated_phq9_of_4_5_is_not_remission():
    # a total stored before prorated totals were rounded: 4.5 rounds half up to 5, not < 5
    assert remission("phq9", 4.5).met is False
    assert remission("phq9", 4.4).met is True
    assert remission("phq9", 4.4, rounding="up").met is False


@pytest.mark.parametrize("instrument, current, met", [
    ("phq9", 4, True), ("phq9", 5, False),            # clinical.md 2: PHQ-9 <5
    ("qids_sr16", 5, True), ("qids_sr16", 6, False),  # clinical.md 2: QIDS-SR16 <=5
    ("gad7", 4, True), ("gad7", 5, False),            # clinical.md 2: GAD-7 <5 [unverified]
    ("madrs", 10, True), ("madrs", 11, False),        # clinical.md 2: MADRS default <=10 [policy]
    ("pcl5", 32, True), ("pcl5", 33, False),          # clinical.md 2: below the 31-33 cut-off
])
def test_it_calls_remission_by_the_thresholds_in_clinical_md_2(instrument, current, met):
    assert remission(instrument, current).met is met


def test_it_lets_a_clinic_use_the_madrs_12_remission_of_the_esketamine_programme_per_clinical_md_2():
    outcome = remission("madrs", 12, settings={"remission_max": 12})
    assert outcome.met is True and outcome.rule_version == "madrs@1:remission(remission_max=12)"
    with pytest.raises(SettingError):
        remission("madrs", 12, settings={"remission_max": 11})


def test_it_stores_the_rule_version_with_every_outcome():
    assert change_outcome("phq9", 20, 9).rule_version == "phq9@2:response"
    assert remission("phq9", 3).rule_version == "phq9@2:remission"


def test_it_refuses_rules_clinical_md_2_does_not_define():
    with pytest.raises(ValueError, match="no remission definition"):
        remission("audit", 3)
    with pytest.raises(ValueError, match="no change rule"):
        change_outcome("cadss", 30, 10)


def test_it_refuses_a_total_outside_the_instrument_range():
    with pytest.raises(ValueError, match="outside the total range 0-27"):
        is_response("phq9", 28, 3)


def test_it_leaves_response_undetermined_when_a_total_was_withheld():
    assert change_outcome("phq9", 20, None).met is None
    assert remission("phq9", None).met is None
