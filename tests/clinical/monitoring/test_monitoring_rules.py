"""Monitoring rules on each reading, from the reference's own numbers (each side of each
boundary): holds before dosing, pause/stop/escalate during, overdue readings, presets and
clinic settings, and keying errors refused naming the field (clinical.md 4.4)."""

from datetime import UTC, datetime, timedelta

import pytest

from kapclinic.clinical.monitoring import (
    MonitoringSettingError,
    Reading,
    ReadingError,
    RulesFileError,
    evaluate,
    load_rules,
)
from kapclinic.clinical.monitoring.rules import parse_rules
from kapclinic.clinical.protocols import resolve

IV = resolve("iv_racemic_ketamine")
ESKETAMINE = resolve("intranasal_esketamine")
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def rules_raised(phase, protocol=IV, settings=None, baseline=None, **values):
    reading = Reading(NOW, phase, **values)
    return {a.rule for a in evaluate(reading, protocol, settings, NOW, None, baseline=baseline)}


@pytest.mark.parametrize("phase, values, fired, quiet", [
    # esketamine label: >140/90 before dosing -> the prescriber weighs it (clinical.md 3.4)
    ("pre_dose", "sbp_mmhg", 141, 140),
    ("pre_dose", "dbp_mmhg", 91, 90),
    # illustrative trial exclusions (clinical.md 3.2/4.2): SBP >180, HR <50 or >120, SpO2 <95, RR <10 or >30
    ("pre_dose", "heart_rate_bpm", 121, 120),
    ("pre_dose", "heart_rate_bpm", 49, 50),
    ("pre_dose", "spo2_pct", 94, 95),
    ("pre_dose", "resp_rate_per_min", 9, 10),
    ("pre_dose", "resp_rate_per_min", 31, 30),
    # during: >=180/120 hypertensive range, SpO2 <92 (Aldrete anchor), MOAA/S <=3 and 0
    ("dosing", "sbp_mmhg", 180, 179),
    ("dosing", "dbp_mmhg", 120, 119),
    ("dosing", "spo2_pct", 91, 92),
    ("after_dose", "resp_rate_per_min", 9, 10),
    ("dosing", "heart_rate_bpm", 121, 120),
    ("after_dose", "moaas", 3, 4),
])
def test_a_threshold_fires_just_past_its_reference_number_and_not_at_it(phase, values, fired, quiet):
    assert rules_raised(phase, **{values: fired})
    assert not rules_raised(phase, **{values: quiet})


def test_systolic_181_before_dosing_is_a_hold_and_180_only_needs_the_prescriber():
    assert rules_raised("pre_dose", sbp_mmhg=181) == {"predose_bp_hold", "predose_bp_above_label_figure"}
    assert rules_raised("pre_dose", sbp_mmhg=180) == {"predose_bp_above_label_figure"}


def test_moaas_zero_is_an_emergency():
    alerts = evaluate(Reading(NOW, "dosing", moaas=0), IV, None, NOW, None)
    emergency = next(a for a in alerts if a.rule == "sedation_unresponsive")
    assert emergency.severity == "emergency" and "emergency_response" in emergency.actions
    assert "start the emergency response" in emergency.action_words


def test_a_large_rise_from_before_dosing_is_measured_from_the_baseline():
    baseline = Reading(NOW - timedelta(minutes=30), "pre_dose", sbp_mmhg=120, dbp_mmhg=80)
    assert "bp_large_rise" in rules_raised("dosing", baseline=baseline, sbp_mmhg=160, dbp_mmhg=90)
    assert "bp_large_rise" in rules_raised("dosing", baseline=baseline, sbp_mmhg=150, dbp_mmhg=105)
    assert "bp_large_rise" not in rules_raised("dosing", baseline=baseline, sbp_mmhg=159, dbp_mmhg=104)
    assert "bp_large_rise" not in rules_raised("dosing", sbp_mmhg=170, dbp_mmhg=100)  # no baseline


def test_an_alert_carries_its_severity_label_with_the_value_and_the_recommended_actions():
    (alert,) = evaluate(Reading(NOW, "dosing", sbp_mmhg=185, dbp_mmhg=100), IV, None, NOW, None)
    assert alert.severity == "urgent"
    assert alert.label == ("Blood pressure in the hypertensive urgency or emergency range "
                           "(systolic BP 185 mmHg, at or above 180)")
    assert alert.actions == ("pause_infusion", "call_prescriber")
    assert alert.message.startswith("Blood pressure is in the hypertensive urgency range: pause the infusion")


def test_there_is_no_infusion_to_pause_for_esketamine_or_after_the_infusion():
    for protocol, phase in ((ESKETAMINE, "dosing"), (IV, "after_dose")):
        (alert,) = evaluate(Reading(NOW, phase, sbp_mmhg=185, dbp_mmhg=100), protocol, None, NOW, None)
        assert alert.actions == ("call_prescriber",)
        assert "pause" not in alert.message


def test_a_low_oxygen_saturation_stops_dosing_and_calls_the_prescriber():
    (alert,) = evaluate(Reading(NOW, "dosing", spo2_pct=90), IV, None, NOW, None)
    assert alert.actions == ("stop_dosing", "call_prescriber", "continuous_observation")


def test_a_named_preset_changes_the_holds():
    remote = load_rules().resolve(preset="remote_kap")
    assert "predose_bp_hold" in rules_raised("pre_dose", settings=remote, sbp_mmhg=161)
    assert "predose_heart_rate_hold" in rules_raised("pre_dose", settings=remote, heart_rate_bpm=101)
    assert "predose_heart_rate_hold" not in rules_raised("pre_dose", settings=remote, heart_rate_bpm=100)
    pause = load_rules().resolve(preset="pause_at_180_110")
    assert "bp_hypertensive_range" in rules_raised("dosing", settings=pause, sbp_mmhg=150, dbp_mmhg=110)


