"""A listener's group commit stores what arrived together as a batch: each message must come out
as if it had come alone (readings, matching, resends, what is not stored and why, the audit
trail), and a monitor measuring every few seconds must not bury the nurse in copies of one alert, nor
hide a patient getting worse behind one."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from kapclinic.alerts.models import Alert
from kapclinic.audit.models import AuditEntry
from kapclinic.treatment.models import MessageStatus, MonitorMessage, Session, VitalReading
from kapclinic.treatment.monitors import intake, simulate
from tests.conftest import new_patient
from tests.treatment.helpers import cleared, eligible_and_consented

pytestmark = pytest.mark.django_db


def in_chair(clinic, prescriber, nurse, mrn: str):
    patient = new_patient(clinic, prescriber, mrn=mrn, prescriber=prescriber)
    eligible_and_consented(patient, prescriber)
    return cleared(patient, prescriber, nurse, start=30)


def message(cid: str, mrn: str, *, seconds_ago: int, seed: int = 1, odd: str = "",
            device: str = "00A0C9FFFE000001", **vitals) -> str:
    drift = simulate.Drift(random.Random(seed))
    for name, value in vitals.items():
        setattr(drift, name, value)
    return simulate.message(control_id=cid, mrn=mrn, device=device, patient=drift, odd=odd,
                            at=datetime.now(UTC) - timedelta(seconds=seconds_ago))


def outcome(after_seq: int = 0) -> dict:
    """What the database holds of the monitors' messages, as a nurse would compare it (the
    audit entries after ``after_seq``)."""
    return {
        "messages": sorted((m.control_id, m.status, m.readings, m.reason, len(m.not_stored),
                            m.patient.mrn if m.patient else None)
                           for m in MonitorMessage.objects.select_related("patient")),
        "readings": sorted((r.session.patient.mrn, r.observed_at, r.sbp_mmhg, r.heart_rate_bpm,
                            r.spo2_pct, r.phase) for r in VitalReading.objects.filter(source="device")
                           .select_related("session__patient")),
        "alerts": sorted((a.patient.mrn, a.kind) for a in Alert.objects.select_related("patient")),
        "audit": sorted((e.object_type, e.action) for e in AuditEntry.objects.filter(
            seq__gt=after_seq, object_type__in=["monitor_message", "vital_reading", "alert"])),
    }


@pytest.fixture
def two_chairs(clinic_a, prescriber, nurse):
    return in_chair(clinic_a, prescriber, nurse, "M-1"), in_chair(clinic_a, prescriber, nurse, "M-2")


def the_traffic() -> list[str]:
    """Two patients' monitors interleaved, a resend, an invalid and an implausible SpO2, a reused
    control id with other content, and a message for nobody."""
    return [
        message("A-1", "M-1", seconds_ago=50, seed=1),
        message("B-1", "M-2", seconds_ago=49, seed=2, device="00A0C9FFFE000002"),
        message("A-2", "M-1", seconds_ago=40, seed=3, odd="invalid"),
        message("B-2", "M-2", seconds_ago=39, seed=4, odd="implausible", device="00A0C9FFFE000002"),
        message("A-1", "M-1", seconds_ago=50, seed=1),                   # a resend
        message("B-1", "M-2", seconds_ago=30, seed=9, device="00A0C9FFFE000002"),  # id reused
        message("C-1", "NOBODY", seconds_ago=20, seed=5, device="00A0C9FFFE000003"),
        message("A-3", "M-1", seconds_ago=10, seed=6, sbp=150.0, dbp=95.0),
    ]


def test_a_batch_stores_exactly_what_the_same_messages_one_at_a_time_store(two_chairs, clinic_a):
    traffic = the_traffic()
    start = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    with transaction.atomic():  # one at a time first, looked at, then undone
        alone = [intake.receive(raw, clinic=clinic_a, peer="127.0.0.1") for raw in traffic]
        one_by_one = outcome(start)
        transaction.set_rollback(True)
    assert not MonitorMessage.objects.exists()

    answers = intake.receive_batch([(raw, "127.0.0.1") for raw in traffic], clinic=clinic_a)

    assert [(a.code, a.stored) for a in answers] == [(a.code, a.stored) for a in alone]
    assert [a.stored for a in answers] == [1, 1, 1, 1, 0, 1, 0, 1]  # the resend and nobody's: 0
    assert outcome(start) == one_by_one
    statuses = {cid: status for cid, status, *_ in one_by_one["messages"]}
    assert statuses["C-1"] == MessageStatus.UNMATCHED
    assert sum(1 for cid in statuses if cid.startswith("B-1")) == 2  # other content: kept, no resend
    assert len(one_by_one["readings"]) == 6
    assert one_by_one["audit"].count(("monitor_message", "create")) == 7
    assert one_by_one["audit"].count(("vital_reading", "create")) == 6
    assert one_by_one["audit"].count(("alert", "create")) == len(one_by_one["alerts"]) >= 1


def test_a_batch_the_database_refuses_is_stored_message_by_message_and_only_the_bad_one_is_ae(
        two_chairs, clinic_a, monkeypatch):
    traffic = the_traffic()[:3]
    real_store = intake.store

    def refusing(items, **kw):
        if any(m.control_id == "A-2" for m, _, _ in items):  # the database refuses this one
            raise IntegrityError("refused")
        return real_store(items, **kw)

    monkeypatch.setattr(intake, "store", refusing)
    answers = intake.receive_batch([(raw, "127.0.0.1") for raw in traffic], clinic=clinic_a)
    assert [a.code for a in answers] == ["AA", "AA", "AE"]
    assert "\rERR|" in answers[2].ack and "MSA|AE|A-2" in answers[2].ack
    assert set(MonitorMessage.objects.values_list("control_id", flat=True)) == {"A-1", "B-1"}


def test_a_message_another_process_stored_between_reading_and_writing_is_answered_aa_and_kept_once(
        two_chairs, clinic_a, monkeypatch):
    """A batch is read before the writer's turn; the same message resent to another worker may
    be stored in between: the database refuses the second copy and the batch is stored again
    message by message, the resend answered AA, the other message kept."""
    first, second = the_traffic()[:2]
    real_read, meanwhile = intake.read, []

    def read_then_another_worker_stores(items, **kw):
        weighed = real_read(items, **kw)
        if len(items) == 2:  # this batch, not the other worker's own read
            meanwhile.append(intake.receive(first, clinic=clinic_a))  # the other worker's turn
        return weighed

    monkeypatch.setattr(intake, "read", read_then_another_worker_stores)
    answers = intake.receive_batch([(first, "127.0.0.1"), (second, "127.0.0.1")], clinic=clinic_a)
    assert meanwhile[0].code == "AA" and meanwhile[0].stored == 1
    assert [(a.code, a.stored) for a in answers] == [("AA", 0), ("AA", 1)]
    assert MonitorMessage.objects.filter(control_id="A-1").count() == 1
    assert VitalReading.objects.filter(source="device").count() == 2


def test_each_monitor_reading_worse_than_the_open_alert_raises_its_own_alert(
        clinic_a, prescriber, nurse):
    """An outside review found that holding back a rule's second alert while its first is open
    hid a worsening patient (SpO2 91, then 78, then 70 raised one alert saying 91): a reading
    further out than the open alert shows raises its own, in a batch or alone."""
    in_chair(clinic_a, prescriber, nurse, "M-9")
    high = [message(f"H-{n}", "M-9", seconds_ago=60 - 10 * n, seed=n, sbp=165.0 + 5 * n, dbp=100.0)
            for n in range(3)]
    intake.receive_batch([(raw, "127.0.0.1") for raw in high[:2]], clinic=clinic_a)
    intake.receive(high[2], clinic=clinic_a)
    readings = VitalReading.objects.filter(source="device", sbp_mmhg__gte=160)
    assert readings.count() == 3
    alerted = set(Alert.objects.filter(patient__mrn="M-9").values_list("record_id", flat=True))
    assert alerted == set(readings.values_list("pk", flat=True))


def test_when_the_database_fails_the_batch_each_message_is_ae_and_what_cannot_be_read_stays_ar(
        two_chairs, clinic_a, monkeypatch):
    from django.db import OperationalError

    def database_down(items, clinic, weighed, memory=None):
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(intake, "_store_all", database_down)
    traffic = [(the_traffic()[0], "127.0.0.1"), ("not hl7 at all", "127.0.0.1")]
    answers = intake.receive_batch(traffic, clinic=clinic_a)
    assert [a.code for a in answers] == ["AE", "AR"]
    assert "MSA|AE|A-1" in answers[0].ack and "send it again" in answers[0].ack
    assert not MonitorMessage.objects.exists()


def blood_pressure_alerts(mrn: str) -> list[Alert]:
    return list(Alert.objects.filter(patient__mrn=mrn, kind="predose_bp_above_label_figure").order_by("pk"))


def test_a_steady_stream_firing_the_same_rule_is_counted_on_its_open_alert(clinic_a, prescriber, nurse):
    in_chair(clinic_a, prescriber, nurse, "M-8")
    steady = [message(f"S-{n}", "M-8", seconds_ago=60 - 10 * n, seed=n, sbp=165.0, dbp=100.0)
              for n in range(4)]
    intake.receive(steady[0], clinic=clinic_a)
    intake.receive_batch([(raw, "127.0.0.1") for raw in steady[1:3]], clinic=clinic_a)
    intake.receive(steady[3], clinic=clinic_a)
    assert VitalReading.objects.filter(source="device", sbp_mmhg=165).count() == 4
    [alert] = blood_pressure_alerts("M-8")
    last = VitalReading.objects.filter(source="device").latest("observed_at")
    assert alert.repeats == 3 and alert.repeated_at == last.observed_at
    assert "165" in alert.repeated_label and alert.acknowledged_at is None
    counted = AuditEntry.objects.filter(object_type="alert", object_id=str(alert.pk), action="update")
    assert sum(json.loads(e.detail_json)["fired_again"] for e in counted) == 3
    assert json.loads(counted.latest("seq").detail_json)["last_reading"] == last.pk


def test_a_reading_better_than_the_open_alert_counts_on_it_and_a_worse_one_raises_its_own(
        clinic_a, prescriber, nurse):
    in_chair(clinic_a, prescriber, nurse, "M-7")
    for n, sbp in enumerate((170.0, 165.0, 175.0, 172.0)):
        intake.receive(message(f"W-{n}", "M-7", seconds_ago=60 - 10 * n, seed=n, sbp=sbp, dbp=85.0),
                       clinic=clinic_a)
    first, second = blood_pressure_alerts("M-7")
    assert (first.repeats, second.repeats) == (1, 1)  # 165 on the 170 alert; 172 on the 175 one
    assert "170" in first.label and "165" in first.repeated_label
    assert "175" in second.label and "172" in second.repeated_label


def test_once_its_alert_is_acknowledged_the_rule_firing_again_raises_a_new_one(clinic_a, prescriber, nurse):
    from kapclinic.alerts.actions import acknowledge_alert

    in_chair(clinic_a, prescriber, nurse, "M-6")
    intake.receive(message("K-0", "M-6", seconds_ago=50, sbp=165.0, dbp=85.0), clinic=clinic_a)
    [alert] = blood_pressure_alerts("M-6")
    acknowledge_alert(alert=alert, note="Rechecked by hand: 162/84, prescriber told", by=nurse)
    intake.receive(message("K-1", "M-6", seconds_ago=40, seed=2, sbp=165.0, dbp=85.0), clinic=clinic_a)
    first, second = blood_pressure_alerts("M-6")
    assert first.repeats == 0 and second.acknowledged_at is None and second.repeats == 0


def test_an_alert_acknowledged_between_reading_and_writing_is_not_counted_on_a_new_one_is_raised(
        clinic_a, prescriber, nurse, monkeypatch):
    from kapclinic.alerts.actions import acknowledge_alert

    in_chair(clinic_a, prescriber, nurse, "M-5")
    intake.receive(message("R-0", "M-5", seconds_ago=50, sbp=165.0, dbp=85.0), clinic=clinic_a)
    real_read = intake.read

    def read_then_the_nurse_acknowledges(items, **kw):
        weighed = real_read(items, **kw)
        for alert in blood_pressure_alerts("M-5"):
            acknowledge_alert(alert=alert, note="Seen at the chair", by=nurse)
        return weighed

    monkeypatch.setattr(intake, "read", read_then_the_nurse_acknowledges)
    batch = [message(f"R-{n}", "M-5", seconds_ago=50 - 10 * n, seed=n, sbp=165.0, dbp=85.0) for n in (1, 2)]
    intake.receive_batch([(raw, "127.0.0.1") for raw in batch], clinic=clinic_a)
    first, second = blood_pressure_alerts("M-5")
    assert first.repeats == 0 and first.acknowledged_at is not None
    assert second.acknowledged_at is None and second.repeats == 1  # R-1 raised it, R-2 counted


def test_a_firing_after_the_patient_recovered_raises_a_new_alert(clinic_a, prescriber, nurse):
    """An outside review: 165, then readings back under the rule's figure, then 165 again is a
    new episode with its own raised time and escalation, not a count on the first alert."""
    in_chair(clinic_a, prescriber, nurse, "M-3")
    for n, sbp in enumerate((165.0, 130.0, 128.0, 165.0)):
        intake.receive(message(f"E-{n}", "M-3", seconds_ago=60 - 10 * n, seed=n, sbp=sbp, dbp=85.0),
                       clinic=clinic_a)
    first, second = blood_pressure_alerts("M-3")
    assert (first.repeats, second.repeats) == (0, 0)


def without_blood_pressure(raw: str) -> str:
    return "\r".join(line for line in raw.split("\r") if "PRESS_BLD" not in line)


def test_a_reading_that_did_not_measure_the_rules_vitals_does_not_end_its_episode(
        clinic_a, prescriber, nurse):
    """A second outside review: monitors send the cuff pressure every few minutes and the rest
    every few seconds; a reading without a blood pressure says nothing of the blood pressure."""
    in_chair(clinic_a, prescriber, nurse, "M-0")
    intake.receive(message("N-0", "M-0", seconds_ago=50, sbp=165.0, dbp=85.0), clinic=clinic_a)
    intake.receive(without_blood_pressure(message("N-1", "M-0", seconds_ago=40, seed=2)), clinic=clinic_a)
    intake.receive_batch([  # the same within a batch
        (without_blood_pressure(message("N-2", "M-0", seconds_ago=35, seed=3)), "127.0.0.1"),
        (message("N-3", "M-0", seconds_ago=30, seed=4, sbp=165.0, dbp=85.0), "127.0.0.1")], clinic=clinic_a)
    assert VitalReading.objects.filter(source="device", sbp_mmhg__isnull=True).count() == 2
    [alert] = blood_pressure_alerts("M-0")
    assert alert.repeats == 1


def test_an_alert_whose_reading_was_entered_in_error_takes_no_more_firings(clinic_a, prescriber, nurse):
    """An outside review: an artefact's alert must not swallow the real readings after it."""
    from kapclinic.treatment import actions

    in_chair(clinic_a, prescriber, nurse, "M-2")
    intake.receive(message("A-0", "M-2", seconds_ago=50, sbp=175.0, dbp=85.0), clinic=clinic_a)
    artefact = VitalReading.objects.get(source="device", sbp_mmhg=175)
    actions.mark_vitals_entered_in_error(artefact, reason="Cuff slipped: artefact", by=nurse)
    intake.receive(message("A-1", "M-2", seconds_ago=40, seed=2, sbp=165.0, dbp=85.0), clinic=clinic_a)
    first, second = blood_pressure_alerts("M-2")
    assert first.repeats == 0 and "165" in second.label


