"""The worst simulation one request may ask for, within the work bounds (inputs.py).

Run: PYTHONPATH=src .venv/bin/python bench/bench_pk_limits.py [--repeats N]
Each case runs in its own process, so its peak resident memory is its own: simulate
(population mode with 5/50/95 percentile curves), then the JSON the API would send.
Targets: under 2 s (best of N) and under 1 GiB per request on the 2-core server.
Prints the figures; exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

from kapclinic.clinical.pk import inputs, simulate

API_POPULATION = 10_000  # kapclinic.explorer.api.API_MAX_POPULATION (web requests)
REGIMEN = {"dose_mg": 35.0, "weight_kg": 70.0, "duration_min": 40.0}


def cases() -> list[tuple[str, dict]]:
    api_points = inputs.MAX_WORK // API_POPULATION  # 3,000: 49.98 h at 1 min
    cli_points = inputs.MAX_WORK // inputs.MAX_POPULATION  # 300
    fine = inputs.MAX_POINTS  # 40,321: 336 h at 0.5 min
    return [
        ("API: 10,000 patients, 49.98 h at 1 min", {
            "population": API_POPULATION, "hours": (api_points - 1) / 60, "step_min": 1.0}),
        ("CLI: 100,000 patients, 4.98 h at 1 min", {
            "population": inputs.MAX_POPULATION, "hours": (cli_points - 1) / 60,
            "step_min": 1.0}),
        ("finest: 744 patients, 336 h at 0.5 min", {
            "population": inputs.MAX_WORK // fine, "hours": 336.0, "step_min": 0.5}),
        ("one curve, 336 h at 0.5 min", {"hours": 336.0, "step_min": 0.5}),
    ]


def run_case(index: int, repeats: int) -> None:
    name, kwargs = cases()[index]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        seed = 1 if "population" in kwargs else None
        result = simulate("domino", "iv-infusion", **REGIMEN, seed=seed, **kwargs)
        body = json.dumps(result.to_dict())
        times.append(time.perf_counter() - t0)
    points = len(result.times_h)
    patients = kwargs.get("population") or 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"name": name, "patients": patients, "points": points,
                      "best_s": min(times), "worst_s": max(times), "peak_gib": peak,
                      "json_mb": len(body) / 1e6}))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--case", type=int)
    args = ap.parse_args()
    if args.case is not None:
        run_case(args.case, args.repeats)
        return 0
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}; "
          f"MAX_WORK {inputs.MAX_WORK:,}, MAX_POINTS {inputs.MAX_POINTS:,}, "
          f"MAX_POPULATION {inputs.MAX_POPULATION:,}")
    ok = True
    for i in range(len(cases())):
        out = subprocess.run([sys.executable, __file__, "--case", str(i), "--repeats",
                              str(args.repeats)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        print(f"{r['name']}: {r['patients']:,} x {r['points']:,} = "
              f"{r['patients'] * r['points']:,} patient-time points; best {r['best_s']:.2f} s, "
              f"worst {r['worst_s']:.2f} s; peak memory {r['peak_gib']:.2f} GiB; "
              f"JSON {r['json_mb']:.1f} MB")
        ok &= r["best_s"] < 2.0 and r["peak_gib"] < 1.0
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
