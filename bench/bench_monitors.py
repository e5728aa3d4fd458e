"""Bedside monitors at load (issue 15): HL7 v2 ORU^R01 over MLLP, durable before acknowledged.

Makes one clinic with N patients (20 by default), each in a dosing session (booked, checked
in, checklist done, a reading typed, cleared, the dose recorded, dosing: through the actions,
as the app does), starts the MLLP listener (kapclinic.treatment.monitors.listener, its one
writer thread committing in groups) on a free loopback port, and runs N simulated monitors
in a separate process (so their CPU is not the listener's): N concurrent MLLP connections,
each sending its own patient's PCD-01 messages (simulate.message, a drifting patient, now
and then an SpO2 marked invalid or implausible) one after another, waiting for each ACK
before sending the next. After a warm-up it counts for --seconds:

- sustained messages per second acknowledged AA, each ACK sent only once the message and
  its readings were committed (target >= 1,000/s on SQLite from 20 monitors), and the rate
  in each 5-second window (sessions fill with readings as it runs);
- ACK latency p50 / p99 / max, from the frame sent to its ACK read;
- the writer's group commits (messages per batch, share of the time it was busy, its CPU a
  message) and the CPU of the listener's and the monitors' processes;
- memory: the process's peak RSS (getrusage) and its RSS before and after the run
  (--tracemalloc adds the Python heap's peak during the run, at a large speed cost);
- afterwards: every AA-acknowledged message is stored exactly once (checked), the readings
  and alerts stored, and the SQL queries one more message takes, by table.

Then the time a message takes with 1,000 and 5,000 more readings already in its session, and
the writer's read of a session's open alerts before and after another patient's session leaves
5,000 alerts open in the clinic.
--sqlite-synchronous FULL: SQLite syncing its WAL at each commit (the settings say NORMAL).
--transport-only, a diagnosis: messages parsed and ACKed but not stored (the ceiling).
--profile times the writer's stages (parse, match, the readings, the audit trail, alert
evaluation and raising, commit; wall and CPU) and its SQL by statement and table;
--cprofile also runs the writer thread under cProfile (much slower: its rate is no figure).

Usage: python bench/bench_monitors.py [--database sqlite|postgres|both] [--postgres URL]
       [--monitors 20] [--seconds 25] [--warmup 3] [--quick] [--profile|--cprofile]
       [--sqlite-synchronous NORMAL|FULL] [--transport-only] [--tracemalloc]
Default: both databases, one after the other, each in a process of its own (about 2-3
minutes on 2 cores); --quick counts 5 seconds after 1 of warm-up. SQLite: a throwaway data folder. PostgreSQL:
postgresql://postgres@127.0.0.1:5432/kapclinic_bench_monitors (made if missing; each run
makes a clinic of its own) unless --postgres names another scratch database; with --database
both, an unreachable PostgreSQL is reported and skipped. Share the machine? The load
average and a CPU check (sum(range(10**6)), about 10 ms on an idle recent core) are printed.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

parser = argparse.ArgumentParser()
parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
parser.add_argument("--postgres", help="a PostgreSQL URL for a scratch database")
parser.add_argument("--monitors", type=int, default=20, help="simulated monitors, one patient each")
parser.add_argument("--seconds", type=float, default=25, help="how long the rate is counted")
parser.add_argument("--warmup", type=float, default=3, help="seconds sent before counting")
parser.add_argument("--quick", action="store_true", help="count 5 seconds after 1 of warm-up")
parser.add_argument("--profile", action="store_true", help="the writer's time by stage and SQL by table")
parser.add_argument("--cprofile", action="store_true", help="--profile, and the writer under cProfile")
parser.add_argument("--sqlite-synchronous", choices=("NORMAL", "FULL"),
                    help="SQLite's PRAGMA synchronous for this run (default: the settings', NORMAL); FULL "
                         "syncs the WAL at each commit, so an ACKed message survives a power cut too")
parser.add_argument("--transport-only", action="store_true",
                    help="a diagnosis: each message parsed and ACKed but stored nowhere (the ceiling the "
                         "MLLP server, python-hl7 and the monitors leave for storing)")
parser.add_argument("--tracemalloc", action="store_true", help="the Python heap's peak during the run")
parser.add_argument("--workers", type=int, help="the listener's processes (default: kapclinic monitor "
                    "listen's, one per core up to 4); 0 runs one listener in this process, as --profile, "
                    "--transport-only and --tracemalloc do")
parser.add_argument("--send", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the monitors' process
parser.add_argument("--mrns", help=argparse.SUPPRESS)
args = parser.parse_args()
if args.quick:
    args.seconds, args.warmup = 5, 1
args.profile = args.profile or args.cprofile
IN_PROCESS = args.workers == 0 or args.profile or args.transport_only or args.tracemalloc
if args.postgres and args.database == "both":
    args.database = "postgres"
PG_URL = args.postgres or "postgresql://postgres@127.0.0.1:5432/kapclinic_bench_monitors"
WINDOW = 5.0  # seconds per window of the rate over time


# --- the monitors (a process of their own, no Django) ------------------------------------------

async def monitor(port: int, n: int, mrn: str, start: float, stop_at: float, out: list) -> None:
    """One monitor: its patient's messages one after another, each ACK awaited."""
    from hl7.mllp import open_hl7_connection

    from kapclinic.treatment.monitors import simulate

    rng = random.Random(1500 + n)
    patient = simulate.Drift(rng)
    device = f"{rng.getrandbits(64):016X}"
    prefix = f"BENCH{n:03d}-{rng.getrandbits(32):08X}"
    reader, writer = await open_hl7_connection("127.0.0.1", port)
    sent = 0
    try:
        while time.perf_counter() < stop_at:
            patient.step()
            odd = rng.choices(["", "invalid", "implausible"], weights=[94, 3, 3])[0]
            text = simulate.message(control_id=f"{prefix}-{sent}", mrn=mrn, device=device,
                                    at=datetime.now(UTC), patient=patient, odd=odd)
            began = time.perf_counter()
            writer.writeblock(text.encode())
            await writer.drain()
            ack = await reader.readblock()
            ended = time.perf_counter()
            ack_text = ack.decode(errors="replace") if isinstance(ack, bytes) else str(ack)
            code = next((line.split("|")[1] for line in ack_text.split("\r") if line.startswith("MSA|")),
                        "?")
            out.append((round(began - start, 6), round(ended - start, 6), code))
            sent += 1
    finally:
        writer.close()