def while_a_batch_holds_the_trail(batch_write, other) -> dict[str, str]:
    """PostgreSQL, two connections: a batch takes the audit trail's lock, waits half a second and
    writes (``batch_write``); meanwhile ``other`` runs. What each came to (or the error's name)."""
    import threading
    import time

    from django.db import connection, transaction

    from kapclinic.audit import trail
    from kapclinic.audit.actions import writing_directly

    outcomes: dict[str, str] = {}

    def run(name: str, work, pause: float) -> None:
        try:
            if name == "batch":
                with writing_directly("a batch's turn, reduced to its lock and one write"), \
                        transaction.atomic():
                    trail.lock_chain()
                    time.sleep(pause)
                    work()
            else:
                time.sleep(pause)
                work()
            outcomes[name] = "done"
        except Exception as exc:  # noqa: BLE001 - the outcome is the test's finding
            outcomes[name] = type(exc).__name__
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=("batch", batch_write, 0.5)),
               threading.Thread(target=run, args=("other", other, 0.15))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_nurse_acknowledging_while_a_batch_counts_on_the_alert_never_deadlocks(clinic_a, prescriber, nurse):
    """An outside review: the batch holds the audit trail's lock and then updates the alert; an
    acknowledgement took the alert's row and then the trail's lock. Both now take the trail's
    first: the nurse waits a moment and the acknowledgement is kept."""
    from kapclinic.alerts.actions import acknowledge_alert
    from kapclinic.treatment.monitors import queries

    in_chair(clinic_a, prescriber, nurse, "M-1")
    intake.receive(message("D-0", "M-1", seconds_ago=50, sbp=165.0, dbp=85.0), clinic=clinic_a)
    [alert] = blood_pressure_alerts("M-1")
    outcomes = while_a_batch_holds_the_trail(
        lambda: queries.count_again([queries.Count(alert.pk, 1, timezone.now(), "systolic BP 165 mmHg")]),
        lambda: acknowledge_alert(alert=alert, note="Rechecked by hand, prescriber told", by=nurse))
    assert outcomes == {"batch": "done", "other": "done"}
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None and alert.repeats == 1


