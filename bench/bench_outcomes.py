"""Benchmark of the outcomes core (issue 3): per-patient summaries and Kaplan-Meier.

Run: PYTHONPATH=src .venv/bin/python bench/bench_outcomes.py [--patients N] [--scores S]
Prints figures with the machine. Informational only (the issue sets no target for this core).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from kapclinic.clinical.outcomes import ScoreSeries, kaplan_meier, summarise

START = datetime(2025, 1, 6, 9, tzinfo=UTC)


def cohort(n: int, scores: int, rng: random.Random) -> list[ScoreSeries]:
    out = []
    for _ in range(n):
        base = rng.randint(22, 45)
        pts = [(START - timedelta(days=1), base)]
        level = float(base)
        for k in range(1, scores):
            level = min(60.0, max(0.0, level * rng.uniform(0.6, 1.25)))
            pts.append((START + timedelta(days=7 * k), round(level)))
        out.append(ScoreSeries.from_pairs("madrs", pts, episode_start=START))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--scores", type=int, default=12)
    args = ap.parse_args()
    rng = random.Random(7)
    series = cohort(args.patients, args.scores, rng)
    summarise(series[0])  # load definitions and rules once
    t0 = time.perf_counter()
    summaries = [summarise(s) for s in series]
    dt = time.perf_counter() - t0
    durations = np.array([s.durability_days for s in summaries if s.durability_days is not None])
    events = np.array([bool(s.relapsed) for s in summaries if s.durability_days is not None])
    t1 = time.perf_counter()
    for _ in range(20):
        km = kaplan_meier(durations, events)
    km_dt = (time.perf_counter() - t1) / 20
    big = np.random.default_rng(1)
    d_big, e_big = big.integers(0, 365, 1_000_000).astype(float), big.random(1_000_000) < 0.4
    t2 = time.perf_counter()
    kaplan_meier(d_big, e_big)
    big_dt = time.perf_counter() - t2
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print(f"summarise: {args.patients} MADRS patients x {args.scores} scores in {dt:.2f} s "
          f"({args.patients / dt:,.0f} patients/s)")
    print(f"kaplan_meier: {durations.size} at-risk patients, {int(events.sum())} relapses: "
          f"{km_dt * 1000:.2f} ms; median {km.median()} days")
    print(f"kaplan_meier: 1,000,000 rows in {big_dt * 1000:.1f} ms")


if __name__ == "__main__":
    main()
