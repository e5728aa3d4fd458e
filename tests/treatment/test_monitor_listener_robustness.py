"""The bedside-monitor listener under what monitors and networks really send (issue 15, "Done
when"): whatever bytes, broken frames and oversized messages arrive, on one connection or
several, the listener keeps acknowledging good messages and stores nothing for the garbage;
and a listener killed (SIGKILL) while monitors stream has stored every message it acknowledged,
each exactly once after the monitors resend everything to the restarted listener."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kapclinic.treatment.models import MonitorMessage, VitalReading
from kapclinic.treatment.monitors import listener, simulate
from tests import command
from tests.conftest import new_patient
from tests.treatment.helpers import cleared, eligible_and_consented
from tests.treatment.monitor_serving import Serving
from tests.treatment.test_monitors import acks_code, conformance_now, framed

MRN = "789567"  # the conformance message's PID-3
ANSWER_WITHIN = 30.0  # seconds; generous, the suite runs on busy two-core machines
ids = itertools.count(1)  # control ids unique across examples (the database is shared)


# --- the listener in a thread, closed down completely after each example ------------------------

async def within(coro, serving: Serving, what: str):
    """``coro``'s result, failing at once if the listener's writer thread has died (then no
    message is ever acknowledged again) and after ANSWER_WITHIN seconds otherwise."""
    task = asyncio.ensure_future(coro)
    deadline = time.monotonic() + ANSWER_WITHIN
    while True:
        done, _ = await asyncio.wait({task}, timeout=0.1)
        if done:
            return task.result()
        dead = not serving.writer_alive()
        if dead or time.monotonic() > deadline:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise AssertionError(
                f"{what}: " + ("the listener's writer thread died, so nothing is acknowledged "
                               "any more (see the thread's exception above)" if dead else
                               f"no answer within {ANSWER_WITHIN:.0f} s"))


def acks_in(data: bytes) -> list[tuple[str, str]]:
    """(MSA-1, MSA-2) of each MLLP block the listener sent back."""
    found = []
    for block in data.split(b"\x1c\r"):
        text = block.lstrip(b"\x0b").decode("utf-8", errors="replace")
        msa = [line for line in text.split("\r") if line.startswith("MSA|")]
        if msa:
            parts = msa[0].split("|") + ["", ""]
            found.append((parts[1], parts[2]))
    return found


async def converse(port: int, chunks: list[bytes]) -> list[tuple[str, str]]:
    """Send the chunks on one connection, half-close it, and collect every ACK until the
    listener hangs up (it may hang up early, after an oversized message)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received = bytearray()

    async def read_all() -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                received.extend(data)

    reading = asyncio.create_task(read_all())
    try:
        for data in chunks:
            if writer.is_closing() or reading.done():
                break
            writer.write(data)
            await writer.drain()
        if not writer.is_closing():
            writer.write_eof()
    except OSError:
        pass  # the listener closed the connection while we were writing
    try:
        await reading
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return acks_in(bytes(received))


# --- what the monitors send ----------------------------------------------------------------------

def oru(control_id: str, seed: int = 0) -> str:
    drift = simulate.Drift(random.Random(seed))
    drift.step()
    return simulate.message(control_id=control_id, mrn=MRN, device="00A0C9FFFE0A1B2C",
                            at=datetime.now(UTC) - timedelta(seconds=30), patient=drift)


HEADER = oru("X").split("\r", 1)[0]
BEFORE_CONTROL_ID = HEADER.index("|X|") + 1  # a header cut before here has no MSH-10