def test_a_session_cancelled_between_reading_and_writing_gets_no_readings_the_batch_is_read_again(
        two_chairs, clinic_a, nurse, monkeypatch):
    """The batch is weighed before the writer's turn; in the turn one query checks the sessions
    it was matched to are as read. A session a nurse cancelled meanwhile takes no readings: the
    message waits for a nurse instead."""
    from kapclinic.treatment import actions

    real_read, cancelled = intake.read, []

    def read_then_the_nurse_cancels(items, **kw):
        weighed = real_read(items, **kw)
        if not cancelled:
            session = Session.objects.get(patient__mrn="M-1", state="cleared")
            cancelled.append(actions.transition(session, to="cancelled", at=timezone.now(), by=nurse,
                                                expected_version=session.version, reason="Felt unwell"))
        return weighed

    monkeypatch.setattr(intake, "read", read_then_the_nurse_cancels)
    answer = intake.receive(the_traffic()[0], clinic=clinic_a)
    assert answer.code == "AA" and answer.stored == 0
    assert not VitalReading.objects.filter(session=cancelled[0], source="device").exists()
    assert MonitorMessage.objects.get(control_id="A-1").status == "unmatched"


# --- a listener's memory of patients and sessions, from one batch to the next -------------------

@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """receive_batch as the listener's writer runs it: what waits for the commit runs (the
    tests' own transaction never commits)."""
    def receive(raws, **kw):
        with django_capture_on_commit_callbacks(execute=True):
            return intake.receive_batch(raws, **kw)
    return receive


