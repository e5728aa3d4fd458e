"""Bedside monitors: the reference's PCD-01 conformance message framed in MLLP is acknowledged
and its readings stored; matching by MRN or by the monitor's room; invalid, implausible and
unknown values kept on the message with why; a resent message stored once; an unmatched one
waiting for a nurse; the ACK codes; the listener's limits."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from kapclinic.treatment.models import MessageStatus, MonitorDevice, MonitorMessage, VitalReading
from kapclinic.treatment.monitors import intake, listener, pcd01, simulate
from tests.conftest import login, new_patient
from tests.treatment.helpers import cleared, eligible_and_consented
from tests.treatment.monitor_serving import Serving

pytestmark = pytest.mark.django_db

CONFORMANCE = (Path(__file__).parents[1] / "fixtures" / "hl7" / "valid-pcd01-request.hl7v2").read_text()


def hl7_now(minutes_ago: float = 1) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y%m%d%H%M%S+0000")


def conformance_now() -> str:
    """The reference message with its 2009 times moved to a minute ago (a monitor at the chair)."""
    return CONFORMANCE.replace("20090813095715+0500", hl7_now()).replace("20090713090030+0500",
                                                                         hl7_now())


@pytest.fixture
def in_chair(clinic_a, prescriber, nurse):
    """Patient MRN 789567 (the conformance message's PID-3) in a session cleared to dose."""
    patient = new_patient(clinic_a, prescriber, mrn="789567", prescriber=prescriber)
    eligible_and_consented(patient, prescriber)
    return cleared(patient, prescriber, nurse, start=30)


def acks_code(ack: str) -> tuple[str, str]:
    msa = next(line for line in ack.split("\r") if line.startswith("MSA|")).split("|")
    return msa[1], msa[2]


def test_the_conformance_message_is_acknowledged_and_its_blood_pressure_stored(in_chair, clinic_a):
    answer = intake.receive(conformance_now(), clinic=clinic_a, peer="127.0.0.1")
    assert acks_code(answer.ack) == ("AA", "MSGID1234") and answer.stored == 1
    reading = VitalReading.objects.filter(session=in_chair, source="device").get()
    assert (reading.sbp_mmhg, reading.dbp_mmhg) == (120, 80)
    assert reading.device == "0123456789ABCDEF"  # the device its observations name (OBX-18)
    kept = MonitorMessage.objects.get(control_id="MSGID1234")
    assert kept.status == MessageStatus.STORED and kept.session == in_chair
    assert any("mean" in item["why"] for item in kept.not_stored)  # no field for the mean


def test_the_conformance_message_as_written_is_kept_and_says_why_its_2009_reading_is_not_recorded(
        in_chair, clinic_a):
    answer = intake.receive(CONFORMANCE, clinic=clinic_a)
    assert acks_code(answer.ack) == ("AA", "MSGID1234")
    kept = MonitorMessage.objects.get(control_id="MSGID1234")
    assert kept.readings == 0 and {item.get("field") for item in kept.not_stored} >= {"sbp_mmhg",
                                                                                     "dbp_mmhg"}
    assert not VitalReading.objects.filter(source="device").exists()


def test_a_resent_message_is_acknowledged_again_and_stored_once(in_chair, clinic_a):
    raw = conformance_now()
    first = intake.receive(raw, clinic=clinic_a)
    again = intake.receive(raw, clinic=clinic_a)
    assert acks_code(again.ack) == ("AA", "MSGID1234") and again.stored == 0
    assert first.stored == 1 and VitalReading.objects.filter(source="device").count() == 1
    assert MonitorMessage.objects.count() == 1


def test_invalid_and_implausible_values_are_kept_on_the_message_with_why(in_chair, clinic_a):
    drift = simulate.Drift(__import__("random").Random(3))
    for n, odd in enumerate(("invalid", "implausible")):
        raw = simulate.message(control_id=f"odd-{n}", mrn="789567", device="ABCDEF0123456789",
                               at=datetime.now(UTC) - timedelta(minutes=2 - n), patient=drift, odd=odd)
        assert acks_code(intake.receive(raw, clinic=clinic_a).ack)[0] == "AA"
    invalid, implausible = (MonitorMessage.objects.get(control_id=c) for c in ("odd-0", "odd-1"))
    assert invalid.not_stored == [{"code": "150456", "value": f"{drift.spo2:.0f}",
                                   "why": "marked invalid by the monitor"}]
    assert any(item.get("field") == "spo2_pct" and item["value"] == 104 for item in implausible.not_stored)
    # the other vitals of both messages were recorded
    assert VitalReading.objects.filter(source="device", spo2_pct__isnull=True).count() == 2


def test_mdil_hex_codes_of_an_hl7_2_4_monitor_are_read(in_chair, clinic_a):
    raw = (f"MSH|^~\\&|Efficia^00A0C914C829^EUI-64||||{hl7_now()}||ORU^R01|HEX1|P|2.4\r"
           f"PID|||789567\rOBR|1||||||{hl7_now()}\r"
           "OBX|1|NM|0002-4bb8^SpO2^MDIL|1|95|0004-0220^%^MDIL|||||R\r")
    assert acks_code(intake.receive(raw, clinic=clinic_a).ack) == ("AA", "HEX1")
    assert VitalReading.objects.get(source="device").spo2_pct == 95


def test_a_message_for_nobody_waits_for_a_nurse_who_assigns_it(in_chair, clinic_a, nurse):
    raw = conformance_now().replace("789567^^^Imaginary Hospital^PI", "000000^^^Elsewhere^PI")
    answer = intake.receive(raw, clinic=clinic_a)
    assert acks_code(answer.ack)[0] == "AA" and answer.stored == 0
    kept = MonitorMessage.objects.get()
    assert kept.status == MessageStatus.UNMATCHED and "000000" in kept.reason
    page = login(nurse).get("/monitors/unmatched/").content.decode()
    assert "000000" in page
    response = login(nurse).post(f"/monitors/messages/{kept.pk}/assign/", {"session": in_chair.pk})
    assert response.status_code == 302
    kept.refresh_from_db()
    assert kept.status == MessageStatus.ASSIGNED and kept.assigned_by == nurse
    assert VitalReading.objects.filter(session=in_chair, source="device").count() == 1


def test_a_registered_monitor_matches_the_session_in_its_room(in_chair, clinic_a, prescriber):
    from kapclinic.treatment.models import Session
    from tests.conftest import set_directly

    set_directly(Session.objects.filter(pk=in_chair.pk), room="Room 2", chair="B")
    MonitorDevice.objects.create(clinic=clinic_a, device_id="0123456789ABCDEF", room="Room 2",
                                 chair="B", created_by=prescriber)
    raw = conformance_now().replace("PID|||789567^^^Imaginary Hospital^PI", "PID|||")
    assert intake.receive(raw, clinic=clinic_a).stored == 1
    assert MonitorMessage.objects.get().session == in_chair


def test_the_monitors_page_offers_the_unmatched_queue_only_to_those_who_may_assign_it(
        clinic_a, clinic_admin, prescriber):
    """An outside review: the admin's monitors page linked to the unmatched messages, which hold
    patients' vitals the admin role does not open."""
    for user, offered in ((clinic_admin, False), (prescriber, True)):
        client = login(user)
        page = client.get("/monitors/").content.decode()
        assert ('href="/monitors/unmatched/"' in page) is offered
        assert client.get("/monitors/unmatched/").status_code == (200 if offered else 403)


def test_the_admin_registers_a_monitor_at_a_chair_then_moves_it_and_a_nurse_may_not(
        clinic_a, clinic_admin, nurse):
    from kapclinic.audit.models import AuditEntry

    admin = login(clinic_admin)
    made = admin.post("/monitors/", {"device_id": " 00A0C9FFFE000001 ", "room": "Room 1", "chair": "A",
                                     "label": "Chair A monitor", "active": "on"})
    assert made.status_code == 302
    moved = admin.post("/monitors/", {"device_id": "00A0C9FFFE000001", "room": "Room 2", "chair": "C",
                                      "active": "on"})
    assert moved.status_code == 302
    device = MonitorDevice.objects.get(clinic=clinic_a)
    assert (device.device_id, device.room, device.chair, device.active) == (
        "00A0C9FFFE000001", "Room 2", "C", True)
    admin.post("/monitors/", {"device_id": "00A0C9FFFE000001", "room": "Room 2", "chair": "C",
                              "active": "on"})  # the same again: nothing changes, nothing written
    entries = AuditEntry.objects.filter(object_type="monitor_device").order_by("seq")
    assert [e.action for e in entries] == ["create", "update"]
    assert all(e.clinic_id == clinic_a.pk for e in entries)
    moved_from = json.loads(entries[1].detail_json)["from"]
    assert (moved_from["room"], moved_from["chair"]) == ("Room 1", "A")
    assert "Room 2" in admin.get("/monitors/").content.decode()
    refused = login(nurse).post("/monitors/", {"device_id": "X", "room": "Room 9"})
    assert refused.status_code == 403 and MonitorDevice.objects.count() == 1
    unnamed = admin.post("/monitors/", {"device_id": "Y"})
    assert unnamed.status_code == 422 and MonitorDevice.objects.count() == 1


def test_the_unmatched_page_with_nothing_waiting_lists_no_patient(in_chair, nurse):
    from kapclinic.audit.models import AuditEntry

    page = login(nurse).get("/monitors/unmatched/").content.decode()
    assert "every message found its session" in page and "Lovelace" not in page
    assert not AuditEntry.objects.filter(object_type="session", action="list").exists()


@pytest.mark.parametrize("raw, words", [
    ("hello", "MSH"),
    ("MSH|^~\\&|X||||20260101||ADT^A01|C1|P|2.6\r", "not an observation result"),
    ("MSH|^~\\&|X||||20260101||ORU^R01||P|2.6\r", "MSH-10"),
])
def test_what_cannot_be_read_is_rejected_with_ar(clinic_a, raw, words):
    answer = intake.receive(raw, clinic=clinic_a)
    assert answer.code == "AR" and words in answer.ack and not MonitorMessage.objects.exists()


# --- over MLLP ---------------------------------------------------------------------------------

async def exchange(port: int, frames: list[bytes]) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    for frame in frames:
        writer.write(frame)
        await writer.drain()
        data = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 10)
        answers.append(data.strip(b"\x0b\x1c\r").decode())
    writer.close()
    return answers


