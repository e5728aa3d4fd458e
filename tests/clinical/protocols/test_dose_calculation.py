"""Dose calculation: mg and mg/kg agree, nothing above the cap or outside the range is
within the protocol, a weight-based dose needs today's weight, rounding is to 0.1 mg."""

import math
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.clinical.protocols import DoseInputError, calculate_dose, resolve

TODAY = date(2026, 5, 4)
IV = resolve("iv_racemic_ketamine")
ESKETAMINE = resolve("intranasal_esketamine")
LOZENGE = resolve("sublingual_racemic_ketamine")


def iv(weight=70.0, **dose):
    return calculate_dose(IV, weight, weight_date=TODAY, today=TODAY, **dose)


def test_half_a_milligram_per_kilogram_for_seventy_kilograms_is_thirty_five_milligrams():
    result = iv(dose_mg_per_kg=0.5)
    assert (result.dose_mg, result.dose_mg_per_kg, result.route) == (35.0, 0.5, "iv-infusion")
    assert result.within_protocol
    assert result.messages[0].startswith(
        "0.5 mg/kg (35 mg for 70 kg) is within the protocol range of 0.5-1 mg/kg")


def test_a_dose_above_the_cap_is_not_within_the_protocol_and_the_message_names_the_cap_and_its_source():
    result = iv(dose_mg_per_kg=1.1)
    assert not result.within_protocol and result.above_cap and result.needs_reason_and_second_clinician
    assert "above the hard cap of 1 mg/kg: the top of the dose range studied in published trials" \
        in result.messages[0]
    assert "written reason and a second clinician" in result.messages[1]


def test_a_dose_below_the_range_is_not_within_the_protocol():
    result = iv(dose_mg_per_kg=0.3)
    assert not result.within_protocol and not result.above_cap
    assert "below the protocol range of 0.5-1 mg/kg" in result.messages[0]


def test_a_dose_at_the_cap_is_within_and_one_a_hair_above_is_not():
    assert iv(dose_mg_per_kg=1.0).within_protocol
    assert not iv(dose_mg_per_kg=1.001).within_protocol


def test_a_dose_in_mg_is_judged_per_kilogram_on_a_weight_based_protocol():
    assert iv(dose_mg=70.0).within_protocol
    result = iv(dose_mg=70.1)
    assert not result.within_protocol and result.above_cap and result.dose_mg_per_kg == 1.001


def test_the_clinics_range_is_used_and_named_as_its_setting():
    narrow = IV.configured({"dose_range_max": 0.75})
    result = calculate_dose(narrow, 70, dose_mg_per_kg=0.8, weight_date=TODAY, today=TODAY)
    assert not result.within_protocol and not result.above_cap
    assert "above the protocol range of 0.5-0.75 mg/kg" in result.messages[0]
    assert "your clinic's setting" in result.messages[0]


def test_rounding_is_to_the_nearest_tenth_of_a_milligram_halves_up():
    assert iv(weight=70.05, dose_mg_per_kg=0.7).dose_mg == 49.0   # 49.035 -> 49.0
    assert iv(weight=70.5, dose_mg_per_kg=0.7).dose_mg == 49.4    # 49.35 -> 49.4 (half up)
    assert iv(dose_mg=35.04).dose_mg == 35.0
    assert iv(dose_mg=35.05).dose_mg == 35.1


def test_a_dose_asked_for_at_the_cap_is_rounded_down_not_over_it():
    result = iv(weight=70.06, dose_mg_per_kg=1.0)   # 70.06 mg would round to 70.1
    assert result.dose_mg == 70.0 and result.within_protocol
    assert "Rounded to 70 mg" in result.messages[-1]


def test_a_dose_asked_for_at_the_bottom_of_the_range_is_rounded_up_not_under_it():
    result = iv(weight=70.09, dose_mg_per_kg=0.5)   # 35.045 mg would round to 35.0
    assert result.dose_mg == 35.1 and result.within_protocol


def test_a_weight_based_protocol_cannot_be_dosed_without_todays_weight():
    with pytest.raises(DoseInputError) as caught:
        calculate_dose(IV, 70, dose_mg_per_kg=0.5, weight_date=TODAY - timedelta(days=1), today=TODAY)
    assert caught.value.field == "weight_date"
    assert "needs a weight taken today: weigh the patient" in str(caught.value)
    with pytest.raises(DoseInputError, match="weight_kg"):
        calculate_dose(IV, None, dose_mg_per_kg=0.5, weight_date=TODAY, today=TODAY)


def test_the_clinic_may_accept_a_weight_a_few_days_old():
    result = calculate_dose(IV, 70, dose_mg_per_kg=0.5, weight_date=TODAY - timedelta(days=3),
                            today=TODAY, weight_max_age_days=7)
    assert result.within_protocol
    with pytest.raises(DoseInputError, match="weight_max_age_days"):
        calculate_dose(IV, 70, dose_mg_per_kg=0.5, weight_date=TODAY, today=TODAY, weight_max_age_days=90)


def test_a_weight_dated_after_today_is_refused():
    with pytest.raises(DoseInputError, match="after today"):
        calculate_dose(IV, 70, dose_mg_per_kg=0.5, weight_date=TODAY + timedelta(days=1), today=TODAY)


@pytest.mark.parametrize("weight, words", [
    (0, "above zero"), (-70, "above zero"), (math.nan, "finite"), (math.inf, "finite"),
    (19.9, "outside the plausible range 20-400 kg"), (400.1, "outside the plausible range"),
    (700, "kg, not lb"),
])
def test_an_impossible_weight_is_refused_naming_the_field(weight, words):
    with pytest.raises(DoseInputError) as caught:
        iv(weight=weight, dose_mg_per_kg=0.5)
    assert caught.value.field == "weight_kg" and words in str(caught.value)


