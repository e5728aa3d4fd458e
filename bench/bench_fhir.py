"""FHIR bulk export at scale (issue 16): 10,000 patients with 1,000,000 observations.

Makes one clinic with --patients patients, each with a condition and one dosing session
holding --readings vital-sign readings (blood pressure, heart rate, SpO2 and respiratory rate:
four Observations each, so 10,000 x 25 readings = 1,000,000 Observations). The rows are bulk
inserted (the bench measures the export, not the bedside). Then runs the export as
`kapclinic fhir bulk-export` does (interop.bulk.write) into a throwaway folder and reports:
resources per second (target >= 20,000/s), the export's peak memory (its process's peak RSS,
which includes the set-up, and the growth of RSS during the export; target < 500 MiB), and
the time by type.

Usage: python bench/bench_fhir.py [--database sqlite|postgres] [--postgres URL]
       [--patients 10000] [--readings 25] [--quick]
--quick: 1,000 patients x 25 readings (100,000 Observations).
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import benchdb  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/kapclinic_bench_fhir")
parser.add_argument("--patients", type=int, default=10_000)
parser.add_argument("--readings", type=int, default=25, help="readings per patient (4 Observations each)")
parser.add_argument("--responses", type=int, default=10, help="PHQ-9 totals per patient (the research rows)")
parser.add_argument("--quick", action="store_true")
parser.add_argument("--profile", action="store_true",
                    help="the export under cProfile (its rate is no figure)")
args = parser.parse_args()
if args.quick:
    args.patients = 1_000

benchdb.use(args.database, postgres_url=args.postgres, prefix="fhir")

import django  # noqa: E402

django.setup()
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from kapclinic.accounts.models import Clinic, User  # noqa: E402
from kapclinic.audit import context  # noqa: E402
from kapclinic.audit.actions import writing_directly  # noqa: E402
from kapclinic.interop import bulk, research  # noqa: E402
from kapclinic.measures.models import Response  # noqa: E402
from kapclinic.patients.models import Condition, Patient  # noqa: E402
from kapclinic.treatment.models import Administration, Session, VitalReading  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def make_clinic() -> Clinic:
    call_command("migrate", verbosity=0)
    context.set_system_actor("bench")
    slug = f"fhir-bench-{int(time.time())}"
    clinic = Clinic.objects.create(slug=slug, name="FHIR bench clinic", time_zone="America/New_York")
    user = User.objects.create(username=f"{slug}-nurse")
    now = datetime.now(UTC)
    for start in range(0, args.patients, 1_000):
        with transaction.atomic(), writing_directly("bench data: the export is measured, not the bedside"):
            patients = Patient.objects.bulk_create(
                Patient(clinic=clinic, mrn=f"B{n:07d}", given_name="Test", family_name=f"Patient{n}",
                        date_of_birth=date(1970 + n % 40, 1 + n % 12, 1 + n % 28), sex_at_birth="female",
                        status="in_treatment") for n in range(start, min(start + 1_000, args.patients)))
            Condition.objects.bulk_create(
                Condition(patient=p, code="F33.1", display="Major depressive disorder, recurrent, moderate",
                          code_system="http://hl7.org/fhir/sid/icd-10-cm", recorded_at=now) for p in patients)
            sessions = Session.objects.bulk_create(
                Session(patient=p, protocol="iv_racemic_ketamine", protocol_version="bench",
                        protocol_hash="0" * 64, drug="ketamine", route="iv-infusion",
                        scheduled_at=now - timedelta(hours=3), state="discharged", state_at=now)
                for p in patients)
            VitalReading.objects.bulk_create(
                (VitalReading(session=s, patient_id=s.patient_id, phase="post_dose",
                              observed_at=now - timedelta(minutes=150 - 5 * k), sbp_mmhg=120 + k, dbp_mmhg=80,
                              heart_rate_bpm=70 + k % 9, spo2_pct=97, resp_rate_per_min=14,
                              fingerprint=f"bench-{k}", source="manual")
                 for s in sessions for k in range(args.readings)), batch_size=5_000)
            Administration.objects.bulk_create(
                Administration(session=s, drug="ketamine", route="iv-infusion", dose_mg=35,
                               dose_mg_per_kg=0.5, weight_kg=70,
                               started_at=now - timedelta(hours=2, minutes=40),
                               ended_at=now - timedelta(hours=2), within_protocol=True, administered_by=user)
                for s in sessions)
            Response.objects.bulk_create(
                (Response(patient=p, instrument="phq9", definition_version="2", answers={}, total=20 - w,
                          severity="moderate", result={"subscales": {}}, source="clinic",
                          taken_at=now - timedelta(days=7 * (args.responses - w)))
                 for p in patients for w in range(args.responses)), batch_size=5_000)
    return clinic


def main() -> None:
    print(f"database {connection.vendor}; {args.patients:,} patients x {args.readings} readings; "
          f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    began = time.perf_counter()
    clinic = make_clinic()
    print(f"set up in {time.perf_counter() - began:.0f} s")
    context.set_system_actor("kapclinic fhir bulk-export", clinic.pk)
    folder = Path(tempfile.mkdtemp(prefix="kapclinic-bench-fhir-out-"))
    by_type: dict[str, float] = {}
    last = [time.perf_counter(), ""]

    def progress(resource_type: str, n: int) -> None:
        if resource_type != last[1]:
            last[1] = resource_type
        by_type[resource_type] = time.perf_counter()

    before = rss_mib()
    began = time.perf_counter()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        manifest = profiler.runcall(bulk.write, bulk.Export(clinic), folder, progress=progress)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)
    else:
        manifest = bulk.write(bulk.Export(clinic), folder, progress=progress)
    took = time.perf_counter() - began
    after = rss_mib()
    total = sum(entry["count"] for entry in manifest["output"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sum(f.stat().st_size for f in folder.glob("*.ndjson")) / 2**20
    verdict = "met" if total / took >= 20_000 else "MISSED"
    print(f"bulk export: {total:,} resources in {took:.1f} s = {total / took:,.0f} resources/s "
          f"(target >= 20,000/s: {verdict}); {size:,.0f} MiB of NDJSON")
    print(f"memory: peak RSS {peak:,.0f} MiB (set-up included; target < 500 MiB: "
          f"{'met' if peak < 500 else 'MISSED'}); RSS {before:,.0f} MiB before the export, "
          f"{after:,.0f} after")
    for entry in manifest["output"]:
        print(f"  {entry['type']:<26} {entry['count']:>10,}")
    began = time.perf_counter()
    report = research.export(clinic, folder / "research.parquet")
    took = time.perf_counter() - began
    print(f"research export: {report.rows:,} rows of {report.patients:,} patients in {took:.1f} s "
          f"(target < 30 s: {'met' if took < 30 else 'MISSED'}); ages in {report.age_band_years}-year bands, "
          f"dates to the {report.dates_to}, {report.suppressed_rows:,} rows left out, smallest group "
          f"{report.smallest_group}")


main()
