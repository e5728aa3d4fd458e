"""What a monitor's codes and units mean (clinical/monitoring/devices), without HL7 or a
database: the reference's MDC codes and units, and UCUM as monitors write it."""

from __future__ import annotations

import pytest

from kapclinic.clinical.monitoring import devices


@pytest.mark.parametrize("unit, ucum", [
    ("{beats}/min", "/min"),
    ("{Beats}/min", "/min"),
    ("{breaths}/min", "/min"),
    ("{beat}/min", "/min"),
    ("1/min", "/min"),
    ("%{SpO2}", "%"),
    ("mm[Hg]{NIBP}", "mm[Hg]"),
    ("{beats}/MIN", "/min"),   # UCUM's case-insensitive form, annotated
])
def test_ucum_annotations_change_no_unit(unit, ucum):
    assert devices.ucum_of(unit) == ucum


@pytest.mark.parametrize("unit", ["{beats}", "{beats}/h", "{bpm", "mm{Hg}", "%{SpO2", "m{x}m[Hg]",
                                  "mm[Hg{x}]", "/m{x}in", "{x}%", "{beats}1/min", "{mm[Hg]}", "%{x}{y}"])
def test_an_annotation_alone_or_around_another_unit_is_not_taken_for_one_it_is_not(unit):
    assert devices.ucum_of(unit) is None


def test_a_heart_rate_in_annotated_ucum_is_recorded():
    value = devices.reading("147842", "72", "{beats}/min")
    assert (value.measurement.field, value.value, value.ucum, value.problem) == (
        "heart_rate_bpm", 72.0, "/min", "")


CUFF_ONLY = "kapclinic records the non-invasive (cuff) pressure"


@pytest.mark.parametrize("code, refid, why", [
    ("150033", "MDC_PRESS_BLD_ART_SYS", f"Arterial systolic is not recorded: {CUFF_ONLY}"),
    ("150034", "MDC_PRESS_BLD_ART_DIA", f"Arterial diastolic is not recorded: {CUFF_ONLY}"),
    ("150035", "MDC_PRESS_BLD_ART_MEAN", f"Arterial mean is not recorded: {CUFF_ONLY}"),
    ("151708", "MDC_CONC_AWAY_CO2_ET",
     "End-tidal CO2 is not recorded: kapclinic has no field for end-tidal CO2"),
    ("150023", "MDC_PRESS_BLD_NONINV_MEAN",
     "NIBP mean is not recorded: kapclinic records the systolic and diastolic pressures"),
])
def test_known_measurements_without_a_field_say_what_they_are_and_why_they_are_not_recorded(code, refid, why):
    """The reference lists them without a field or a LOINC code: a monitor's value is kept on
    its message saying what it is and why it is not charted, not "not a vital sign"."""
    value = devices.reading(code, "118", "266016")
    assert value.value is None
    assert value.problem == why
    assert devices.measurement("", refid).code == code


def test_an_unlisted_code_still_says_it_is_not_recorded():
    value = devices.reading("150037", "120", "266016")
    assert value.problem == "code 150037 is not a vital sign kapclinic records"


@pytest.mark.parametrize("text", ["1_20", "１２０", "١٢٠", "1e2", "0x78", "120.0.0", "nan", "inf", "+", ".",
                                  ""])
def test_only_an_hl7_number_is_a_value(text):
    """HL7's NM is digits with an optional sign and decimal point: Python's float() also takes
    underscores, exponents and other scripts' digits, which no monitor sends as a number."""
    assert devices.reading("147842", text, "/min").problem.endswith("is not a number")


@pytest.mark.parametrize("text, number", [("72", 72.0), ("+72", 72.0), ("-0.5", -0.5), ("98.", 98.0),
                                          (".5", 0.5), (" 72 ", 72.0)])
def test_an_hl7_number_is_read(text, number):
    assert devices.reading("147842", text, "/min").value == number


def test_a_loinc_code_naming_another_vital_than_its_mdc_alternate_is_unclear():
    found = devices.measurement("150456")
    why = devices.disagreement(found, "%", ("8867-4", "Heart rate", "LN"), ("", "", ""))
    assert why == ("OBX-3 names LOINC 8867-4 and MDC 150456 (SpO2), two different vitals: which is "
                   "meant is unclear")
    assert devices.disagreement(found, "%", ("8889-8", "Heart rate by oximetry", "LN"), ("", "", "")) == ""
    assert devices.disagreement(found, "%", ("59408-5", "SpO2", "LN"), ("", "", "")) == ""


def test_a_unit_naming_another_unit_than_its_alternate_is_unclear():
    found = devices.measurement("147842")
    assert "two different units (mmHg and /min)" in devices.disagreement(found, "/min", ("", "", ""),
                                                                          ("mmHg", "", "99LOC"))
    assert devices.disagreement(found, "/min", ("", "", ""), ("bpm", "", "99LOC")) == ""
    assert devices.disagreement(found, "/min", ("", "", ""), ("xyz", "", "99LOC")) == ""