async def monitors(port: int, mrns: list[str], seconds: float) -> list:
    start = time.perf_counter()
    out: list = []
    await asyncio.gather(*(monitor(port, n, mrn, start, start + seconds, out)
                           for n, mrn in enumerate(mrns)))
    return out


if args.send:
    sent = asyncio.run(monitors(args.send, args.mrns.split(","), args.warmup + args.seconds))
    json.dump(sent, sys.stdout)
    sys.exit(0)


# --- both databases: this script once for each -------------------------------------------------

def postgres_reachable() -> str:
    import psycopg

    admin_url = PG_URL.rpartition("/")[0]
    try:
        with psycopg.connect(f"{admin_url}/postgres", connect_timeout=5):
            return ""
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0]


if args.database == "both":
    status = 0
    for database in ("sqlite", "postgres"):
        if database == "postgres":
            why = postgres_reachable()
            if why:
                print(f"-- postgres: {PG_URL} unreachable ({why}): skipped")
                continue
        print(f"-- {database}", flush=True)
        status |= subprocess.run([sys.executable, __file__, *sys.argv[1:], "--database", database]).returncode
    sys.exit(status)


# --- the listener's process --------------------------------------------------------------------

import benchdb  # noqa: E402  (bench/, on the path when run as a script)

benchdb.use(args.database, postgres_url=PG_URL, prefix="monitors")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from kapclinic.accounts import staff  # noqa: E402
from kapclinic.accounts.roles import Role  # noqa: E402
from kapclinic.alerts.models import Alert  # noqa: E402
from kapclinic.audit import context, trail  # noqa: E402
from kapclinic.audit.actions import action  # noqa: E402
from kapclinic.patients import actions as patients  # noqa: E402
from kapclinic.screening import actions as screening  # noqa: E402
from kapclinic.treatment import actions  # noqa: E402
from kapclinic.treatment.models import (  # noqa: E402
    ALERT_SOURCE,
    READING_RECORD,
    MonitorMessage,
    Phase,
    Session,
    VitalReading,
)
from kapclinic.treatment.monitors import intake, listener, queries, simulate  # noqa: E402