def framed(text: str) -> bytes:
    return b"\x0b" + text.encode() + b"\x1c\r"


@pytest.mark.django_db(transaction=True)
def test_the_listener_acknowledges_the_conformance_message_only_once_it_is_stored(clinic_a,
                                                                                    prescriber, nurse):
    patient = new_patient(clinic_a, prescriber, mrn="789567", prescriber=prescriber)
    eligible_and_consented(patient, prescriber)
    session = cleared(patient, prescriber, nurse, start=30)
    running = Serving(clinic_a)
    try:
        answers = asyncio.run(exchange(running.port, [framed(conformance_now()), b"\x0bgarbage\x1c\r",
                                                      framed(conformance_now())]))
    finally:
        running.stop()
    assert [acks_code(a) for a in answers] == [("AA", "MSGID1234"), ("AR", ""), ("AA", "MSGID1234")]
    assert VitalReading.objects.filter(session=session, source="device").count() == 1


def temperature_message(charset: str, unit: str = "°C") -> str:
    return (f"MSH|^~\\&|Monitor^00A0C914C829^EUI-64||||{hl7_now()}||ORU^R01|T{charset[:4]}|P|2.6|||NE|AL||"
            f"{charset}|EN^English^ISO639\r"
            f"PID|||789567^^^^MR||Müller^Zoë\rOBR|1||||||{hl7_now()}\r"
            f"OBX|1|NM|150344^MDC_TEMP^MDC|1|37.2|^{unit}|||||R\r")