# Each chunk is (kind, parameter); the bytes are made when the example runs, with fresh control
# ids, so that a stored garbage message is recognised by its id.
chunks = st.one_of(
    st.tuples(st.just("valid"), st.integers(0, 1000)),            # a good message, framed
    st.tuples(st.just("bytes"), st.binary(max_size=300)),         # anything on the wire
    st.tuples(st.just("framed bytes"), st.binary(max_size=300)),  # anything inside <VT>..<FS><CR>
    st.tuples(st.just("framed text"), st.text(max_size=200)),
    st.tuples(st.just("header only"), st.integers(0, BEFORE_CONTROL_ID)),  # MSH without MSH-10
    st.tuples(st.just("truncated"), st.integers(0, 2000)),        # a frame cut off: no <FS><CR>
    st.tuples(st.just("no start byte"), st.integers(0, 1000)),    # a message without <VT>
    st.tuples(st.just("oversized"), st.integers(1, 4096)),        # over MAX_MESSAGE_BYTES
)
conversations = st.lists(st.lists(chunks, min_size=1, max_size=6), min_size=1, max_size=3)


@dataclass
class Sent:
    """What an example sent on each connection, and the control ids of its oversized messages."""

    connections: list[list[bytes]] = field(default_factory=list)
    oversized: set[str] = field(default_factory=set)

    def message(self, prefix: str, text: str = "", seed: int = 0) -> tuple[str, bytes]:
        cid = f"{prefix}-{next(ids)}"
        return cid, framed(oru(cid, seed) + text)

    def blocks(self) -> list[str]:
        """What a receiver may take for a message: in each connection's bytes, however they were
        chunked, each block ending in <FS><CR>, from its last <VT> on (bytes before a start byte
        are not part of the message), within the size limit. A cut-off frame followed by a
        message without its <VT> is a good frame of a message spliced from both; a cut-off frame
        followed by a whole one is not, and neither is a frame cut off when the connection ends."""
        found = []
        for chunks_ in self.connections:
            for block in b"".join(chunks_).split(b"\x1c\r")[:-1]:
                if b"\x0b" in block and len(block) <= listener.MAX_MESSAGE_BYTES:
                    found.append(block.rsplit(b"\x0b", 1)[1].decode("utf-8", errors="replace"))
        return found

    def framed(self, cid: str) -> bool:
        return any(cid in block for block in self.blocks())


def wire(kind: str, parameter, sent: Sent) -> bytes:
    """The bytes of one chunk."""
    if kind == "valid":
        return sent.message("VALID", seed=parameter)[1]
    if kind == "bytes":
        return parameter
    if kind == "framed bytes":
        return b"\x0b" + parameter + b"\x1c\r"
    if kind == "framed text":
        return framed(parameter)
    if kind == "header only":
        return framed(HEADER[:parameter])
    if kind == "truncated":
        frame = sent.message("TRUNCATED")[1]
        return frame[:1 + parameter % (len(frame) - 3)]  # <VT> and part of the message
    if kind == "no start byte":
        return sent.message("NOSTART", seed=parameter)[1][1:]
    if kind == "oversized":
        padding = "NTE|1||" + "x" * (listener.MAX_MESSAGE_BYTES + parameter) + "\r"
        cid, frame = sent.message("OVERSIZED", padding)
        sent.oversized.add(cid)
        return frame
    raise AssertionError(kind)


@pytest.fixture
def in_chair_now(clinic_a, prescriber, nurse):
    """Patient MRN 789567 in a session cleared to dose, committed for the listener's thread."""
    patient = new_patient(clinic_a, prescriber, mrn=MRN, prescriber=prescriber)
    eligible_and_consented(patient, prescriber)
    return cleared(patient, prescriber, nurse, start=30)