def test_a_clinic_setting_outside_its_bounds_or_unknown_is_refused_naming_it():
    with pytest.raises(MonitoringSettingError, match="during_spo2_below_pct.*outside 50-100"):
        load_rules().resolve({"during_spo2_below_pct": 120})
    with pytest.raises(MonitoringSettingError, match="spo2_low_pct"):
        load_rules().resolve({"spo2_low_pct": 90})


@pytest.mark.parametrize("values, field", [
    ({"sbp_mmhg": 400}, "sbp_mmhg"), ({"spo2_pct": 120}, "spo2_pct"),
    ({"heart_rate_bpm": 0}, "heart_rate_bpm"),
    ({"sbp_mmhg": 39}, "sbp_mmhg"), ({"resp_rate_per_min": 81}, "resp_rate_per_min"),
    ({"temp_c": 98.6}, "temp_c"), ({"moaas": 6}, "moaas"), ({"moaas": 2.5}, "moaas"),
    ({"sbp_mmhg": 80, "dbp_mmhg": 80}, "dbp_mmhg"), ({"spo2_pct": float("nan")}, "spo2_pct"),
])
def test_a_keying_error_is_refused_naming_the_field(values, field):
    with pytest.raises(ReadingError) as caught:
        evaluate(Reading(NOW, "dosing", **values), IV, None, NOW, None)
    assert caught.value.field == field


def test_values_at_the_plausibility_limits_are_accepted():
    reading = Reading(NOW, "after_dose", sbp_mmhg=300, dbp_mmhg=20, heart_rate_bpm=20, spo2_pct=100,
                      resp_rate_per_min=80, temp_c=45.0)
    assert evaluate(reading, IV, None, NOW, None)  # accepted, and alerting


def test_a_reading_in_the_future_or_without_a_time_zone_is_refused():
    with pytest.raises(ReadingError, match="observed_at: is in the future"):
        evaluate(Reading(NOW + timedelta(minutes=1), "dosing", sbp_mmhg=120), IV, None, NOW, None)
    with pytest.raises(ReadingError, match="observed_at"):
        evaluate(Reading(datetime(2026, 5, 4, 10), "dosing", sbp_mmhg=120), IV, None, NOW, None)


def test_a_reading_is_overdue_after_the_protocols_interval_and_the_clinics_grace():
    # IV: every 10 min during the infusion (clinical.md 4.1), flagged 5 min late by default
    last = NOW - timedelta(minutes=15)
    assert not evaluate(None, IV, None, NOW, last, phase="dosing")
    (alert,) = evaluate(None, IV, None, NOW + timedelta(seconds=1), last, phase="dosing")
    assert alert.rule == "reading_overdue" and alert.actions == ("take_reading",)
    # after the infusion: every 15 min (clinical.md 4.1 Emory)
    assert not evaluate(None, IV, None, NOW, NOW - timedelta(minutes=20), phase="after_dose")
    assert evaluate(None, IV, None, NOW, NOW - timedelta(minutes=21), phase="after_dose")
    assert not evaluate(None, IV, None, NOW, NOW - timedelta(hours=2), phase="pre_dose")


def test_the_forty_minute_reading_of_esketamine_is_flagged_when_missed():
    started = NOW - timedelta(minutes=46)
    (alert,) = evaluate(None, ESKETAMINE, None, NOW, started + timedelta(minutes=34), phase="after_dose",
                        dose_started_at=started)
    assert alert.rule == "reading_mark_overdue" and "40 minutes after the dose" in alert.label
    assert not evaluate(None, ESKETAMINE, None, NOW, started + timedelta(minutes=39), phase="after_dose",
                        dose_started_at=started)


def test_every_threshold_names_its_row_and_open_ones_are_clinic_settings():
    rules = load_rules()
    for rule_id, rule in rules.rules.items():
        for compare in rule.any:
            assert compare.threshold.source.startswith(("clinical.md", "sessions.md")), rule_id
            if compare.threshold.evidence in ("policy", "unverified"):
                assert compare.threshold.setting is not None, rule_id


def test_a_rules_file_with_a_fixed_policy_threshold_is_refused_naming_the_field():
    data = load_rules_json()
    data["rules"]["resp_rate_low"]["any"][0]["threshold"].pop("setting")
    with pytest.raises(RulesFileError) as caught:
        parse_rules(data)
    assert caught.value.field == "rules.resp_rate_low.any[0].threshold.setting"


def load_rules_json():
    import json

    from kapclinic.clinical.monitoring.rules import RULES_FILE

    return json.loads(RULES_FILE.read_text())


def test_the_next_reading_is_due_at_the_interval_or_sooner_at_a_mark_not_yet_taken():
    from datetime import UTC, datetime, timedelta

    from kapclinic.clinical import protocols
    from kapclinic.clinical.monitoring import load_rules, next_reading_due

    esketamine = protocols.resolve("intranasal_esketamine")
    settings = load_rules().resolve({})
    dosed = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    during, after = esketamine.monitoring_interval_minutes
    [mark] = esketamine.marks_minutes
    last = dosed + timedelta(minutes=mark - 10)
    # the mark comes before the interval after the last reading
    assert next_reading_due(esketamine, settings, last, last, "after_dose", dosed) == min(
        dosed + timedelta(minutes=mark), last + timedelta(minutes=after))
    # once a reading is taken at the mark, the interval rules again
    at_mark = dosed + timedelta(minutes=mark)
    assert next_reading_due(esketamine, settings, at_mark, at_mark, "after_dose",
                            dosed) == at_mark + timedelta(minutes=after)
    assert next_reading_due(esketamine, settings, dosed, None, "pre_dose", None) is None