@pytest.mark.django_db(transaction=True)
def test_a_message_in_the_latin_1_its_msh_18_declares_keeps_its_degree_sign_and_names(clinic_a, prescriber,
                                                                                      nurse):
    """Philips IntelliVue and IHE's gateway examples declare 8859/1: read as UTF-8, the degree
    sign of a temperature's unit and the accents of a name were lost."""
    patient = new_patient(clinic_a, prescriber, mrn="789567", prescriber=prescriber)
    eligible_and_consented(patient, prescriber)
    session = cleared(patient, prescriber, nurse, start=30)
    running = Serving(clinic_a)
    try:
        block = b"\x0b" + temperature_message("8859/1").encode("latin-1") + b"\x1c\r"
        answers = asyncio.run(exchange(running.port, [block]))
    finally:
        running.stop()
    assert acks_code(answers[0]) == ("AA", "T8859")
    assert VitalReading.objects.get(session=session, source="device").temp_c == 37.2
    assert "Müller^Zoë" in MonitorMessage.objects.get().raw


@pytest.mark.parametrize(("encoded", "charset"), [
    (lambda text: text.encode("utf-8"), ""),               # undeclared, UTF-8
    (lambda text: text.encode("latin-1"), ""),             # undeclared, not UTF-8: Latin-1
    (lambda text: text.encode("latin-1"), "ASCII"),        # declared ASCII, yet a degree sign
    (lambda text: text.encode("utf-8"), "UNICODE UTF-8"),
    (lambda text: text.encode("iso8859-15"), "8859/15"),
])
def test_a_message_is_read_in_its_declared_character_set_else_utf_8_else_latin_1(encoded, charset):
    text = temperature_message(charset)
    assert pcd01.decode(encoded(text)) == text


def test_bytes_that_are_not_the_character_set_declared_are_read_as_utf_8_or_latin_1_never_replaced():
    text = temperature_message("UNICODE UTF-8")
    assert pcd01.decode(text.encode("latin-1")) == text  # a degree sign in Latin-1, declared UTF-8


def test_latin_1_bytes_that_happen_to_be_valid_utf_8_are_read_as_the_latin_1_declared():
    text = temperature_message("8859/1", unit="Ã©C")  # what "é" in UTF-8 looks like in Latin-1
    assert pcd01.decode(text.encode("latin-1")) == text


def test_a_listener_takes_only_loopback_unless_told_and_refuses_a_wrong_network():
    serving = listener.Listener.__new__(listener.Listener)
    serving.allowed = []
    assert serving.permitted("127.0.0.1") and not serving.permitted("10.0.0.5")
    serving.allowed = listener.networks(["10.0.0.0/24"])
    assert serving.permitted("10.0.0.5") and not serving.permitted("10.0.1.5")
    with pytest.raises(ValueError, match="--allow"):
        listener.networks(["ten.zero"])


def test_the_api_lists_a_patients_vitals_with_loinc_ucum_and_source(in_chair, clinic_a, nurse):
    intake.receive(conformance_now(), clinic=clinic_a)
    rows = login(nurse).get(f"/api/v1/patients/{in_chair.patient_id}/vitals").json()
    device = [r for r in rows["items"] if r["source"] == "device"]
    assert {(r["code"], r["value"], r["unit"]) for r in device} == {("8480-6", 120, "mm[Hg]"),
                                                                    ("8462-4", 80, "mm[Hg]")}
    assert all(r["device"] == "0123456789ABCDEF" and r["observed_at"] for r in device)
    assert any(r["source"] == "manual" for r in rows["items"])


def test_ack_for_a_message_that_cannot_be_stored_is_ae_with_an_err_segment():
    message = pcd01.parse(conformance_now(), timezone.get_current_timezone())
    ack = pcd01.ack(message, "AE", error="database down")
    assert acks_code(ack) == ("AE", "MSGID1234") and "\rERR|" in ack and "database down" in ack


def test_a_reused_control_id_with_other_content_is_kept_not_taken_for_a_resend(in_chair, clinic_a):
    first = conformance_now()
    intake.receive(first, clinic=clinic_a)
    later = first.replace("|120|", "|150|")  # the monitor restarted its counter: same MSH-10
    assert acks_code(intake.receive(later, clinic=clinic_a).ack) == ("AA", "MSGID1234")
    assert MonitorMessage.objects.count() == 2
    assert sorted(VitalReading.objects.filter(source="device").values_list("sbp_mmhg", flat=True)) == [
        120, 150]