@pytest.mark.django_db(transaction=True)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(conversations=conversations)
@example(conversations=[[("header only", 8)]])                     # "MSH|^~\&" alone
@example(conversations=[[("truncated", 150), ("valid", 1)]])       # a cut-off frame, then a good one
@example(conversations=[[("oversized", 1), ("valid", 2)], [("bytes", b"\x1c\r\x0b"), ("valid", 3)]])
def test_the_listener_survives_any_input_keeps_acknowledging_and_stores_nothing_for_garbage(
        in_chair_now, clinic_a, conversations):
    sent = Sent()
    sent.connections = [[wire(kind, parameter, sent) for kind, parameter in chunks_]
                        for chunks_ in conversations]
    probe = f"PROBE-{next(ids)}"
    before = set(MonitorMessage.objects.values_list("control_id", flat=True))
    serving = Serving(clinic_a)
    try:
        async def run():
            answers = await within(asyncio.gather(*(converse(serving.port, c)
                                                    for c in sent.connections)),
                                   serving, "the listener stopped answering the example's connections")
            # then a monitor on a new connection sends the reference's conformance message
            healthy = await within(converse(serving.port, [framed(
                conformance_now().replace("MSGID1234", probe))]), serving,
                "after the example, a new connection's conformance message was not answered")
            return answers, healthy

        answers, healthy = asyncio.run(run())
    finally:
        serving.stop()

    assert healthy == [("AA", probe)], f"after the example the listener answered {healthy}"
    accepted = {cid for conversation in answers for code, cid in conversation if code == "AA"}
    unframed = {cid for cid in accepted if not sent.framed(cid)} | (accepted & sent.oversized)
    assert not unframed, f"acknowledged AA what was never a whole message: {sorted(unframed)}"
    stored = collections.Counter(MonitorMessage.objects.exclude(control_id__in=before)
                                 .values_list("control_id", flat=True))
    # a control id an earlier example used, with other content, is kept as the id~its hash
    garbage = {cid for cid in stored if cid != probe and not sent.framed(cid.split("~")[0])}
    assert not garbage | (set(stored) & sent.oversized), (
        f"stored for garbage: {sorted(garbage | (set(stored) & sent.oversized))}")
    assert all(stored[cid] == 1 for cid in accepted | {probe}), f"not stored exactly once: {stored}"
    # every device reading belongs to a stored message
    device_readings = VitalReading.objects.filter(source="device").count()
    assert device_readings == MonitorMessage.objects.aggregate(n=Sum("readings"))["n"]


# --- SIGKILL while monitors stream, then restart and resend --------------------------------------

MONITORS = 4          # connections streaming at once
PER_MONITOR = 30      # messages each
WINDOW = 2            # messages a monitor sends ahead of its ACKs
KILL_AFTER = 40       # acknowledged messages before the SIGKILL


def start_listener(data_dir: Path, clinic: str, port: int, name: str) -> tuple[subprocess.Popen, int]:
    """`kapclinic monitor listen` as a process of its own; returns it and its port once it says
    it is listening."""
    out, err = data_dir / f"{name}.out", data_dir / f"{name}.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "kapclinic.cli", "monitor", "listen",
                                    "--clinic", clinic, "--port", str(port), "--workers", "2"],
                                   stdout=stdout, stderr=stderr, env=command.environment(data_dir))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        said = re.search(r"Listening for monitors .* on 127\.0\.0\.1:(\d+)", out.read_text())
        if said:  # said once every worker accepts on the port
            return process, int(said.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise AssertionError(f"the listener did not start:\n{out.read_text()}\n{err.read_text()}")


def workers_of(process: subprocess.Popen) -> list[int]:
    path = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def sockets_of(pid: int) -> int:
    return sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir()
               if os.readlink(fd).startswith("socket:"))


def running(pid: int) -> bool:
    """Alive and not a zombie (a killed worker its dead parent can no longer reap)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def in_progress(db_file: Path) -> tuple[str, str, int]:
    """A demo patient's MRN, clinic slug and session now in the chair."""
    with contextlib.closing(sqlite3.connect(db_file)) as db:
        row = db.execute(
            "SELECT p.mrn, c.slug, s.id FROM treatment_session s "
            "JOIN patients_patient p ON p.id = s.patient_id "
            "JOIN accounts_clinic c ON c.id = p.clinic_id "
            "WHERE s.state IN ('checked_in', 'cleared', 'dosing', 'monitoring') "
            "ORDER BY s.id LIMIT 1").fetchone()
    assert row, "the demo has no session in progress"
    return row