def dosing(clinic, prescriber, nurse, mrn: str) -> Session:
    from tests.treatment.helpers import minutes_ago, step

    return step(in_chair(clinic, prescriber, nurse, mrn), "dosing", minutes_ago(10), nurse,
                late_reason="Recorded after the dose", administration={"dose_mg_per_kg": 0.5})


def test_a_listener_remembers_its_patients_sessions_and_reads_only_what_changed(
        clinic_a, prescriber, nurse, committed, django_assert_max_num_queries):
    from kapclinic.treatment.monitors.memory import Memory

    dosing(clinic_a, prescriber, nurse, "M-1")
    memory = Memory()
    first = committed([(message("R-1", "M-1", seconds_ago=30), "127.0.0.1")],
                                 clinic=clinic_a, memory=memory)
    assert first[0].stored == 1 and "M-1" in memory.patients and memory.sessions
    # the next batch reads neither the patient, nor the session, nor its state
    with django_assert_max_num_queries(30) as seen:
        committed([(message("R-2", "M-1", seconds_ago=20, seed=2), "127.0.0.1")],
                             clinic=clinic_a, memory=memory)
    tables = " ".join(q["sql"] for q in seen.captured_queries)
    assert "patients_patient\".\"mrn\" IN" not in tables and "treatment_sessionevent" not in tables