def test_when_the_mrn_and_the_monitors_chair_name_different_sessions_a_nurse_decides(
        in_chair, clinic_a, prescriber, nurse):
    from kapclinic.treatment.models import Session
    from tests.conftest import set_directly

    other = new_patient(clinic_a, prescriber, mrn="555000", prescriber=prescriber)
    eligible_and_consented(other, prescriber)
    elsewhere = cleared(other, prescriber, nurse, start=30)
    set_directly(Session.objects.filter(pk=elsewhere.pk), room="Room 3", chair="C")
    MonitorDevice.objects.create(clinic=clinic_a, device_id="0123456789ABCDEF", room="Room 3",
                                 chair="C", created_by=prescriber)
    intake.receive(conformance_now(), clinic=clinic_a)  # PID-3 says 789567, the chair 555000
    kept = MonitorMessage.objects.get()
    assert kept.status == MessageStatus.UNMATCHED and "another patient's chair" in kept.reason
    assert not VitalReading.objects.filter(source="device").exists()
    with pytest.raises(Exception, match="another patient's"):
        intake.assign(kept, elsewhere, by=nurse)


def test_a_monitors_reading_sent_late_is_recorded_and_one_from_a_clock_ahead_is_recorded_when_received(
        in_chair, clinic_a):
    late = CONFORMANCE.replace("20090813095715+0500", hl7_now(minutes_ago=25)).replace(
        "MSGID1234", "LATE")
    ahead = CONFORMANCE.replace("20090813095715+0500", hl7_now(minutes_ago=-30)).replace(
        "MSGID1234", "AHEAD")
    assert intake.receive(late, clinic=clinic_a).stored == 1
    assert intake.receive(ahead, clinic=clinic_a).stored == 1
    kept = MonitorMessage.objects.get(control_id="AHEAD")
    assert any("ahead of the clinic's clock" in item["why"] for item in kept.not_stored)
    assert VitalReading.objects.get(device="0123456789ABCDEF", observed_at__gt=timezone.now()
                                    - timedelta(minutes=2)).observed_at <= timezone.now()


def test_the_hl7_library_never_logs_a_fields_text(in_chair, clinic_a, caplog):
    import logging

    # a patient id with an escape python-hl7 cannot decode: it would log the whole field
    raw = conformance_now().replace("789567^^^Imaginary Hospital^PI", "789567\\Qz\\LOVELACE^^^H^PI")
    with caplog.at_level(logging.DEBUG):
        intake.receive(raw, clinic=clinic_a)
        pcd01.parse(raw, timezone.get_current_timezone())
    assert "LOVELACE" not in caplog.text and "789567" not in caplog.text


@pytest.mark.parametrize(("status", "why"), [
    ("W", "marked by the monitor as a wrong value sent earlier"),
    ("D", "marked by the monitor as a value to delete"),
    ("I", "its result status 'I' carries no value to record"),
])
def test_a_value_whose_result_status_says_wrong_or_deleted_is_kept_on_the_message_not_recorded(
        in_chair, clinic_a, status, why):
    systolic = "|120|266016^MDC_DIM_MMHG^MDC|||||"
    raw = conformance_now().replace(systolic + "R", systolic + status)
    answer = intake.receive(raw, clinic=clinic_a)
    assert acks_code(answer.ack) == ("AA", "MSGID1234")
    reading = VitalReading.objects.get(session=in_chair, source="device")
    assert reading.sbp_mmhg is None and reading.dbp_mmhg == 80  # the diastolic was a result
    kept = MonitorMessage.objects.get(control_id="MSGID1234")
    assert {"code": "150021", "value": "120", "why": why} in kept.not_stored


def test_a_final_or_corrected_value_is_recorded_like_a_valid_one(in_chair, clinic_a):
    systolic, diastolic = "|120|266016^MDC_DIM_MMHG^MDC|||||", "|80|266016^MDC_DIM_MMHG^MDC|||||"
    raw = conformance_now().replace(systolic + "R", systolic + "F").replace(diastolic + "R", diastolic + "C")
    intake.receive(raw, clinic=clinic_a)
    reading = VitalReading.objects.get(session=in_chair, source="device")
    assert (reading.sbp_mmhg, reading.dbp_mmhg) == (120, 80)


def test_a_reading_typed_late_takes_the_phase_of_its_time_but_a_monitors_keeps_the_phase_it_arrived_in(
        in_chair, clinic_a, nurse):
    """A nurse's late entry before the dose is pre-dose. A monitor's clock may run behind: a
    reading it stamps before the dose but sends during it stays a dosing reading, so it cannot
    become the baseline and hide a rise (an outside review showed a slow clock did)."""
    from kapclinic.treatment import actions
    from tests.treatment.helpers import minutes_ago, step

    step(in_chair, "dosing", minutes_ago(10), nurse, late_reason="Recorded after the dose",
         administration={"dose_mg_per_kg": 0.5})
    typed = actions.record_vitals(in_chair, observed_at=minutes_ago(15), values={"sbp_mmhg": 124},
                                  by=nurse, late_reason="Taken before the dose, typed now")
    assert typed.reading.phase == "pre_dose"
    slow_clock = conformance_now().replace(hl7_now(), hl7_now(minutes_ago=12))
    assert acks_code(intake.receive(slow_clock, clinic=clinic_a).ack)[0] == "AA"
    assert VitalReading.objects.get(session=in_chair, source="device").phase == "dosing"


# --- acknowledgement modes (MSH-15 accept, MSH-16 application: HL7 table 0155) -------------------

def asking(text: str, accept: str, application: str) -> str:
    """The message with its MSH-15 and MSH-16 (the conformance message sends NE and AL)."""
    return text.replace("|NE|AL|", f"|{accept}|{application}|", 1)


