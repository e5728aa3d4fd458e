"""Supervised dosing sessions at clinic scale (issue 12).

Builds one clinic with N patients, a year of discharged sessions (about ten readings each)
and 40 sessions in progress today, then times server-side with Django's test Client:
GET /api/v1/sessions/{id}, the session page /sessions/{id}/, GET /api/v1/room-board and the
room board page /sessions/board/ (target p95 < 100 ms, constant queries), the calendar's
week and day of a past busy week (no target in the issue; reported), recording a reading
(POST /api/v1/sessions/{id}/vitals, target p95 < 50 ms), and nurses recording at once (one
thread and one Client each) for some seconds with no error.

Usage: python bench/bench_sessions.py [--postgres URL] [--patients N] [--readings R]
       [--full] [--nurses 20] [--concurrent-seconds 20] [--data-dir DIR]
Default: 2,000 patients and 200,000 readings (a few minutes on 2 cores); --full: the issue's
10,000 patients and 2,000,000 readings. The data is bulk-loaded by actions (one audit entry
per batch), as kapclinic's bulk imports are. With --data-dir (SQLite) or a --postgres
database that already holds the bench clinic, the loaded data is timed again without
loading it (the full load takes about 20 minutes on 2 cores).
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

parser = argparse.ArgumentParser()
parser.add_argument("--postgres", help="a PostgreSQL URL for a scratch database (its data is dropped)")
parser.add_argument("--patients", type=int, default=2_000)
parser.add_argument("--readings", type=int, default=200_000)
parser.add_argument("--full", action="store_true", help="10,000 patients, 2,000,000 readings")
parser.add_argument("--nurses", type=int, default=20)
parser.add_argument("--concurrent-seconds", type=float, default=20)
parser.add_argument("--data-dir", help="keep the SQLite data here, and reuse it when it holds the bench")
args = parser.parse_args()
if args.full:
    args.patients, args.readings = 10_000, 2_000_000

os.environ["KAPCLINIC_ENV"] = "development"
os.environ["KAPCLINIC_DATA_DIR"] = args.data_dir or tempfile.mkdtemp(prefix="kapclinic-bench-sessions-")
os.environ["KAPCLINIC_ALLOWED_HOSTS"] = "testserver"
if args.postgres:
    os.environ["KAPCLINIC_DATABASE_URL"] = args.postgres
os.environ["DJANGO_SETTINGS_MODULE"] = "kapclinic.settings"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from kapclinic.accounts import staff  # noqa: E402
from kapclinic.accounts.models import Clinic, Membership  # noqa: E402
from kapclinic.accounts.roles import Role  # noqa: E402
from kapclinic.audit import context, trail  # noqa: E402
from kapclinic.audit.actions import action  # noqa: E402
from kapclinic.patients import actions as patients  # noqa: E402
from kapclinic.patients.models import Patient  # noqa: E402
from kapclinic.treatment.models import (  # noqa: E402
    Administration,
    Phase,
    Session,
    SessionEvent,
    State,
    VitalReading,
)
from kapclinic.treatment.protocols import clinic_protocol, fingerprint  # noqa: E402

PROTOCOL = "iv_racemic_ketamine"
READINGS_PER_SESSION = 10
IN_PROGRESS = 40
IN_PROGRESS_STATES = (State.CHECKED_IN, State.CLEARED, State.DOSING, State.MONITORING)
BATCH = 2_000
rng = random.Random(12)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] * 1000


def calm(observed_at, phase) -> dict:
    return {"observed_at": observed_at, "phase": phase, "sbp_mmhg": rng.randint(110, 140),
            "dbp_mmhg": rng.randint(65, 88), "heart_rate_bpm": rng.randint(60, 95),
            "spo2_pct": rng.randint(95, 99), "resp_rate_per_min": rng.randint(12, 18)}


@action
def bulk_sessions(*, specs: list[dict], readings_each: int, by) -> int:
    """One batch of discharged (or in-progress) sessions with their steps, dose and readings:
    bulk inserts and one audit entry for the batch."""
    sessions = Session.objects.bulk_create([Session(**s["session"]) for s in specs])
    events, given, readings = [], [], []
    for row, spec in zip(sessions, specs, strict=True):
        start = spec["dose_at"]
        events.append(SessionEvent(session=row, from_state="", to_state=State.SCHEDULED,
                                   at=row.scheduled_at, recorded_by=by))
        events.append(SessionEvent(session=row, from_state=State.SCHEDULED, to_state=row.state,
                                   at=row.state_at, recorded_by=by))
        if start is not None:
            given.append(Administration(
                session=row, drug=row.drug, route=row.route, dose_mg=35.0, dose_mg_per_kg=0.5,
                weight_kg=70.0, weight_measured_on=start.date(), started_at=start,
                ended_at=start + timedelta(minutes=40) if row.state != State.DOSING else None,
                within_protocol=True, administered_by=by, calculation={}))
        base = start or row.state_at
        for i in range(spec.get("readings", readings_each)):
            at = base + timedelta(minutes=-10 + 10 * i)
            if at > timezone.now():
                break
            phase = Phase.PRE_DOSE if at < base or start is None else (
                Phase.DOSING if at < base + timedelta(minutes=40) else Phase.AFTER_DOSE)
            readings.append(VitalReading(session=row, patient_id=row.patient_id, recorded_by=by,
                                         fingerprint=f"bench-{row.pk}-{i}", **calm(at, phase)))
    SessionEvent.objects.bulk_create(events)
    Administration.objects.bulk_create(given)
    VitalReading.objects.bulk_create(readings, batch_size=BATCH)
    trail.record("create", object_type="session", object_id="",
                 detail={"bench_sessions": len(sessions), "readings": len(readings)})
    return len(readings)


def session_fields(patient_id: int, chosen, when, state, **extra) -> dict:
    return {"patient_id": patient_id, "protocol": chosen.id, "protocol_version": chosen.version_id,
            "protocol_hash": fingerprint(chosen),
            "protocol_settings": {"values": dict(chosen.chosen), "preset": chosen.preset},
            "drug": chosen.drug, "route": chosen.route, "scheduled_at": when, "state": state,
            "state_at": when, **extra}


def load(clinic, nurse) -> tuple[list[int], int]:
    records = [patients.NewPatient(data={
        "mrn": f"S-{n:06d}", "given_name": f"Given{n}", "family_name": f"Family{n}",
        "date_of_birth": date(1960, 1, 1) + timedelta(days=n % 15_000), "sex_at_birth": "male",
        "status": "in_treatment"}) for n in range(args.patients)]
    patients.bulk_create_patients(clinic=clinic, records=records, by=None, batch_size=1_000)
    ids = list(Patient.objects.filter(clinic=clinic).order_by("pk").values_list("pk", flat=True))
    chosen = clinic_protocol(PROTOCOL, clinic.pk)
    now = timezone.now()
    sessions_total = args.readings // READINGS_PER_SESSION
    specs, loaded = [], 0
    for n in range(sessions_total):
        when = now - timedelta(days=1 + (n * 364 // sessions_total), minutes=rng.randint(0, 600))
        specs.append({"session": session_fields(ids[n % len(ids)], chosen, when, State.DISCHARGED,
                                                room="Room 1", created_by=nurse),
                      "dose_at": when + timedelta(minutes=30)})
        if len(specs) * READINGS_PER_SESSION >= BATCH * 5:
            loaded += bulk_sessions(specs=specs, readings_each=READINGS_PER_SESSION, by=nurse)
            specs = []
            print(f"  {loaded:,} readings loaded", end="\r", flush=True)
    if specs:
        loaded += bulk_sessions(specs=specs, readings_each=READINGS_PER_SESSION, by=nurse)
    # today: 40 sessions in progress in every state, each in its own chair
    states = [State.CHECKED_IN] * 8 + [State.CLEARED] * 6 + [State.DOSING] * 14 + [State.MONITORING] * 12
    today = []
    for n, state in enumerate(states):
        minutes = {State.CHECKED_IN: 10, State.CLEARED: 20, State.DOSING: 25, State.MONITORING: 70}[state]
        when = now - timedelta(minutes=minutes + 20)
        dosed = state in (State.DOSING, State.MONITORING)
        today.append({"session": session_fields(ids[-1 - n], chosen, when, state,
                                                room=f"Room {n // 4 + 1}", chair="ABCD"[n % 4],
                                                created_by=nurse),
                      "dose_at": now - timedelta(minutes=minutes) if dosed else None,
                      "readings": 1 + minutes // 10})
    loaded += bulk_sessions(specs=today, readings_each=READINGS_PER_SESSION, by=nurse)
    live = list(Session.objects.filter(state__in=states).order_by("pk").values_list("pk", flat=True))
    return live, loaded


def timed(client: Client, method: str, url: str, **kw) -> float:
    started = time.perf_counter()
    response = getattr(client, method)(url, **kw)
    took = time.perf_counter() - started
    assert response.status_code in (200, 201), (url, response.status_code, response.content[:300])
    return took


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as seen:
        assert client.get(url).status_code == 200
    return len(seen)


def reading_body(minutes_back: float = 0) -> dict:
    at = timezone.now() - timedelta(minutes=minutes_back, microseconds=rng.randint(0, 999_999))
    return {"observed_at": at.isoformat(), "sbp_mmhg": rng.randint(110, 140),
            "dbp_mmhg": rng.randint(65, 88), "heart_rate_bpm": rng.randint(60, 95),
            "spo2_pct": rng.randint(95, 99)}


def post_reading(client: Client, session_id: int) -> int:
    import json

    return client.post(f"/api/v1/sessions/{session_id}/vitals", data=json.dumps(reading_body()),
                       content_type="application/json",
                       HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex).status_code


def concurrent(live: list[int], nurses: list, seconds: float) -> tuple[int, list[str], list[float]]:
    done, errors, samples = [0], [], []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def nurse_at_work(n: int) -> None:
        client = Client()
        client.force_login(nurses[n])
        try:
            while time.perf_counter() < stop_at:
                session_id = live[(n * 2 + done[0]) % len(live)]
                started = time.perf_counter()
                try:
                    status = post_reading(client, session_id)
                except Exception as exc:  # noqa: BLE001 (counted and reported)
                    status = repr(exc)[:200]
                took = time.perf_counter() - started
                with lock:
                    if status in (200, 201):
                        done[0] += 1
                        samples.append(took)
                    else:
                        errors.append(str(status))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=nurse_at_work, args=(n,)) for n in range(len(nurses))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0], errors, samples


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    context.set_system_actor("bench")
    started = time.perf_counter()
    clinic = Clinic.objects.filter(slug="bench").first()
    if clinic is not None:  # loaded before: time it again
        nurses = [m.user for m in Membership.objects.filter(clinic=clinic, role=Role.NURSE)
                  .select_related("user").order_by("pk")][:args.nurses]
        live = list(Session.objects.filter(patient__clinic=clinic, state__in=IN_PROGRESS_STATES)
                    .order_by("pk").values_list("pk", flat=True))
    else:
        clinic = staff.create_clinic(slug="bench", name="Bench Clinic", time_zone="America/New_York",
                                     by=None)
        nurses = [staff.grant_role(clinic=clinic, username=f"nurse{n}", role=Role.NURSE, by=None).user
                  for n in range(args.nurses)]
        live, _ = load(clinic, nurses[0])
    if connection.vendor == "postgresql":
        # what autovacuum does soon after a bulk import; before it, the planner has no
        # statistics for the new rows and scans 200,000 readings for the board's latest ones
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    took = time.perf_counter() - started
    readings, sessions = VitalReading.objects.count(), Session.objects.count()
    patients_n = Patient.objects.filter(clinic=clinic).count()
    print(f"database {connection.vendor}; {patients_n:,} patients, {sessions:,} sessions, "
          f"{readings:,} readings (loaded in {took:.0f} s); {os.cpu_count()} cores")

    client = Client()
    client.force_login(nurses[0])
    dosing = list(Session.objects.filter(pk__in=live, state=State.DOSING).values_list("pk", flat=True))
    rows = []
    for name, url_of, repeats in (
            ("GET /api/v1/sessions/{id}", lambda s: f"/api/v1/sessions/{s}", 5),
            ("session page /sessions/{id}/", lambda s: f"/sessions/{s}/", 5),
            ("session page poll /sessions/{id}/live/", lambda s: f"/sessions/{s}/live/", 5)):
        for s in live[:3]:
            client.get(url_of(s))  # warm
        samples = [timed(client, "get", url_of(s)) for _ in range(repeats) for s in live]
        counts = sorted({queries(client, url_of(s)) for s in (live[0], dosing[0], live[-1])})
        rows.append((name, p95(samples), counts, len(samples)))
    busy_week = (timezone.localdate() - timedelta(days=14)).isoformat()  # a full week of sessions
    for name, url, repeats in (("GET /api/v1/room-board", "/api/v1/room-board", 60),
                               ("room board page /sessions/board/", "/sessions/board/", 60),
                               ("room board poll /sessions/board/live/", "/sessions/board/live/", 60),
                               ("calendar week /calendar/?view=week",
                                f"/calendar/?view=week&by=room&date={busy_week}", 20),
                               ("calendar day /calendar/?view=day",
                                f"/calendar/?view=day&by=clinician&date={busy_week}", 20)):
        client.get(url)
        samples = [timed(client, "get", url) for _ in range(repeats)]
        rows.append((name, p95(samples), [queries(client, url)], repeats))
    samples = []
    for n in range(200):
        started_at = time.perf_counter()
        status = post_reading(client, dosing[n % len(dosing)])
        samples.append(time.perf_counter() - started_at)
        assert status in (200, 201), status
    rows.append(("POST /api/v1/sessions/{id}/vitals", p95(samples),
                 [post_queries(client, dosing[0])], len(samples)))
    for name, ms, counts, n in rows:
        print(f"{name:42s} p95 {ms:6.1f} ms  queries {'/'.join(map(str, counts)):>7s}  (n={n})")
    board_queries = rows[3][2][0]
    done, errors, concurrent_samples = concurrent(live, nurses, args.concurrent_seconds)
    print(f"{len(nurses)} nurses recording for {args.concurrent_seconds:g} s: {done} readings "
          f"({done / args.concurrent_seconds:.0f}/s), {len(errors)} errors"
          + (f", p95 {p95(concurrent_samples):.0f} ms" if len(concurrent_samples) > 1 else "")
          + (f"; first: {errors[0]}" if errors else ""))
    print(f"room board queries with 40 sessions: {board_queries} (constant: see the counts above)")


def post_queries(client: Client, session_id: int) -> int:
    import json

    with CaptureQueriesContext(connection) as seen:
        client.post(f"/api/v1/sessions/{session_id}/vitals", data=json.dumps(reading_body()),
                    content_type="application/json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    return len(seen)


if __name__ == "__main__":
    main()
