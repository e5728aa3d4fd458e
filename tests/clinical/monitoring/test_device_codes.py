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


@pytest.mark.parametrize("unit", ["{beats}", "{beats}/h", "{bpm", "mm{Hg}", "%{SpO2"])
def test_an_annotation_alone_or_around_another_unit_is_not_taken_for_one_it_is_not(unit):
    assert devices.ucum_of(unit) is None


def test_a_heart_rate_in_annotated_ucum_is_recorded():
    value = devices.reading("147842", "72", "{beats}/min")
    assert (value.measurement.field, value.value, value.ucum, value.problem) == (
        "heart_rate_bpm", 72.0, "/min", "")


@pytest.mark.parametrize("code, refid, label", [
    ("150033", "MDC_PRESS_BLD_ART_SYS", "Arterial systolic"),
    ("150034", "MDC_PRESS_BLD_ART_DIA", "Arterial diastolic"),
    ("150035", "MDC_PRESS_BLD_ART_MEAN", "Arterial mean"),
    ("151708", "MDC_CONC_AWAY_CO2_ET", "End-tidal CO2"),
])
def test_arterial_pressures_and_end_tidal_co2_are_known_but_not_recorded(code, refid, label):
    """The reference lists them without a field or a LOINC code: a monitor's value is kept on
    its message saying what it is, not "not a vital sign"."""
    value = devices.reading(code, "118", "266016")
    assert value.value is None
    assert value.problem == f"{label} is not a recorded vital sign"
    assert devices.measurement("", refid).code == code


def test_an_unlisted_code_still_says_it_is_not_recorded():
    value = devices.reading("150037", "120", "266016")
    assert value.problem == "code 150037 is not a vital sign kapclinic records"
