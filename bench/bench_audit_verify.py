"""How long `kapclinic audit verify` takes over 1,000,000 audit entries.

Builds a valid chain in a throwaway SQLite database (or the PostgreSQL server
named by KAPCLINIC_DATABASE_URL), then times the same verify() the command runs.
Usage: python bench/bench_audit_verify.py [N]
"""

import json
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

os.environ.setdefault("KAPCLINIC_ENV", "development")
os.environ["KAPCLINIC_DATA_DIR"] = tempfile.mkdtemp(prefix="kapclinic-bench-")
os.environ["DJANGO_SETTINGS_MODULE"] = "kapclinic.settings"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from kapclinic.audit import chain, trail  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
BATCH = 20_000


def build_chain(count: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prev = chain.GENESIS
    columns = (*chain.FIELDS, "prev_hash", "hash")
    sql = (f"INSERT INTO audit_auditentry ({', '.join(columns)}) "
           f"VALUES ({', '.join(['%s'] * len(columns))})")
    rows = []
    with transaction.atomic(), connection.cursor() as cursor:
        for seq in range(1, count + 1):
            values = (seq, start + timedelta(seconds=seq), 7, "prescriber", "prescriber", 1,
                      seq % 5000, "patient", str(seq % 5000), "read", "10.0.0.1",
                      f"{seq:032x}", json.dumps({"n": seq}))
            digest = chain.entry_hash(prev, values)
            rows.append((*values, prev, digest))
            prev = digest
            if len(rows) == BATCH:
                cursor.executemany(sql, rows)
                rows.clear()
        if rows:
            cursor.executemany(sql, rows)


def main() -> None:
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    build_chain(N)
    if connection.vendor == "sqlite":
        # A live database checkpoints as it goes; one giant insert leaves a huge WAL behind.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    built = time.perf_counter() - started
    started = time.perf_counter()
    result = trail.verify()
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert result.ok and result.checked == N, result
    print(f"audit verify: {N:,} entries on {connection.vendor} in {seconds:.2f} s "
          f"({N / seconds:,.0f} entries/s; process peak RSS {peak_mib:.0f} MiB); "
          f"building the chain took {built:.1f} s; cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