PROTOCOL = "iv_racemic_ketamine"
CALM = {"sbp_mmhg": 122, "dbp_mmhg": 78, "heart_rate_bpm": 72, "spo2_pct": 98, "resp_rate_per_min": 14}
CHECKLIST = {"fasting": ("yes", None, ""), "ride_home": ("yes", None, ""),
             "pregnancy_test": ("negative", None, ""), "predose_measures": ("yes", None, ""),
             "nasal_steroid_decongestant_timing": ("yes", None, ""),
             "weight_today": ("recorded", 70, ""),
             "intention_note": ("recorded", None, "To notice what comes up")}


def step(session: Session, to: str, at, by) -> Session:
    session.refresh_from_db()
    return actions.transition(session, to=to, at=at, by=by, expected_version=session.version)


def setup(count: int):
    """A clinic, its prescriber and nurse, and ``count`` patients each dosing in a chair, as
    the app gets them there (tests/treatment/helpers.py's steps, then the dose)."""
    slug = f"bench-monitors-{datetime.now(UTC):%Y%m%d%H%M%S}-{os.getpid()}"
    clinic = staff.create_clinic(slug=slug, name="Bench Monitors Clinic", time_zone="America/New_York",
                                 by=None)
    prescriber = staff.grant_role(clinic=clinic, username=f"{slug}-prescriber", role=Role.PRESCRIBER,
                                  by=None, first_name="Pat", last_name="Prescriber").user
    nurse = staff.grant_role(clinic=clinic, username=f"{slug}-nurse", role=Role.NURSE, by=None,
                             first_name="Nia", last_name="Nurse").user
    document = screening.publish_consent_document(clinic=clinic, title="Consent to KAP",
                                                  text="I understand the treatment and agree to it.",
                                                  by=prescriber)
    now = timezone.now()

    def ago(minutes: float):
        return now - timedelta(minutes=minutes)

    mrns, sessions = [], []
    for n in range(count):
        mrn = f"MON-{n:04d}"
        patient = patients.create_patient(clinic=clinic, by=prescriber, data={
            "mrn": mrn, "given_name": f"Given{n}", "family_name": f"Family{n}",
            "date_of_birth": datetime(1970 + n % 30, 1 + n % 12, 1 + n % 28).date(),
            "sex_at_birth": "female" if n % 2 else "male", "status": "screening"})
        data = {"date_of_birth": patient.date_of_birth.isoformat()}
        screening.save_intake(patient=patient, draft=data, data=data, by=prescriber,
                              expected_version=screening.intake_for(patient).version)
        decision = screening.evaluate_intake(patient=patient, drug="ketamine", route="iv-infusion",
                                             by=prescriber)
        screening.sign_off(decision=decision, accept=False, final_status="eligible",
                           reason="Reviewed in clinic", by=prescriber)
        screening.sign_consent(patient=patient, document=document, method="in_clinic", by=prescriber,
                               signed_name=f"Given{n} Family{n}")
        session = actions.schedule_session(patient=patient, protocol=PROTOCOL, scheduled_at=ago(45),
                                           room=f"Room {n // 4 + 1}", chair="ABCD"[n % 4], by=prescriber)
        session = step(session, "checked_in", ago(40), nurse)
        for item, (answer, value, note) in CHECKLIST.items():
            actions.record_checklist(session, item=item, answer=answer, value=value, note=note,
                                     at=ago(39), by=nurse)
        actions.record_vitals(session, observed_at=ago(38), values=CALM, by=nurse)
        session = step(session, "cleared", ago(37), nurse)
        actions.record_administration(session, at=ago(35), by=nurse, dose_mg_per_kg=0.5)
        session = step(session, "dosing", ago(35), nurse)
        mrns.append(mrn)
        sessions.append(session)
    return clinic, mrns, sessions


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --- instrumentation -----------------------------------------------------------------------

BATCHES: list[tuple[float, int, float, float]] = []  # (started, messages, seconds, CPU seconds) a batch