def test_a_monitor_asking_for_accept_acknowledgements_gets_commit_accept_once_stored(in_chair, clinic_a):
    answer = intake.receive(asking(conformance_now(), "AL", "NE"), clinic=clinic_a)
    assert acks_code(answer.ack) == ("CA", "MSGID1234") and answer.stored == 1
    assert VitalReading.objects.filter(session=in_chair, source="device").count() == 1


def test_a_monitor_asking_for_answers_on_errors_only_gets_none_for_a_message_stored(in_chair, clinic_a):
    answer = intake.receive(asking(conformance_now(), "ER", "NE"), clinic=clinic_a)
    assert answer.code == "AA" and answer.ack is None and answer.stored == 1


def test_a_message_that_cannot_be_stored_gets_commit_error_in_enhanced_mode():
    message = pcd01.parse(asking(conformance_now(), "AL", "AL"), timezone.get_current_timezone())
    ack = pcd01.ack(message, "AE", error="database down")
    assert acks_code(ack) == ("CE", "MSGID1234") and "\rERR|||207|" in ack and "database down" in ack


def test_a_message_that_cannot_be_read_gets_commit_reject_when_its_header_asks_for_accept_acks(clinic_a):
    raw = "MSH|^~\\&|X||||20260101||ADT^A01|C1|P|2.6|||AL|NE\r"
    answer = intake.receive(raw, clinic=clinic_a)
    assert answer.code == "AR" and acks_code(answer.ack) == ("CR", "C1")
    assert "not an observation" in answer.ack


@pytest.mark.parametrize("accept, application, outcome, expected", [
    ("", "", "AA", "AA"), ("", "", "AE", "AE"), ("", "", "AR", "AR"),        # original mode
    ("NE", "AL", "AA", "AA"), ("NE", "AL", "AE", "AE"),                       # PCD-01's own
    ("AL", "NE", "AA", "CA"), ("AL", "NE", "AE", "CE"), ("AL", "NE", "AR", "CR"),
    ("AL", "AL", "AA", "CA"),                                                 # one answer: the accept ACK
    ("SU", "NE", "AA", "CA"), ("SU", "NE", "AE", None),
    ("ER", "NE", "AA", None), ("ER", "NE", "AR", "CR"),
    ("NE", "ER", "AA", None), ("NE", "ER", "AE", "AE"), ("NE", "SU", "AE", None),
    ("NE", "NE", "AA", None), ("NE", "NE", "AE", None),
    ("", "AL", "AA", "AA"), ("AL", "", "AE", "CE"),                           # a blank MSH-15: no accept ACK
    ("NE", "", "AA", "AA"), ("ER", "", "AA", "AA"), ("NE", "", "AE", "AE"),   # a blank MSH-16: always
    ("XX", "NE", "AA", "CA"),                                                 # not in HL7's table: always
])
def test_the_answer_follows_the_acknowledgement_types_the_message_asks_for(accept, application, outcome,
                                                                            expected):
    assert pcd01.answer_code(outcome, accept, application) == expected


@pytest.mark.django_db(transaction=True)
def test_the_listener_sends_nothing_for_a_message_asking_for_no_acknowledgement_and_stays_in_step(
        clinic_a, prescriber, nurse):
    patient = new_patient(clinic_a, prescriber, mrn="789567", prescriber=prescriber)
    eligible_and_consented(patient, prescriber)
    session = cleared(patient, prescriber, nurse, start=30)
    unanswered = asking(conformance_now(), "NE", "NE").replace("MSGID1234", "QUIET1")
    running = Serving(clinic_a)
    try:
        # the first asks for no answer: the answer read is the second's, not a stray one
        answers = asyncio.run(exchange(running.port, [framed(unanswered) + framed(conformance_now())]))
    finally:
        running.stop()
    assert [acks_code(a) for a in answers] == [("AA", "MSGID1234")]
    assert set(MonitorMessage.objects.values_list("control_id", flat=True)) == {"QUIET1", "MSGID1234"}
    assert VitalReading.objects.filter(session=session, source="device").count() == 1


# --- how real monitors name codes and units ------------------------------------------------------

def one_observation(code: str, value: str, unit: str, control_id: str = "U1") -> str:
    return (f"MSH|^~\\&|Monitor^00A0C914C829^EUI-64||||{hl7_now()}||ORU^R01|{control_id}|P|2.6\r"
            f"PID|||789567\rOBR|1||||||{hl7_now()}\r"
            f"OBX|1|NM|{code}|1|{value}|{unit}|||||R\r")


@pytest.mark.parametrize("code, value, unit, field, expected", [
    ("150021^MDC_PRESS_BLD_NONINV_SYS^MDC", "131", "mmHg", "sbp_mmhg", 131),      # text, not UCUM
    ("147842^MDC_ECG_HEART_RATE^MDC", "72", "bpm", "heart_rate_bpm", 72),
    ("151562^MDC_RESP_RATE^MDC", "15", "rpm", "resp_rate_per_min", 15),
    ("150021^MDC_PRESS_BLD_NONINV_SYS^MDC", "128", "MM[HG]", "sbp_mmhg", 128),    # UCUM's c/i form
    ("150344^MDC_TEMP^MDC", "98.6", "°F", "temp_c", 37.0),
    ("^MDC_PULS_OXIM_SAT_O2^MDC", "96", "^MDC_DIM_PERCENT^MDC", "spo2_pct", 96),  # reference ids only
    ("150456^MDC_PULS_OXIM_SAT_O2^MDC", "97", "^%^UCUM", "spo2_pct", 97),        # the unit in component 2
])
def test_codes_and_units_as_monitors_spell_them_are_recorded(in_chair, clinic_a, code, value, unit, field,
                                                             expected):
    answer = intake.receive(one_observation(code, value, unit), clinic=clinic_a)
    assert answer.code == "AA" and answer.stored == 1, MonitorMessage.objects.get().not_stored
    assert getattr(VitalReading.objects.get(source="device"), field) == expected


