"""Measurement-based care at clinic scale (issue 3).

Loads `kapclinic demo --patients 10000` with enough weeks for about 1,000,000 responses,
then times the clinic dashboard and patient charts server-side (p95 over repeated
requests) and counts their SQL queries. PHQ-9 scoring throughput: bench_scoring.py.
Usage: python bench/bench_measures.py [--postgres URL] [--patients N] [--weeks W]
Targets: dashboard < 500 ms, chart < 100 ms (p95).
"""

import argparse
import os
import random
import statistics
import tempfile
import time

parser = argparse.ArgumentParser()
parser.add_argument("--postgres", help="a PostgreSQL URL for a scratch database (dropped data)")
parser.add_argument("--patients", type=int, default=10_000)
parser.add_argument("--weeks", type=int, default=57)
parser.add_argument("--data-dir", help="reuse a data folder a previous run loaded (SQLite)")
args = parser.parse_args()

os.environ["KAPCLINIC_ENV"] = "development"
os.environ["KAPCLINIC_DATA_DIR"] = args.data_dir or tempfile.mkdtemp(prefix="kapclinic-bench-")
os.environ["KAPCLINIC_ALLOWED_HOSTS"] = "testserver"
if args.postgres:
    os.environ["KAPCLINIC_DATABASE_URL"] = args.postgres
os.environ["DJANGO_SETTINGS_MODULE"] = "kapclinic.settings"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from kapclinic import demo  # noqa: E402
from kapclinic.accounts.models import User  # noqa: E402
from kapclinic.audit import context  # noqa: E402
from kapclinic.measures.models import Response  # noqa: E402
from kapclinic.patients.models import Patient  # noqa: E402


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] * 1000


def timed_get(client: Client, url: str, repeats: int) -> tuple[float, int]:
    client.get(url)  # warm
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        assert client.get(url).status_code == 200
        samples.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return p95(samples), len(queries)


def one_get(client: Client, url: str) -> float:
    started = time.perf_counter()
    assert client.get(url).status_code == 200
    return time.perf_counter() - started


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    context.set_system_actor("bench")
    started = time.perf_counter()
    demo.load_demo(patients=args.patients, seed=1, password="bench-password-1", weeks=args.weeks)
    loaded = time.perf_counter() - started  # near zero when the folder was loaded before
    responses, patients = Response.objects.count(), Patient.objects.count()
    client = Client()
    client.force_login(User.objects.get(username="prescriber"))
    dash_ms, dash_queries = timed_get(client, "/dashboard/", 20)
    madrs_ms, _ = timed_get(client, "/dashboard/?instrument=madrs", 10)
    treated = list(Patient.objects.filter(clinic__slug="harbor", status="in_treatment")
                   .values_list("pk", flat=True)[:200])
    chart_samples, measure_samples = [], []
    for pk in random.Random(2).sample(treated, 40):
        chart_samples.append(one_get(client, f"/patients/{pk}/"))
        measure_samples.append(one_get(client, f"/patients/{pk}/measures/"))
    _, chart_queries = timed_get(client, f"/patients/{treated[0]}/", 5)
    print(f"database {connection.vendor}; {patients:,} patients, {responses:,} responses "
          f"(loaded in {loaded:.0f} s); cores {os.cpu_count()}")
    print(f"clinic dashboard p95 {dash_ms:.0f} ms ({dash_queries} queries); MADRS view p95 "
          f"{madrs_ms:.0f} ms")
    print(f"patient chart p95 {p95(chart_samples):.0f} ms ({chart_queries} queries); "
          f"measures page (all charts and tables) p95 {p95(measure_samples):.0f} ms")


if __name__ == "__main__":
    main()