def parse_and_ack(raws, *, clinic, read_already=None, **kw):
    from kapclinic.treatment.monitors import pcd01

    messages = read_already or [intake.parsed(raw, clinic) for raw, _ in raws]
    return [intake.Answer("AA", pcd01.ack(message, "AA"), 0) for message in messages]


def count_batches() -> None:
    """The writer's group commits, timed (the listener calls intake.receive_batch)."""
    original = parse_and_ack if args.transport_only else intake.receive_batch

    def receive_batch(raws, *, clinic, **kw):
        started, cpu = time.perf_counter(), time.thread_time()
        answers = original(raws, clinic=clinic, **kw)
        BATCHES.append((started, len(raws), time.perf_counter() - started, time.thread_time() - cpu))
        return answers

    intake.receive_batch = receive_batch


class Stages:
    """Inclusive time and calls of the writer's stages, and its SQL by statement and table."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.sql: dict[str, list[float]] = {}
        self.profiler = None

    def wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)
        times = self.times.setdefault(label, [0, 0.0, 0.0])

        def timed(*a, **kw):
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*a, **kw)
            finally:
                times[0] += 1
                times[1] += time.perf_counter() - started
                times[2] += time.thread_time() - cpu

        setattr(owner, name, timed)

    def sql_wrapper(self, execute, sql, params, many, ctx):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, ctx)
        finally:
            key = sql_key(sql)
            tally = self.sql.setdefault(key, [0, 0.0])
            tally[0] += 1
            tally[1] += time.perf_counter() - started


def sql_key(sql: str) -> str:
    words = sql.replace('"', " ").replace("`", " ").split()
    verb = words[0].upper() if words else "?"
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT"):
        return verb
    for marker in ("FROM", "INTO", "UPDATE"):
        upper = [w.upper() for w in words]
        if marker in upper[:40] and (verb != "UPDATE" or marker == "UPDATE"):
            at = upper.index(marker)
            if at + 1 < len(words):
                return f"{verb} {words[at + 1]}"
    return " ".join(words[:3])


STAGES = Stages()


def instrument() -> None:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from kapclinic.audit import trail
    from kapclinic.treatment import vitals
    from kapclinic.treatment.monitors import pcd01

    wrap = STAGES.wrap
    wrap(pcd01, "parse", "pcd01.parse (python-hl7)")
    wrap(pcd01, "ack", "pcd01.ack")
    wrap(intake, "store", "intake.store (the batch, @action)")
    wrap(intake, "_fresh", "  intake._fresh (resends)")
    wrap(intake.Directory, "of", "  intake.Directory.of (patients, sessions, monitors)")
    wrap(intake.Recording, "__init__", "  intake.Recording (the batch's sessions)")
    wrap(intake.Recording, "take", "  intake.Recording.take (a message's readings)")
    wrap(vitals, "load_many", "    vitals.load_many (the batch's sessions)")
    wrap(vitals, "prepare", "    vitals.prepare (checks and monitoring rules)")
    wrap(vitals, "evaluate", "      clinical evaluate (monitoring rules)")
    wrap(intake.Recording, "write", "  intake.Recording.write (bulk inserts, audit, alerts)")
    wrap(vitals, "raise_alerts", "    raise_alerts (the batch's alerts)")
    wrap(trail, "record_many", "trail.record_many (audit entries, all)")
    wrap(BaseDatabaseWrapper, "commit", "COMMIT")


class ProfiledListener(listener.Listener):
    def _write_loop(self) -> None:
        with connection.execute_wrapper(STAGES.sql_wrapper):
            if args.cprofile:
                import cProfile

                STAGES.profiler = cProfile.Profile()
                STAGES.profiler.runcall(super()._write_loop)
            else:
                super()._write_loop()


class Serving:
    """The listener on a free loopback port, its event loop in a thread of its own (as
    tests/treatment/test_monitors.py's Running)."""

    def __init__(self, clinic, kind=listener.Listener) -> None:
        self.loop = asyncio.new_event_loop()
        self.serving = kind(clinic)
        self.port = None
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.task = self.loop.create_task(listener.serve(
                self.serving, "127.0.0.1", 0,
                ready=lambda port: (setattr(self, "port", port), ready.set())))
            with contextlib.suppress(asyncio.CancelledError):
                self.loop.run_until_complete(self.task)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(30), "the listener did not start"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(30)


class Command:
    """`kapclinic monitor listen` as a user runs it, on this bench's database: its CPU and
    memory read from /proc (the parent and its workers)."""

    def __init__(self, clinic, workers: int | None) -> None:
        connection.close()
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        command = [sys.executable, "-m", "kapclinic.cli", "monitor", "listen", "--clinic", clinic.slug,
                   "--port", "0"] + (["--workers", str(workers)] if workers else [])
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, env=env)
        line = self.process.stdout.readline()
        self.port = int(line.rsplit(":", 1)[1])
        time.sleep(1.0)  # the workers connect to the database
        self.workers = len(self.children()) or 1
        self.processes = len(self.pids())
        self.cpu_at_start = self.cpu_seconds()
        self.cpu_start_by_process = self.cpu_by_process()
        self.rss_at_start = self.rss_mib()

    def pids(self) -> list[int]:
        return [self.process.pid, *self.children()]

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_process().values())

    def cpu_by_process(self) -> dict[int, float]:
        ticks = os.sysconf("SC_CLK_TCK")
        found = {}
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return found

    def status(self, key: str, file: str = "status") -> float:
        total = 0.0
        for pid in self.pids():
            for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
                if line.startswith(key):
                    total += int(line.split()[1]) / 1024
        return total

    def rss_mib(self) -> float:
        """Proportional set size: the workers share the parent's pages after the fork, which
        their resident sizes would each count."""
        return self.status("Pss:", "smaps_rollup")

    def stop(self) -> None:
        self.peak_rss = self.status("VmHWM:")
        self.process.terminate()
        self.process.wait(30)