def test_a_change_a_nurse_makes_between_two_batches_is_weighed_by_the_next(
        clinic_a, prescriber, nurse, committed):
    """The memory holds while the patient's last audit entry is the one it knew: a pre-dose
    reading typed late lowers the baseline, and the next monitor reading is a large rise from it
    (a remembered baseline would have hidden that)."""
    from kapclinic.treatment import actions
    from kapclinic.treatment.monitors.memory import Memory
    from tests.treatment.helpers import minutes_ago

    session = dosing(clinic_a, prescriber, nurse, "M-1")  # its pre-dose reading: 122/78
    memory = Memory()
    committed([(message("R-1", "M-1", seconds_ago=30, sbp=130.0), "127.0.0.1")],
                         clinic=clinic_a, memory=memory)
    actions.record_vitals(session, observed_at=minutes_ago(12), values={"sbp_mmhg": 100, "dbp_mmhg": 70},
                          by=nurse, late_reason="Taken before the dose, typed now")
    committed([(message("R-2", "M-1", seconds_ago=20, sbp=145.0), "127.0.0.1")],
                         clinic=clinic_a, memory=memory)
    reading = VitalReading.objects.get(session=session, source="device", sbp_mmhg=145)
    assert Alert.objects.filter(record_id=reading.pk, kind="bp_large_rise").exists()