def test_a_unit_spelled_for_another_vital_is_kept_on_the_message_with_why(in_chair, clinic_a):
    answer = intake.receive(one_observation("150456^MDC_PULS_OXIM_SAT_O2^MDC", "97", "mmHg"),
                            clinic=clinic_a)
    assert answer.code == "AA" and answer.stored == 0
    kept = MonitorMessage.objects.get()
    assert kept.not_stored == [{"code": "150456", "value": "97",
                                "why": "SpO2: unit “mmHg” is not %"}]
    assert not VitalReading.objects.filter(source="device").exists()


def with_patient_ids(text: str, pid3: str) -> str:
    return text.replace("789567^^^Imaginary Hospital^PI", pid3, 1)


def test_the_mrn_is_found_among_several_patient_identifiers_the_mr_typed_first(in_chair, clinic_a):
    raw = with_patient_ids(conformance_now(), "A-1^^^Monitor^PI~789567^^^Clinic^MR")
    answer = intake.receive(raw, clinic=clinic_a)
    assert answer.code == "AA" and answer.stored == 1
    kept = MonitorMessage.objects.get()
    assert kept.session == in_chair and kept.patient_ref == "789567, A-1"


def test_identifiers_naming_two_patients_leave_the_message_for_a_nurse(in_chair, clinic_a, prescriber):
    new_patient(clinic_a, prescriber, mrn="555000", prescriber=prescriber)
    raw = with_patient_ids(conformance_now(), "789567^^^Clinic^MR~555000^^^Clinic^MR")
    answer = intake.receive(raw, clinic=clinic_a)
    assert answer.code == "AA" and answer.stored == 0
    kept = MonitorMessage.objects.get()
    assert kept.status == MessageStatus.UNMATCHED and kept.session is None
    assert "name 2 patients (555000, 789567)" in kept.reason
    assert not VitalReading.objects.filter(source="device").exists()


def test_an_id_of_another_type_beside_an_unknown_mrn_does_not_claim_the_message(in_chair, clinic_a):
    """An outside review: the MRN sent is unknown (new, mistyped), and the monitor's own id for
    the patient happens to equal another patient's MRN: the message waits for a nurse."""
    raw = with_patient_ids(conformance_now(), "555123^^^Clinic^MR~789567^^^MonitorLocal^PI")
    answer = intake.receive(raw, clinic=clinic_a)
    assert answer.code == "AA" and answer.stored == 0
    kept = MonitorMessage.objects.get()
    assert kept.status == MessageStatus.UNMATCHED and kept.patient is None
    assert "no patient with MRN 555123" in kept.reason and kept.patient_ref == "555123, 789567"


HARBOR = frozenset({"harbor ketamine"})  # the clinic's assigning authority, as the listener casefolds it


def test_an_mrn_another_hospital_issued_is_not_taken_for_the_clinics_when_it_names_its_authority(
        in_chair, clinic_a):
    """789567 is this clinic's patient, but the monitor says a hospital issued that number: with
    the clinic's authority configured (``--mrn-authority``), it is another patient's number."""
    raw = with_patient_ids(conformance_now(), "789567^^^St Elsewhere Hospital^MR")
    answer = intake.receive_batch([(raw, "")], clinic=clinic_a, authorities=HARBOR)[0]
    assert answer.code == "AA" and answer.stored == 0
    kept = MonitorMessage.objects.get()
    assert kept.status == MessageStatus.UNMATCHED and kept.patient is None
    assert ("no patient id issued by this clinic (it sent 789567 issued by St Elsewhere Hospital)"
            in kept.reason)
    assert not VitalReading.objects.filter(source="device").exists()


@pytest.mark.parametrize("pid3", ["789567^^^Harbor Ketamine^MR", "789567^^^&HARBOR KETAMINE&ISO^MR",
                                  "789567^^^^MR", "789567",
                                  "789567^^^St Elsewhere Hospital^MR~789567^^^Harbor Ketamine^MR"])
def test_an_mrn_issued_under_the_clinics_authority_or_naming_none_is_taken(in_chair, clinic_a, pid3):
    raw = with_patient_ids(conformance_now(), pid3)
    answer = intake.receive_batch([(raw, "")], clinic=clinic_a, authorities=HARBOR)[0]
    assert answer.code == "AA" and answer.stored == 1
    assert MonitorMessage.objects.get().session == in_chair


def test_an_outside_mr_id_beside_the_clinics_own_id_leaves_the_clinics_to_match(in_chair, clinic_a,
                                                                                 prescriber):
    new_patient(clinic_a, prescriber, mrn="555000", prescriber=prescriber)
    raw = with_patient_ids(conformance_now(), "555000^^^St Elsewhere Hospital^MR~789567^^^Harbor Ketamine^PI")
    answer = intake.receive_batch([(raw, "")], clinic=clinic_a, authorities=HARBOR)[0]
    assert answer.stored == 1 and MonitorMessage.objects.get().session == in_chair


def test_without_the_clinics_authority_configured_an_mrn_is_taken_whoever_issued_it(in_chair, clinic_a):
    raw = with_patient_ids(conformance_now(), "789567^^^St Elsewhere Hospital^MR")
    assert intake.receive(raw, clinic=clinic_a).stored == 1  # the listener's default, in its help