def one_more_message(clinic, mrn: str) -> tuple[int, dict[str, int]]:
    """The SQL queries one more message takes, by statement and table."""
    raw = simulate.message(control_id=f"ONE-MORE-{time.time_ns()}", mrn=mrn, device="00000000000000AA",
                           at=datetime.now(UTC), patient=simulate.Drift(random.Random(7)))
    with CaptureQueriesContext(connection) as seen:
        answer = intake.receive_batch([(raw, "127.0.0.1")], clinic=clinic)[0]
    assert answer.code == "AA", answer.ack
    tables: dict[str, int] = {}
    for query in seen.captured_queries:
        key = sql_key(query["sql"])
        tables[key] = tables.get(key, 0) + 1
    return len(seen), tables


@action
def fill(*, session: Session, count: int, by) -> None:
    """``count`` more device readings in ``session`` over its last half hour, bulk-inserted
    with one audit entry (as the other benches load data)."""
    now = timezone.now()
    rng = random.Random(session.pk)
    VitalReading.objects.bulk_create([VitalReading(
        session=session, patient_id=session.patient_id, recorded_by=by, phase=Phase.DOSING,
        observed_at=now - timedelta(minutes=30) + timedelta(minutes=30) * n / count,
        fingerprint=f"bench-fill-{session.pk}-{n}", source="device", device="BENCHFILL",
        sbp_mmhg=rng.randint(110, 140), dbp_mmhg=rng.randint(65, 88), heart_rate_bpm=rng.randint(60, 95),
        spo2_pct=rng.randint(95, 99), resp_rate_per_min=rng.randint(12, 18)) for n in range(count)],
        batch_size=2_000)
    trail.record("create", object_type="vital_reading", detail={"bench_readings": count})


@action
def leave_open(*, session: Session, count: int, by) -> None:
    """``count`` readings of ``session`` that each raised an alert nobody acknowledged (a
    clinic's past sessions whose alerts were left open), bulk-inserted with one audit entry."""
    fill(session=session, count=count, by=by)
    readings = VitalReading.objects.filter(session=session, device="BENCHFILL").values_list("pk", flat=True)
    Alert.objects.bulk_create([Alert(
        clinic_id=session.patient.clinic_id, patient_id=session.patient_id, source=ALERT_SOURCE,
        kind="bench_left_open", record_type=READING_RECORD, record_id=pk, label="Left open (bench)")
        for pk in readings], batch_size=2_000)
    trail.record("create", object_type="alert", detail={"bench_alerts_left_open": len(readings)})


