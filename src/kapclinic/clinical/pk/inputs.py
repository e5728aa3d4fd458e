"""Input checks: one clear message per wrong field (used by the API and the CLI alike)."""

from __future__ import annotations

import math

from .definitions import ROUTES, ModelDefinition, load_all
from .errors import PKInputError, UnknownModelError, UnknownRouteError

# Plausibility limits [policy]: beyond these an input is a typo, not a regimen.
LIMITS: dict[str, tuple[float, float]] = {
    "weight_kg": (2.0, 350.0),
    "dose_mg": (0.0, 1000.0),
    "dose_mg_per_kg": (0.0, 15.0),
    "duration_min": (0.0, 1440.0),
    "hours": (0.0, 336.0),
    "step_min": (0.0, 60.0),
    "start_min": (-1e-300, 14 * 1440.0),
}
# Work bounds [policy: keep one simulation well under ~2 s and ~1 GiB on a 2-core server;
# bench/bench_pk_limits.py measures the worst allowed request]. A curve has at most
# MAX_POINTS time points (336 h at 0.5-minute steps); a population at most MAX_WORK
# patient-time points (patients x time points), e.g. 10,000 patients over 24 h at 1 min.
MAX_POINTS = 40_321
MAX_WORK = 30_000_000
MAX_POPULATION = 100_000


def check_number(field: str, value: object) -> float:
    """A finite number within LIMITS[field] (exclusive lower bound, inclusive upper)."""
    lo, hi = LIMITS[field]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PKInputError(field, f"{field} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x) or x <= lo:
        raise PKInputError(field, f"{field} must be greater than {lo:g}, got {value!r}")
    if x > hi:
        raise PKInputError(field, f"{field} {x:g} is implausible (limit {hi:g})")
    return x


def check_model(model_id: object) -> ModelDefinition:
    models = load_all()
    if not isinstance(model_id, str) or model_id not in models:
        raise UnknownModelError(
            "model", f"unknown model {model_id!r}; valid models: {', '.join(sorted(models))}")
    return models[model_id]


def check_route(defn: ModelDefinition, route: object) -> str:
    if not isinstance(route, str) or route not in ROUTES:
        raise UnknownRouteError("route", f"unknown route {route!r}; valid routes: "
                                f"{', '.join(ROUTES)}")
    if route not in defn.routes:
        raise UnknownRouteError("route", f"model {defn.id!r} has no data for route {route!r}; "
                                f"valid routes for it: {', '.join(defn.routes)}")
    return route


def check_points(hours: float, step_min: float) -> int:
    """The number of time points of the window (0 to ``hours`` by ``step_min``), bounded."""
    n_points = int(math.floor(hours * 60.0 / step_min + 1e-9)) + 1
    if n_points > MAX_POINTS:
        raise PKInputError("step_min", f"{hours:g} h at {step_min:g}-minute steps is "
                           f"{n_points:,} time points; at most {MAX_POINTS:,} are allowed: "
                           "shorten the time span or widen the step")
    return n_points


def check_work(population: int, n_points: int) -> None:
    """Refuse a population whose patients x time points exceed MAX_WORK, saying what to change."""
    work = population * n_points
    if work > MAX_WORK:
        raise PKInputError("population", f"{population:,} patients × {n_points:,} time points "
                           f"is {work:,}; at most {MAX_WORK:,} are allowed: shorten the time "
                           "span, widen the step or simulate fewer patients")


def check_population(population: object, seed: object) -> tuple[int | None, int | None]:
    if population is None:
        if seed is not None:
            raise PKInputError("seed", "seed only applies with population")
        return None, None
    if isinstance(population, bool) or not isinstance(population, int):
        raise PKInputError("population", "population must be a whole number of patients")
    if not 1 <= population <= MAX_POPULATION:
        raise PKInputError("population", f"population must be 1 to {MAX_POPULATION:,}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise PKInputError("seed", "seed must be a non-negative whole number")
    return population, seed