def test_a_batch_that_fails_leaves_the_memory_as_it_was(clinic_a, prescriber, nurse, monkeypatch,
                                                        committed):
    from kapclinic.treatment.monitors.memory import Memory

    session = dosing(clinic_a, prescriber, nurse, "M-1")
    memory = Memory()
    committed([(message("R-1", "M-1", seconds_ago=30), "127.0.0.1")],
                         clinic=clinic_a, memory=memory)
    remembered = memory.sessions[session.pk][0]
    before = (remembered.last_reading_at, len(remembered.added_pre_dose), memory.sessions[session.pk][1])

    def audit_refused(*args, **kw):
        raise IntegrityError("refused")

    monkeypatch.setattr(intake.trail, "record_many", audit_refused)
    answer = committed([(message("R-2", "M-1", seconds_ago=5, seed=2), "127.0.0.1")],
                                  clinic=clinic_a, memory=memory)[0]
    assert answer.code == "AE"
    remembered = memory.sessions[session.pk][0]
    assert (remembered.last_reading_at, len(remembered.added_pre_dose),
            memory.sessions[session.pk][1]) == before


def test_a_check_in_made_while_a_batch_reads_is_not_taken_as_known(
        clinic_a, prescriber, nurse, committed, monkeypatch):
    """A patient is read with their last change, before anything else of theirs: a check-in
    made between reading the patient and reading their sessions is caught in the writer's turn,
    and the batch is read again there (an outside review showed the memory kept 'no session in
    progress' for good)."""
    from kapclinic.treatment.monitors.memory import Memory
    from tests.treatment.helpers import minutes_ago, session, step

    patient = new_patient(clinic_a, prescriber, mrn="M-1", prescriber=prescriber)
    eligible_and_consented(patient, prescriber)
    booked = session(patient, prescriber, started_minutes_ago=20)
    real_of, checked_in = intake.Directory.of, []

    def of_then_a_check_in(messages, clinic, memory=None):
        found = real_of(messages, clinic, memory)
        if not checked_in:
            checked_in.append(step(booked, "checked_in", minutes_ago(2), nurse))
        return found

    monkeypatch.setattr(intake.Directory, "of", of_then_a_check_in)
    memory = Memory()
    first = committed([(message("C-1", "M-1", seconds_ago=30), "127.0.0.1")], clinic=clinic_a,
                      memory=memory)
    second = committed([(message("C-2", "M-1", seconds_ago=20, seed=2), "127.0.0.1")], clinic=clinic_a,
                       memory=memory)
    assert [first[0].stored, second[0].stored] == [1, 1]
    assert VitalReading.objects.filter(session=booked, source="device").count() == 2


def test_the_session_page_and_the_alerts_page_say_how_often_an_open_alert_fired_again(
        clinic_a, prescriber, nurse):
    from tests.conftest import login

    session = in_chair(clinic_a, prescriber, nurse, "M-4")
    for n in range(3):
        intake.receive(message(f"P-{n}", "M-4", seconds_ago=60 - 10 * n, seed=n, sbp=165.0, dbp=85.0),
                       clinic=clinic_a)
    client = login(nurse)
    for url in (f"/sessions/{session.pk}/", "/alerts/"):
        page = client.get(url).content.decode()
        assert "Fired again 2 times while open, no worse than this" in page, url


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_patient_edited_while_a_batch_writes_their_readings_never_deadlocks(clinic_a, prescriber, nurse):
    """A second outside review: the edit locked the patient's row, then waited for the audit
    trail's lock; a batch holding that lock waited on the row to insert a reading naming the
    patient. The edit's lock now lets rows naming the patient be written."""
    from kapclinic.patients import actions as patient_actions
    from kapclinic.patients.models import Patient

    session = in_chair(clinic_a, prescriber, nurse, "M-1")

    def edit() -> None:
        patient = Patient.objects.get(pk=session.patient_id)
        patient_actions.update_patient(patient=patient, changes={"phone": "555-0100"},
                                       expected_version=patient.version, by=prescriber)

    outcomes = while_a_batch_holds_the_trail(
        lambda: VitalReading.objects.create(session=session, patient_id=session.patient_id,
                                            observed_at=timezone.now(), phase="pre_dose",
                                            fingerprint="deadlock-test", source="device", heart_rate_bpm=72),
        edit)
    assert outcomes == {"batch": "done", "other": "done"}