def ms_a_message(clinic, session: Session, mrn: str, count: int = 20) -> float:
    """Milliseconds a message of ``session``'s patient takes, ``count`` in one group commit."""
    drift = simulate.Drift(random.Random(session.pk))
    now = datetime.now(UTC)
    raws = []
    for n in range(count):
        drift.step()
        raws.append((simulate.message(control_id=f"SCALE-{session.pk}-{time.time_ns()}-{n}", mrn=mrn,
                                      device="00000000000000BB", at=now - timedelta(seconds=n),
                                      patient=drift), "127.0.0.1"))
    started = time.perf_counter()
    answers = intake.receive_batch(raws, clinic=clinic)
    took = time.perf_counter() - started
    assert all(a.code == "AA" for a in answers), answers[0].ack
    return took / count * 1000


def open_alerts_ms(clinic, session: Session) -> float:
    """Milliseconds the writer's read of a session's open alerts takes (the best of 20)."""
    times = []
    for _ in range(20):
        started = time.perf_counter()
        queries.open_alerts(clinic.pk, {session.pk: session.patient_id})
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def synchronous(**kw) -> None:
    connection = kw["connection"]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA synchronous={args.sqlite_synchronous}")


def durability() -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA synchronous")
            level = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[cursor.fetchone()[0]]
            cursor.execute("PRAGMA journal_mode")
            return f"journal_mode={cursor.fetchone()[0]} synchronous={level}"
        cursor.execute("SELECT current_setting('fsync'), current_setting('synchronous_commit'), version()")
        fsync, commit, version = cursor.fetchone()
        return f"{' '.join(version.split()[:2])}, fsync={fsync} synchronous_commit={commit}"