def stored_in(db_file: Path, session_id: int, after: int = 0) -> tuple[collections.Counter, list[tuple]]:
    """The test's control ids stored (how many times each), and the session's device readings
    after the reading ``after`` (the demo's own come first)."""
    with contextlib.closing(sqlite3.connect(db_file)) as db:
        messages = collections.Counter(row[0] for row in db.execute(
            "SELECT control_id FROM treatment_monitormessage WHERE control_id LIKE 'KILL-%'"))
        readings = db.execute("SELECT device, observed_at, fingerprint FROM treatment_vitalreading "
                              "WHERE source = 'device' AND session_id = ? AND id > ?",
                              (session_id, after)).fetchall()
    return messages, readings


def last_reading(db_file: Path) -> int:
    with contextlib.closing(sqlite3.connect(db_file)) as db:
        return db.execute("SELECT coalesce(max(id), 0) FROM treatment_vitalreading").fetchone()[0]


async def stream(port: int, messages: list[tuple[str, str]], acked: set[str], *,
                 on_ack=lambda: None) -> None:
    """One monitor: sends its messages WINDOW ahead of their ACKs and notes each AA; stops
    quietly when the listener goes away."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    pending: collections.deque[str] = collections.deque()
    queue = iter(messages)
    try:
        while True:
            while len(pending) < WINDOW and (item := next(queue, None)) is not None:
                writer.write(framed(item[1]))
                pending.append(item[0])
            await writer.drain()
            if not pending:
                return
            ack = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 60)
            code, cid = acks_code(ack.strip(b"\x0b\x1c\r").decode())
            assert cid == pending.popleft(), f"ACK for {cid} out of order"
            if code == "AA":
                acked.add(cid)
                on_ack()
    except (OSError, asyncio.IncompleteReadError):
        return  # the listener was killed
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@pytest.mark.slow
@pytest.mark.own_data_folder
def test_a_listener_killed_mid_stream_has_stored_every_acknowledged_message_once_after_restart(
        migrated_data_folder):
    tmp_path = migrated_data_folder
    made = command.kapclinic(tmp_path, "demo", "--patients", "1", "--seed", "3", "--password",
                     "demo-password-123")
    assert made.returncode == 0, made.stderr
    db_file = tmp_path / "kapclinic.sqlite3"
    mrn, clinic, session_id = in_progress(db_file)
    demo_readings = last_reading(db_file)
    assert not stored_in(db_file, session_id)[0]

    # each monitor's messages, made once: a resend after the restart is the same message
    start = datetime.now(UTC) - timedelta(minutes=5)
    monitors = []
    for m in range(MONITORS):
        drift, device = simulate.Drift(random.Random(m)), f"00A0C9FFFE{m:06X}"
        messages = []
        for n in range(PER_MONITOR):
            drift.step()
            cid = f"KILL-{m}-{n}"
            messages.append((cid, simulate.message(
                control_id=cid, mrn=mrn, device=device, patient=drift,
                at=start + timedelta(seconds=MONITORS * n + m))))  # a time of its own each
        monitors.append(messages)
    every = {cid for messages in monitors for cid, _ in messages}

    processes = []
    try:
        first, port = start_listener(tmp_path, clinic, 0, "first")
        processes.append(first)
        workers = workers_of(first)
        assert len(workers) == 2 or not Path("/proc").exists(), "the listener did not start 2 workers"
        acked: set[str] = set()

        def kill_at_the_mark() -> None:
            if len(acked) == KILL_AFTER and first.poll() is None:
                os.kill(first.pid, signal.SIGKILL)

        async def until_killed():
            await asyncio.wait_for(asyncio.gather(
                *(stream(port, messages, acked, on_ack=kill_at_the_mark) for messages in monitors)), 120)

        asyncio.run(until_killed())
        first.wait(10)
        assert first.returncode == -signal.SIGKILL, "the listener was not killed mid-stream"
        deadline = time.monotonic() + 5
        while any(running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(running(pid) for pid in workers), "a worker outlived its killed listener"
        assert KILL_AFTER <= len(acked) < len(every), "the stream ended before the kill"

        # durable before acknowledged: what the killed listener acknowledged is on disk
        stored, _ = stored_in(db_file, session_id)
        assert acked <= set(stored), f"acknowledged but lost: {sorted(acked - set(stored))}"

        # the monitors reconnect to the restarted listener and send everything again
        second, _ = start_listener(tmp_path, clinic, port, "second")
        processes.append(second)
        resent: set[str] = set()

        async def everything_again():
            await asyncio.wait_for(asyncio.gather(
                *(stream(port, messages, resent) for messages in monitors)), 120)

        asyncio.run(everything_again())
        assert resent == every, f"not acknowledged after the restart: {sorted(every - resent)}"
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(10)

    stored, readings = stored_in(db_file, session_id, demo_readings)
    assert set(stored) == every and set(stored.values()) == {1}, (
        f"stored more than once: {sorted(c for c, n in stored.items() if n > 1)}")
    assert len(readings) == len(set(readings)) == len({(d, at) for d, at, _ in readings}), (
        "a device reading is duplicated")
    assert len(readings) == len(every)  # one reading per message, each at its own time


@pytest.mark.slow
@pytest.mark.own_data_folder
def test_a_listener_told_to_stop_stops_its_workers_and_exits_cleanly(migrated_data_folder):
    made = command.kapclinic(migrated_data_folder, "createclinic", "--slug", "quiet", "--name", "Quiet")
    assert made.returncode == 0, made.stderr
    process, port = start_listener(migrated_data_folder, "quiet", 0, "stopping")
    workers = workers_of(process)
    try:
        answers = asyncio.run(converse(port, [framed(oru("BEFORE-STOP"))]))
        assert answers == [("AA", "BEFORE-STOP")]  # no such patient: kept unmatched, answered
        # monitors connecting at once are spread over the workers, not all taken by one
        before = {pid: sockets_of(pid) for pid in workers}
        monitors = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        try:
            deadline = time.monotonic() + 5
            while (sum(sockets_of(pid) - before[pid] for pid in workers) < 16
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            assert all(sockets_of(pid) > before[pid] for pid in workers), (
                f"connections by worker: {[sockets_of(pid) - before[pid] for pid in workers]}")
        finally:
            for monitor in monitors:
                monitor.close()
        # another listener (another clinic's, say) may not join this one's port and take part
        # of its monitors
        second = subprocess.run([sys.executable, "-m", "kapclinic.cli", "monitor", "listen",
                                 "--clinic", "quiet", "--port", str(port), "--workers", "2"],
                                capture_output=True, text=True, timeout=120,
                                env=command.environment(migrated_data_folder))
        assert second.returncode == 2 and f"--port {port}" in second.stderr
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        assert not any(running(pid) for pid in workers), "a worker outlived its stopped listener"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


@pytest.mark.slow
@pytest.mark.own_data_folder
def test_workers_that_cannot_start_stop_the_listener_with_why_instead_of_restarting_forever(
        migrated_data_folder):
    assert command.kapclinic(migrated_data_folder, "createclinic", "--slug", "broken",
                             "--name", "Broken").returncode == 0
    (migrated_data_folder / "kapclinic.sqlite3.monitor-writer.lock").mkdir()  # cannot be opened
    result = subprocess.run([sys.executable, "-m", "kapclinic.cli", "monitor", "listen", "--clinic",
                             "broken", "--port", "0", "--workers", "2"], capture_output=True, text=True,
                            env=command.environment(migrated_data_folder), timeout=120)
    assert result.returncode == 2
    assert "ended 5 times in a row as they started" in result.stderr