def test_a_weight_at_the_plausibility_limits_is_accepted_with_a_warning_outside_the_usual_range():
    assert "outside the usual range" in iv(weight=20, dose_mg_per_kg=0.5).messages[0]
    assert not any("usual range" in m for m in iv(weight=35, dose_mg_per_kg=0.5).messages)


@pytest.mark.parametrize("dose, field", [
    ({}, "dose"), ({"dose_mg": 35, "dose_mg_per_kg": 0.5}, "dose"), ({"dose_mg": 0}, "dose_mg"),
    ({"dose_mg_per_kg": -0.5}, "dose_mg_per_kg"), ({"dose_mg_per_kg": math.nan}, "dose_mg_per_kg"),
    ({"dose_mg_per_kg": 10.5}, "dose_mg_per_kg"),
])
def test_both_neither_or_an_impossible_dose_is_refused_naming_the_field(dose, field):
    with pytest.raises(DoseInputError) as caught:
        iv(**dose)
    assert caught.value.field == field


def test_esketamine_is_dosed_in_whole_28_mg_devices_without_needing_a_weight():
    assert calculate_dose(ESKETAMINE, None, dose_mg=84).within_protocol
    result = calculate_dose(ESKETAMINE, None, dose_mg=70)
    assert not result.within_protocol and not result.above_cap
    assert "cannot be given in whole devices: each esketamine device gives 28 mg" in result.messages[1]
    above = calculate_dose(ESKETAMINE, 80, dose_mg=112)
    assert above.above_cap and "above the hard cap of 84 mg: the label's highest dose" in above.messages[0]
    assert above.dose_mg_per_kg == 1.4


def test_a_lozenge_dose_is_in_milligrams_within_its_range():
    assert calculate_dose(LOZENGE, 70, dose_mg=200).within_protocol
    assert calculate_dose(LOZENGE, 70, dose_mg=301).above_cap


weights = st.floats(min_value=20, max_value=400, allow_nan=False)
per_kg = st.floats(min_value=0.01, max_value=10, allow_nan=False)


@given(weights, per_kg)
def test_a_dose_within_the_protocol_is_never_above_the_cap(weight, dose):
    result = calculate_dose(IV, weight, dose_mg_per_kg=dose, weight_date=TODAY, today=TODAY)
    if result.within_protocol:
        assert dose <= IV.cap
        assert result.dose_mg <= IV.cap * weight + 1e-6
        assert result.dose_mg_per_kg is not None and result.dose_mg_per_kg <= IV.cap
    else:
        assert result.needs_reason_and_second_clinician
    assert result.above_cap == (dose > IV.cap)


@given(weights, st.floats(min_value=0.1, max_value=100, allow_nan=False))
def test_a_dose_in_mg_within_the_protocol_is_never_above_the_cap_per_kilogram(weight, mg):
    result = calculate_dose(IV, weight, dose_mg=mg, weight_date=TODAY, today=TODAY)
    if result.within_protocol:
        assert result.dose_mg / weight <= IV.cap


@given(weights, per_kg)
def test_milligrams_and_milligrams_per_kilogram_agree(weight, dose):
    result = calculate_dose(IV, weight, dose_mg_per_kg=dose, weight_date=TODAY, today=TODAY)
    assert result.dose_mg_per_kg is not None
    assert abs(result.dose_mg - weight * dose) <= 0.1 + 1e-9  # one rounding step at most
    assert abs(result.dose_mg_per_kg * weight - result.dose_mg) <= weight * 0.0005 + 1e-9
    assert round(result.dose_mg * 10) == pytest.approx(result.dose_mg * 10)  # whole tenths


def test_esketamine_under_65_starts_at_56_mg_on_the_first_day_and_28_mg_is_below_its_range():
    first = calculate_dose(ESKETAMINE, None, dose_mg=56, age_years=40, first_dose=True)
    assert first.within_protocol
    too_much_first = calculate_dose(ESKETAMINE, None, dose_mg=84, age_years=40, first_dose=True)
    assert not too_much_first.within_protocol
    assert "first dose under 65 (56 mg on day 1), not 84 mg" in " ".join(too_much_first.messages)
    assert calculate_dose(ESKETAMINE, None, dose_mg=84, age_years=40).within_protocol
    low = calculate_dose(ESKETAMINE, None, dose_mg=28, age_years=40)
    assert not low.within_protocol and "below the protocol range of 56-84 mg" in low.messages[0]


def test_esketamine_from_65_starts_at_28_mg_and_may_stay_there():
    assert calculate_dose(ESKETAMINE, None, dose_mg=28, age_years=65, first_dose=True).within_protocol
    assert calculate_dose(ESKETAMINE, None, dose_mg=28, age_years=72).within_protocol
    first_56 = calculate_dose(ESKETAMINE, None, dose_mg=56, age_years=70, first_dose=True)
    assert not first_56.within_protocol
    assert "first dose from 65 (28 mg on day 1), not 56 mg" in " ".join(first_56.messages)


def test_without_the_age_the_esketamine_doses_under_65_apply_and_say_so():
    result = calculate_dose(ESKETAMINE, None, dose_mg=28)
    assert not result.within_protocol
    assert any("Age not given: the doses under 65 apply" in m for m in result.messages)


def test_an_impossible_age_is_refused_naming_it():
    with pytest.raises(DoseInputError) as exc:
        calculate_dose(ESKETAMINE, None, dose_mg=56, age_years=-3)
    assert exc.value.field == "age_years"


def test_racemic_protocols_have_no_age_or_first_day_rule():
    today = date(2026, 12, 1)
    assert calculate_dose(IV, 70, dose_mg_per_kg=0.5, weight_date=today, today=today, age_years=80,
                          first_dose=True).within_protocol
