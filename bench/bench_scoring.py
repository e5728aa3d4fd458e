"""Scoring throughput of the pure instruments core (issue 3 target: >= 100,000 PHQ-9/s).

Run: .venv/bin/python bench/bench_scoring.py [--n N]
Times `instruments.score` through its public entry point on 1,000 random complete
questionnaires per instrument (the compiled path), and on PHQ-9 with one item missing
(the general three-valued path, where the total is withheld or prorated). Best and median
of five runs; prints the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time

from kapclinic.clinical import instruments
from kapclinic.clinical.instruments.definitions import load_all
from kapclinic.clinical.instruments.errors import NotAskedError


def rate(instrument_id: str, answer_sets: list[dict[str, int | None]], n: int,
         **options: object) -> tuple[float, float]:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for k in range(n):
            instruments.score(instrument_id, answer_sets[k % len(answer_sets)], **options)
        runs.append(n / (time.perf_counter() - started))
    return max(runs), statistics.median(runs)


def _asked_consistently(instrument_id: str, answers: dict[str, int | None]) -> bool:
    """Random answers can answer a question its skip rule says was not asked (C-SSRS 3-5
    after a No to 2), which the scorer refuses: such sets are not timed."""
    try:
        instruments.score(instrument_id, answers)
    except NotAskedError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    args = ap.parse_args()
    rng = random.Random(1)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for instrument_id, d in sorted(load_all().items()):
        drawn = [{i.link_id: rng.choice(i.values) for i in d.items if i.scored} for _ in range(1000)]
        sets = [s for s in drawn if _asked_consistently(instrument_id, s)]
        best, median = rate(instrument_id, sets, args.n // 4)
        print(f"{instrument_id:15s} complete: best {best:>9,.0f}/s, median {median:>9,.0f}/s")
    phq9 = [{str(i): rng.randint(0, 3) for i in range(1, 10)} for _ in range(1000)]
    best, median = rate("phq9", phq9, args.n)
    verdict = "meets" if median >= 100_000 else "MISSES"
    print(f"PHQ-9 complete (target >= 100,000/s): best {best:,.0f}/s, median {median:,.0f}/s "
          f"-> {verdict} the target")
    gappy = [{**s, "5": None} for s in phq9]
    best, median = rate("phq9", gappy, args.n // 4)
    print(f"PHQ-9 one item missing (general path): median {median:,.0f}/s; "
          f"prorated: median {rate('phq9', gappy, args.n // 4, prorate=True)[1]:,.0f}/s")


if __name__ == "__main__":
    main()