@pytest.mark.django_db(transaction=True)
def test_the_listener_given_the_clinics_authority_leaves_an_outside_mrn_for_a_nurse(clinic_a, prescriber,
                                                                                   nurse):
    patient = new_patient(clinic_a, prescriber, mrn="789567", prescriber=prescriber)
    eligible_and_consented(patient, prescriber)
    session = cleared(patient, prescriber, nurse, start=30)
    running = Serving(clinic_a, authorities=HARBOR)
    try:
        outside = with_patient_ids(conformance_now(), "789567^^^St Elsewhere Hospital^MR")
        ours = (with_patient_ids(conformance_now(), "789567^^^Harbor Ketamine^MR")
                .replace("MSGID1234", "OURS1"))
        answers = asyncio.run(exchange(running.port, [framed(outside), framed(ours)]))
    finally:
        running.stop()
    assert [acks_code(a) for a in answers] == [("AA", "MSGID1234"), ("AA", "OURS1")]
    assert MonitorMessage.objects.get(control_id="MSGID1234").status == MessageStatus.UNMATCHED
    assert MonitorMessage.objects.get(control_id="OURS1").session == session
    assert VitalReading.objects.filter(session=session, source="device").count() == 1


def test_an_outside_mr_id_beside_an_id_naming_no_issuer_does_not_let_that_id_claim_the_message(
        in_chair, clinic_a):
    """An outside review: with the outside MR id dropped, the untyped id beside it (any number
    at all) was taken for the MRN; without the flag the same message waited for a nurse."""
    raw = with_patient_ids(conformance_now(), "555000^^^St Elsewhere Hospital^MR~789567")
    answer = intake.receive_batch([(raw, "")], clinic=clinic_a, authorities=HARBOR)[0]
    assert answer.stored == 0 and MonitorMessage.objects.get().status == MessageStatus.UNMATCHED
    assert "it sent 555000 issued by St Elsewhere Hospital" in MonitorMessage.objects.get().reason


@pytest.mark.parametrize("issuer", ["\\Xzz\\", "\\Other", "\\H\\"])
def test_an_issuer_whose_escapes_cannot_be_read_is_still_an_issuer_not_the_clinics(in_chair, clinic_a,
                                                                                  issuer):
    raw = with_patient_ids(conformance_now(), f"789567^^^{issuer}^MR")
    assert intake.receive_batch([(raw, "")], clinic=clinic_a, authorities=HARBOR)[0].stored == 0
    assert MonitorMessage.objects.get().status == MessageStatus.UNMATCHED


def test_another_hospitals_patient_id_from_a_monitor_at_a_chair_waits_for_a_nurse(in_chair, clinic_a,
                                                                                 clinic_admin):
    login(clinic_admin).post("/monitors/", {"device_id": "0123456789ABCDEF", "room": in_chair.room,
                                            "chair": in_chair.chair, "label": "", "active": "on"})
    raw = with_patient_ids(conformance_now(), "424242^^^St Elsewhere Hospital^MR")
    assert intake.receive_batch([(raw, "")], clinic=clinic_a, authorities=HARBOR)[0].stored == 0
    kept = MonitorMessage.objects.get()
    assert kept.status == MessageStatus.UNMATCHED and "chair is not trusted" in kept.reason
    # the same monitor with no patient id at all is placed by its chair, as before
    bare = with_patient_ids(conformance_now(), "").replace("MSGID1234", "BARE1")
    assert intake.receive_batch([(bare, "")], clinic=clinic_a, authorities=HARBOR)[0].stored == 1


@pytest.mark.parametrize(("extra", "why"), [
    ("MSH|^~\\&|Other^1^EUI-64||||20260101||ORU^R01|X2|P|2.6\rPID|||555000\r", "2 messages"),
    ("PID|||555000^^^^MR\rOBR|2\rOBX|9|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1|150|266016^MDC_DIM_MMHG^MDC"
     "|||||R\r", "results of 2 patients"),
])
def test_a_message_holding_a_second_message_or_patient_is_refused_not_read_as_the_first(in_chair, clinic_a,
                                                                                      extra, why):
    """An outside review: a second PID's blood pressure was stored in the first patient's chart."""
    answer = intake.receive(conformance_now() + extra, clinic=clinic_a)
    assert answer.code == "AR" and why in answer.ack
    assert not VitalReading.objects.filter(source="device").exists()


def register_at_the_chair(session, clinic_admin) -> None:
    login(clinic_admin).post("/monitors/", {"device_id": "0123456789ABCDEF", "room": session.room,
                                            "chair": session.chair, "label": "", "active": "on"})


def test_another_hospitals_id_beside_an_unknown_id_naming_no_issuer_still_waits_at_a_chair(
        in_chair, clinic_a, clinic_admin):
    """The re-check of the fixes: an unknown MR id naming no issuer let the outside id's message
    through to the chair's patient."""
    register_at_the_chair(in_chair, clinic_admin)
    raw = with_patient_ids(conformance_now(), "555000^^^St Elsewhere Hospital^MR~42^^^^MR")
    assert intake.receive_batch([(raw, "")], clinic=clinic_a, authorities=HARBOR)[0].stored == 0
    assert "chair is not trusted" in MonitorMessage.objects.get().reason