def cpu_check() -> float:
    """Milliseconds for sum(range(10**6)), best of 5: how fast this machine runs Python now
    (about 10 ms on an idle recent x86 core; a loaded or shared machine shows more)."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        sum(range(10**6))
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> None:
    if args.sqlite_synchronous:
        from django.db.backends.signals import connection_created

        connection_created.connect(synchronous)
        connection.close()
    call_command("migrate", verbosity=0)
    context.set_system_actor("bench")
    started = time.perf_counter()
    clinic, mrns, sessions = setup(args.monitors)
    setup_took = time.perf_counter() - started
    print(f"database {connection.vendor} ({durability()}); {len(mrns)} monitors, one patient dosing each "
          f"(set up in {setup_took:.0f} s); {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, CPU check {cpu_check():.0f} ms "
          "(sum(range(10**6)))", flush=True)

    count_batches()
    if args.profile:
        instrument()
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start()
    serving = (Serving(clinic, ProfiledListener if args.profile else listener.Listener) if IN_PROCESS
               else Command(clinic, args.workers))
    rss_before = rss_mib()
    own_cpu = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    run = subprocess.run([sys.executable, __file__, "--send", str(serving.port), "--mrns", ",".join(mrns),
                          "--seconds", str(args.seconds), "--warmup", str(args.warmup)],
                         capture_output=True, text=True)
    wall = time.perf_counter() - wall
    used = resource.getrusage(resource.RUSAGE_SELF)
    own_cpu = used.ru_utime + used.ru_stime - own_cpu.ru_utime - own_cpu.ru_stime
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    monitors_cpu = children.ru_utime + children.ru_stime
    rss_after = rss_mib()
    heap_peak = None
    if args.tracemalloc:
        heap_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    if not IN_PROCESS:
        by_process = serving.cpu_by_process()
        spread = sorted(by_process[pid] - serving.cpu_start_by_process.get(pid, 0.0)
                        for pid in serving.children())
        own_cpu = serving.cpu_seconds() - serving.cpu_at_start
        rss_before, rss_after = serving.rss_at_start, serving.rss_mib()
    serving.stop()
    stage_times = {label: list(times) for label, times in STAGES.times.items()}
    if run.returncode:
        sys.exit(f"the monitors failed:\n{run.stderr[-3000:]}")
    sent = json.loads(run.stdout)
    peak_rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if IN_PROCESS
                else serving.peak_rss)

    # the counted window: ACKs read from the end of the warm-up for --seconds
    begin, end = args.warmup, args.warmup + args.seconds
    counted = [(b, e, code) for b, e, code in sent if begin <= e < end]
    codes: dict[str, int] = {}
    for _, _, code in sent:
        codes[code] = codes.get(code, 0) + 1
    accepted = [(b, e) for b, e, code in counted if code == "AA"]
    if not accepted:
        sys.exit(f"no message acknowledged AA in the counted {args.seconds:g} s (ACKs: {codes})")
    rate = len(accepted) / args.seconds
    latencies = [(e - b) * 1000 for b, e in accepted]
    windows = []
    at = begin
    while at + WINDOW <= end + 1e-9:
        windows.append(sum(1 for _, e in accepted if at <= e < at + WINDOW) / WINDOW)
        at += WINDOW

    # durable and exactly once: every message acknowledged AA is stored, once
    stored = MonitorMessage.objects.filter(clinic=clinic)
    acknowledged = codes.get("AA", 0)
    kept = stored.count()
    who = ("the listener's process" if IN_PROCESS else
           f"`kapclinic monitor listen --workers {serving.workers}` (its {serving.processes} "
           "process(es))")
    cpu_line = (f"CPU: {who} {own_cpu / wall:.2f} cores"
                + (f" (its workers {', '.join(f'{c / wall:.2f}' for c in spread)})"
                   if not IN_PROCESS and spread else "")
                + f", the monitors' process {monitors_cpu / wall:.2f} cores, over the run's {wall:.1f} s")
    if args.transport_only:
        print(cpu_line)
        print(f"transport only (parsed and ACKed, nothing stored): {rate:,.0f} messages/s; ACK latency "
              f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms; "
              f"{statistics.mean(n for _, n, _, _ in BATCHES):.1f} messages a batch")
        return
    assert kept == acknowledged, f"{acknowledged} messages acknowledged AA, {kept} stored"
    readings = VitalReading.objects.filter(session__in=sessions, source="device").count()
    no_reading = stored.filter(readings=0).count()
    alerts = Alert.objects.filter(patient__clinic=clinic).count()
    per_session = readings / len(sessions)

    target = "" if connection.vendor != "sqlite" else (
        f"; target >= 1,000/s on SQLite from 20 monitors: {'met' if rate >= 1000 else 'MISSED'}")
    print(f"sustained, durable before ACK: {rate:,.0f} messages/s acknowledged AA "
          f"({len(accepted):,} in {args.seconds:g} s after {args.warmup:g} s of warm-up){target}")
    print(f"ACK latency p50 {percentile(latencies, 50):6.1f} ms, p99 {percentile(latencies, 99):6.1f} ms, "
          f"max {max(latencies):6.1f} ms  (n={len(latencies):,})")
    # the simulated patients drift from calm values: later in a run more readings cross a
    # threshold, and each alert raised costs its own writes
    in_order = list(VitalReading.objects.filter(session__in=sessions, source="device")
                    .order_by("observed_at").values_list("pk", flat=True))
    alerted = set(Alert.objects.filter(patient__clinic=clinic).values_list("record_id", flat=True))
    fifths = [in_order[len(in_order) * n // 5: len(in_order) * (n + 1) // 5] for n in range(5)]
    print("readings raising an alert, by fifth of the run: "
          + ", ".join(f"{sum(pk in alerted for pk in part) / max(1, len(part)):.0%}" for part in fifths))
    print(f"rate by {WINDOW:g}-s window: {', '.join(f'{w:,.0f}' for w in windows)} /s "
          f"(sessions end with about {per_session:,.0f} device readings each)")
    if BATCHES:
        sizes = [n for _, n, _, _ in BATCHES]
        busy = sum(took for _, _, took, _ in BATCHES)
        cpu = sum(c for _, _, _, c in BATCHES)
        print(f"group commit: {len(sizes):,} batches, {statistics.mean(sizes):.1f} messages each on "
              f"average (max {max(sizes)}), {busy / len(sizes) * 1000:.1f} ms each; the writer "
              f"stored for {busy / wall:.0%} of the run's {wall:.1f} s: {busy / sum(sizes) * 1000:.2f} ms "
              f"a message, {cpu / sum(sizes) * 1000:.2f} ms of it the writer thread's CPU")
    print(cpu_line)
    print(f"ACKs: {', '.join(f'{c} {n:,}' for c, n in sorted(codes.items()))}; stored exactly once: "
          f"{kept:,} messages, {readings:,} device readings ({no_reading:,} messages with none: "
          f"resends of the same values in the same second, or every value invalid), {alerts:,} alerts")
    print(f"memory: peak RSS {peak_rss:,.0f} MiB "
          + ("(the listener's process, set-up included); " if IN_PROCESS else
             "(the listener's processes' peaks added up, pages they share counted in each); ")
          + ("RSS" if IN_PROCESS else "together (PSS, shared pages counted once)")
          + f" {rss_before:,.0f} MiB before the run, {rss_after:,.0f} MiB after"
          + (f"; Python heap peak during the run {heap_peak:,.1f} MiB (tracemalloc)"
             if heap_peak is not None else ""))
    context.set_system_actor("bedside monitor listener", clinic.pk)
    queries, tables = one_more_message(clinic, mrns[0])
    print(f"one more message (its session holding {per_session:,.0f} readings): {queries} SQL queries: "
          + ", ".join(f"{k} {v}" for k, v in sorted(tables.items(), key=lambda kv: -kv[1])))
    # the same work with more readings already in the session (a monitor every 5 s for two
    # hours leaves 1,440; every second, 7,200)
    scale = []
    for session, more in zip(sessions[1:4], (0, 1_000, 5_000), strict=True):
        if more:
            fill(session=session, count=more, by=None)
        held = VitalReading.objects.filter(session=session).count()
        # the median of three: the first commit after a fill may checkpoint the fill's WAL
        scale.append((held, statistics.median(ms_a_message(clinic, session, mrns[sessions.index(session)])
                                              for _ in range(3))))
    print("a message, 20 in one group commit (median of 3), with its session holding "
          + ", ".join(f"{held:,} readings: {ms:.2f} ms" for held, ms in scale))
    # the open alerts a batch weighs its readings against, read with another patient's session
    # leaving 5,000 alerts open in the clinic (the read should not grow with them)
    measured, elsewhere = sessions[1], sessions[-1]
    if elsewhere != measured:
        before = open_alerts_ms(clinic, measured)
        leave_open(session=elsewhere, count=5_000, by=None)
        left_open = Alert.objects.filter(clinic=clinic, acknowledged_at__isnull=True).count()
        print(f"a batch's read of its session's open alerts: {before:.2f} ms; with {left_open:,} open in the "
              f"clinic, 5,000 of them another patient's: {open_alerts_ms(clinic, measured):.2f} ms")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.profile:
        report_profile(acknowledged, stage_times)


def report_profile(messages: int, stage_times: dict) -> None:
    import io
    import pstats

    print(f"\nwriter stages (inclusive, nested as indented; {messages:,} messages; per message):")
    for label, (calls, seconds, cpu) in stage_times.items():
        if calls:
            print(f"  {label:48s} {seconds / messages * 1000:7.3f} ms wall "
                  f"{cpu / messages * 1000:7.3f} ms CPU  ({calls / messages:.2f} calls)")
    total_sql = sum(seconds for _, seconds in STAGES.sql.values())
    total_queries = sum(n for n, _ in STAGES.sql.values())
    print(f"SQL in the writer: {total_queries / messages:.1f} queries, {total_sql / messages * 1000:.3f} ms "
          "a message; by statement and table:")
    for key, (n, seconds) in sorted(STAGES.sql.items(), key=lambda kv: -kv[1][1])[:25]:
        print(f"  {key:52s} {n / messages:6.2f} a message  {seconds / messages * 1000:7.3f} ms")
    if STAGES.profiler is not None:
        for order in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(STAGES.profiler, stream=out).sort_stats(order).print_stats(35)
            print(f"\ncProfile of the writer thread, by {order}:")
            print(out.getvalue().split("\n", 6)[-1] if order == "cumulative" else out.getvalue())
        for function in (r"intake.py:\d+\(store\)", r"actions.py:\d+\(record_vitals\)"):
            out = io.StringIO()
            pstats.Stats(STAGES.profiler, stream=out).sort_stats("cumulative").print_callees(function)
            print(out.getvalue().split("\n", 4)[-1])


if __name__ == "__main__":
    main()
