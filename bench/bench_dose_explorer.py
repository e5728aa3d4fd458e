"""Time of one dose-explorer computation: all racemic models, the band and the IM equivalent.

Target (issue 5): under 100 ms for one patient with all models.
"""

import os
import statistics
import time

os.environ.setdefault("KAPCLINIC_ENV", "development")
os.environ.setdefault("KAPCLINIC_DATA_DIR", "/tmp/kapclinic-bench-explorer")
os.environ["DJANGO_SETTINGS_MODULE"] = "kapclinic.settings"

import django  # noqa: E402

django.setup()

from kapclinic.explorer.explorer import explore  # noqa: E402

ARGS = {"drug": "ketamine", "route": "iv-infusion", "hours": 24, "compare_route": "im",
        "dose_mg_per_kg": 0.5, "weight_kg": 70, "duration_min": 40}


def main() -> None:
    first = time.perf_counter()
    explore(**ARGS)
    cold = time.perf_counter() - first
    times = []
    for _ in range(30):
        started = time.perf_counter()
        explore(**ARGS)
        times.append(time.perf_counter() - started)
    median = statistics.median(times) * 1000
    print(f"dose explorer (5 models x 1,441 points + envelope + IM equivalent): "
          f"median {median:.1f} ms, max {max(times) * 1000:.1f} ms, first call {cold * 1000:.0f} ms;"
          f" cores: {os.cpu_count()}")
    if median > 100:
        raise SystemExit("slower than the 100 ms target")


if __name__ == "__main__":
    main()