def test_an_mrn_of_a_patient_not_in_session_from_a_monitor_at_anothers_chair_waits_for_a_nurse(
        in_chair, clinic_a, clinic_admin, prescriber):
    """A monitor still carrying the last patient's MRN at the next patient's chair: the MRN and
    the chair disagree, so neither is trusted (as when both name sessions)."""
    new_patient(clinic_a, prescriber, mrn="555000", prescriber=prescriber)
    register_at_the_chair(in_chair, clinic_admin)
    raw = with_patient_ids(conformance_now(), "555000^^^^MR")
    assert intake.receive(raw, clinic=clinic_a).stored == 0
    kept = MonitorMessage.objects.get()
    assert kept.status == MessageStatus.UNMATCHED and kept.patient.mrn == "555000"
    assert "555000, who has no session in progress, but the monitor stands at another" in kept.reason


def test_a_message_kept_before_two_patients_in_one_were_refused_cannot_be_assigned_and_says_why(
        in_chair, clinic_a, nurse):
    from tests.conftest import set_directly

    raw = with_patient_ids(conformance_now(), "000000^^^Elsewhere^PI")
    intake.receive(raw, clinic=clinic_a)
    kept = MonitorMessage.objects.get()
    set_directly(MonitorMessage.objects.filter(pk=kept.pk), raw=raw + "PID|||555000\r")
    answer = login(nurse).post(f"/monitors/messages/{kept.pk}/assign/", {"session": in_chair.pk},
                               follow=True)
    assert answer.status_code == 200
    assert "Not assigned: the message cannot be assigned: it holds results of 2 patients" in \
        answer.content.decode()
    assert not VitalReading.objects.filter(source="device").exists()


@pytest.mark.parametrize("name", ["PID ", "pid", " PID"])
def test_a_second_patient_segment_spelled_loosely_is_counted_too(in_chair, clinic_a, name):
    extra = (f"{name}|||555000^^^^MR\rOBX|9|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1|150|"
             "266016^MDC_DIM_MMHG^MDC|||||R\r")
    answer = intake.receive(conformance_now() + extra, clinic=clinic_a)
    assert answer.code == "AR" and not VitalReading.objects.filter(source="device").exists()


def test_an_empty_mrn_authority_is_refused_rather_than_switching_the_check_off(clinic_a):
    import argparse

    from kapclinic.cli import CommandError, cmd_monitor_listen

    args = argparse.Namespace(clinic=clinic_a.slug, allow=None, host="127.0.0.1", port=0, workers=1,
                              mrn_authority=["Harbor Ketamine", " "])
    with pytest.raises(CommandError, match="--mrn-authority: a name is empty"):
        cmd_monitor_listen(args)


def test_pid_3s_assigning_authority_is_read_by_namespace_and_universal_id_unescaped():
    raw = ("MSH|^~\\&|M^1^EUI-64||||20260101||ORU^R01|A1|P|2.6\r"
           "PID|||1^^^North \\T\\ South&1.2.840.99&ISO^MR~2^^^^PI\rOBR|1\r")
    message = pcd01.parse(raw, UTC)
    assert message.patient_ids == [pcd01.PatientId("1", "MR", ("North & South", "1.2.840.99")),
                                   pcd01.PatientId("2", "PI", ())]
    message.keep_ids_issued_by(frozenset({"1.2.840.99"}))
    assert message.patient_refs == ["1"] and message.foreign_ids == []


def test_a_device_named_by_its_universal_id_in_obx_18_is_the_readings_device(in_chair, clinic_a):
    raw = conformance_now().replace("|0123456789ABCDEF^EUI-64", "|^^00A0C9FFFE14E2B1^EUI-64", 1)
    intake.receive(raw, clinic=clinic_a)
    assert VitalReading.objects.get(source="device").device == "00A0C9FFFE14E2B1"


def test_an_oximeters_pulse_is_recorded_when_the_ecg_heart_rate_beside_it_is_impossible(in_chair, clinic_a):
    raw = (f"MSH|^~\\&|Monitor^00A0C914C829^EUI-64||||{hl7_now()}||ORU^R01|PR1|P|2.6\r"
           f"PID|||789567\rOBR|1||||||{hl7_now()}\r"
           "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1|-100|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R\r"
           "OBX|2|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|2|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R\r")
    answer = intake.receive(raw, clinic=clinic_a)
    assert answer.code == "AA" and answer.stored == 1
    assert VitalReading.objects.get(source="device").heart_rate_bpm == 72
    kept = MonitorMessage.objects.get(control_id="PR1")
    assert [item.get("field") for item in kept.not_stored] == ["heart_rate_bpm"]  # the -100, with why
    assert kept.not_stored[0]["value"] == -100


def test_the_session_page_shows_the_monitors_values_not_charted_and_why(in_chair, clinic_a, nurse):
    """A waveform sent under the SpO2 code and an impossible heart rate are kept on the message
    with why; the nurse at the chair sees them beside the readings, not only in the database."""
    text = one_observation("150456^MDC_PULS_OXIM_SAT_O2^MDC", "1.18^1.17^1.16",
                           "262688^MDC_DIM_PERCENT^MDC")
    text = text.replace("|NM|150456", "|NA|150456", 1)
    assert intake.receive(text, clinic=clinic_a).code == "AA"
    assert intake.receive(one_observation("147842^MDC_ECG_HEART_RATE^MDC", "400",
                                          "264864^MDC_DIM_BEAT_PER_MIN^MDC", control_id="C-2"),
                          clinic=clinic_a).code == "AA"
    page = login(nurse).get(f"/sessions/{in_chair.pk}/").content.decode()
    section = page.split('id="not-charted-h"', 1)[1].split("</section>", 1)[0]
    assert "SpO2" in section
    assert "sent as a waveform&#x27;s samples (OBX-2 NA), not one measured number" in section
    assert "heart rate" in section and "400" in section
    assert section.index("heart rate") < section.index("SpO2")  # newest first
