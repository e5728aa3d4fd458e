"""Messages as real monitors and gateways send them (tests/fixtures/hl7/real, each with its
source and licence in SOURCES.md): what a clinic would expect recorded is recorded, and what is
not is kept with why. Read without a database: pcd01.parse and intake.readings_of."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kapclinic.treatment.monitors import intake, pcd01

REAL = Path(__file__).parents[1] / "fixtures" / "hl7" / "real"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def read(text: str) -> tuple[pcd01.Message, dict, list[dict]]:
    message = pcd01.parse(text, UTC)
    groups, not_stored, _, _ = intake.readings_of(message, fallback=NOW)
    recorded = {name: value for values in groups.values() for name, value in values.items()}
    return message, recorded, not_stored


@pytest.mark.parametrize("name, expected", [
    ("ipf-aware-gateway-icu.hl7", {"heart_rate_bpm": 60}),
    ("ipf-pcd01-maximal.hl7", {"sbp_mmhg": 140}),
    ("ipf-continua-bp.hl7", {"sbp_mmhg": 120, "dbp_mmhg": 80}),
    ("ipf-continua-oximeter.hl7", {"spo2_pct": 80.5}),
    ("ipf-continua-thermometer.hl7", {"temp_c": 37.0}),
    ("pocd-philips-mx500.hl7", {"heart_rate_bpm": 60}),
    ("t5-ihe-nist-pulseox.hl7", {"heart_rate_bpm": 55}),
    ("t5-waveform.hl7", {}),
    ("t5-hr-v23.hl7", {"heart_rate_bpm": 80}),
])
def test_published_monitor_messages_record_their_vitals(name, expected):
    _, recorded, _ = read((REAL / name).read_text())
    assert recorded == expected


def test_a_gateways_invasive_pulse_beside_the_ecg_heart_rate_is_kept_with_why():
    _, recorded, not_stored = read((REAL / "ipf-aware-gateway-icu.hl7").read_text())
    assert recorded["heart_rate_bpm"] == 60
    assert {"code": "149522", "value": "60",
            "why": "the same moment's heart rate (ECG) is recorded instead"} in not_stored


def test_a_visit_number_in_pid_3_is_never_taken_for_an_mrn():
    message, _, _ = read((REAL / "pocd-philips-mx500.hl7").read_text())
    assert message.patient_refs == ["12345"]  # 6789^^^Philips^VN is the visit


def test_the_philips_gateway_asking_for_accept_acks_is_answered_commit_accept():
    message, _, _ = read((REAL / "pocd-philips-mx500.hl7").read_text())
    ack = pcd01.ack(message, "AA")
    assert "\rMSA|CA|HP0425230332.872USDANRMMD1NBR488" in ack


def monitor(*obx: str, msh3: str = "Mon^00A0C9FFFE000001^EUI-64", msh4: str = "", pid: str = "PID|||789567",
            obr: str = "OBR|1||||||20261202115900+0000", between: str = "\r") -> str:
    segments = [f"MSH|^~\\&|{msh3}|{msh4}|||20261202115900+0000||ORU^R01^ORU_R01|C-1|P|2.6", pid, obr, *obx]
    return between.join(segments) + "\r"


HR = "147842^MDC_ECG_HEART_RATE^MDC"
PULSE_OX = "149530^MDC_PULS_OXIM_PULS_RATE^MDC"
BPM = "264864^MDC_DIM_BEAT_PER_MIN^MDC"


def test_the_ecg_heart_rate_is_recorded_before_an_oximeters_pulse_sent_ahead_of_it():
    _, recorded, not_stored = read(monitor(f"OBX|1|NM|{PULSE_OX}|1|71|{BPM}|||||R",
                                           f"OBX|2|NM|{HR}|1|74|{BPM}|||||R"))
    assert recorded == {"heart_rate_bpm": 74}
    assert not_stored == [{"code": "149530", "value": "71",
                           "why": "the same moment's heart rate (ECG) is recorded instead"}]


@pytest.mark.parametrize("flag, why", [("DEMO", "demonstration mode"), ("demo-data", "demonstration mode"),
                                       ("TEST-DATA", "test data"), ("calibration-ongoing", "calibrating")])
def test_a_value_the_monitor_marks_as_demonstration_or_test_data_is_not_the_patients(flag, why):
    _, recorded, not_stored = read(monitor(f"OBX|1|NM|{HR}|1|74|{BPM}||{flag}|||R"))
    assert recorded == {} and why in not_stored[0]["why"]


def test_a_monitor_naming_itself_only_in_msh_4_is_the_sender_but_places_no_monitor():
    """MSH-4 is the sending facility: a monitor may write its serial there, but a facility's id
    is shared by every monitor in it, so it never places one at a chair."""
    message, _, _ = read(monitor(f"OBX|1|NM|{HR}|1|74|{BPM}|||||R", msh3="", msh4="KC575235977G"))
    assert message.sender == "KC575235977G" and message.device == "" and message.placing_ids == []


def test_a_demo_flag_anywhere_in_obx_8_is_seen():
    flags = "~".join(["N"] * 30 + ["DEMO"])
    _, recorded, not_stored = read(monitor(f"OBX|1|NM|{HR}|1|74|{BPM}||{flags}|||R"))
    assert recorded == {} and "demonstration mode" in not_stored[0]["why"]


@pytest.mark.parametrize("between", ["\r\n", "\n", "\r\r", "\n\r", "\r \r"])
def test_blank_lines_and_line_feeds_between_segments_are_read(between):
    _, recorded, _ = read(monitor(f"OBX|1|NM|{HR}|1|74|{BPM}|||||R", between=between))
    assert recorded == {"heart_rate_bpm": 74}


def test_an_observation_without_its_own_time_takes_the_time_of_its_obr_group():
    message = pcd01.parse(monitor(f"OBX|1|NM|{HR}|1|74|{BPM}|||||R",
                                  "OBR|2||||||20261202115930+0000",
                                  f"OBX|2|NM|{PULSE_OX}|1|75|{BPM}|||||R"), UTC)
    assert [o.observed_at.strftime("%H:%M:%S") for o in message.observations] == ["11:59:00", "11:59:30"]


def test_a_waveforms_samples_are_never_recorded_as_the_vital():
    """The simulator sends its SpO2 pleth under the SpO2 code as an array (OBX-2 NA): its first
    sample, 1.18, was recorded as an SpO2 of 1.18 %."""
    _, recorded, not_stored = read((REAL / "t5-waveform.hl7").read_text())
    assert "spo2_pct" not in recorded
    assert {"code": "150456", "value": "1.18 …",
            "why": "sent as a waveform's samples (OBX-2 NA), not one measured number"} in not_stored


def test_the_mdc_code_sent_as_obx_3s_alternate_beside_loinc_is_read():
    message, recorded, _ = read((REAL / "t5-ihe-nist-pulseox.hl7").read_text())
    assert message.observations[0].code == "149530"
    assert recorded == {"heart_rate_bpm": 55}


@pytest.mark.parametrize("obx, why", [
    (f"OBX|1|NR|{HR}|1|60^100|{BPM}|||||R", "sent as a range (OBX-2 NR), not one measured number"),
    (f"OBX|1|ST|{HR}|1|74|{BPM}|||||R", "sent as text (OBX-2 ST), not one measured number"),
    (f"OBX|1|XYZ|{HR}|1|74|{BPM}|||||R", "sent as type XYZ (OBX-2 XYZ), not one measured number"),
    (f"OBX|1|NM|{HR}|1|^74|{BPM}|||||R", "OBX-5's first part is empty: not one measured number"),
    (f"OBX|1|NM|{HR}|1|120\\80|{BPM}|||||R", "Heart rate (ECG): “120\\80” is not a number"),
    (f"OBX|1|NM|{HR}|1|1\\H\\20|{BPM}|||||R", "Heart rate (ECG): “1\\H\\20” is not a number"),
    (f"OBX|1|NM|{HR}|1|74^80|{BPM}|||||R", "it holds 2 values, not one measured number"),
    (f"OBX|1|NM|{HR}|1|74~80|{BPM}|||||R", "it holds 2 values, not one measured number"),
    (f"OBX|1|NM|{HR}|1|74&80|{BPM}|||||R", "it holds 2 values, not one measured number"),
])
def test_a_value_that_is_not_one_number_is_kept_with_why_not_read_as_its_first_part(obx, why):
    _, recorded, not_stored = read(monitor(obx))
    assert recorded == {}
    assert not_stored[0]["why"] == why


@pytest.mark.parametrize("obx", [f"OBX|1||{HR}|1|74|{BPM}|||||R", f"OBX|1|nm|{HR}|1| 74 |{BPM}|||||R"])
def test_a_number_with_no_type_or_a_lower_case_type_is_still_recorded(obx):
    _, recorded, _ = read(monitor(obx))
    assert recorded == {"heart_rate_bpm": 74}


def test_a_first_triplet_naming_no_coding_system_is_read_before_the_alternate():
    _, recorded, _ = read(monitor(f"OBX|1|NM|147842^MDC_ECG_HEART_RATE^^150456^MDC_PULS_OXIM_SAT_O2^MDC|1|74|"
                                  f"{BPM}|||||R"))
    assert recorded == {"heart_rate_bpm": 74}


def test_a_malformed_escape_in_a_field_costs_that_field_not_the_message():
    """python-hl7 raises on a formatting escape it cannot read (``\\.brx\\``): the message was
    refused whole, its good vitals with it."""
    _, recorded, _ = read(monitor(f"OBX|1|\\.brx\\|{HR}|1|120|{BPM}|||||R",
                                  f"OBX|2|NM|{HR}|1|74|{BPM}|||||R"))
    assert recorded == {"heart_rate_bpm": 74}


@pytest.mark.parametrize("obx3, obx6, why", [
    ("8867-4^Heart rate^LN^150456^MDC_PULS_OXIM_SAT_O2^MDC", "262688^MDC_DIM_PERCENT^MDC",
     "OBX-3 names LOINC 8867-4 and MDC 150456 (SpO2), two different vitals: which is meant is unclear"),
    (HR, "mmHg^^99LOC^/min^^UCUM",
     "OBX-6 names two different units (mmHg and /min): which is meant is unclear"),
])
def test_a_first_triplet_contradicting_its_mdc_alternate_is_kept_with_why(obx3, obx6, why):
    _, recorded, not_stored = read(monitor(f"OBX|1|NM|{obx3}|1|88|{obx6}|||||R"))
    assert recorded == {}
    assert not_stored[0]["why"] == why
