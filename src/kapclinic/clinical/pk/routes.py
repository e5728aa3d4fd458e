"""Doses by route -> inputs into the compartment system (bioavailability, depots, devices)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from .definitions import UNITS, ModelDefinition, Route, Sourced, load_all
from .engine import Input, solve
from .structure import Params, System, bolus, disposition, typical_parameters, zero_order


@dataclass(frozen=True)
class Dose:
    """One administration: ``route``, ``dose_mg`` (total), ``start_min`` after time zero,
    ``duration_min`` for ``iv-infusion`` (several infusions give rate changes and pauses)."""

    route: str
    dose_mg: float
    start_min: float = 0.0
    duration_min: float | None = None


def _minutes(s: Sourced) -> float:
    return s.value * UNITS[s.unit][1]


@cache
def derived_ka_per_min(model_id: str, route: str) -> float:
    """Absorption rate (1/min) that gives the route's published Tmax for this model [D].

    The route's own ``tmax`` or, for a calibrated route, the published Tmax it started
    from. Typical patient at 70 kg, single dose; Tmax decreases monotonically with ka,
    so bisection on log(ka) finds it. Resolution: Tmax/2000.
    """
    defn = load_all()[model_id]
    spec = defn.routes[route]
    tmax = spec.tmax or (spec.calibration.published_tmax if spec.calibration else None)
    assert tmax is not None
    target = _minutes(tmax)
    prm = typical_parameters(defn, 70.0)
    times = np.linspace(0.0, 4.0 * target, 8001)

    def tmax_of(ka: float) -> float:
        system = System(disposition(defn, prm), 1)
        depot = system.add_depot(np.array([ka]), "central")
        sol = solve(system.modes(), [bolus(depot, 0.0, np.array([1.0]))], system.observe())
        return float(times[np.argmax(sol.at(times)[0, 0])])

    lo, hi = math.log(1e-4), math.log(20.0)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if tmax_of(math.exp(mid)) > target:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


def route_ka(defn: ModelDefinition, spec: Route) -> tuple[float, str | None]:
    """ka (1/min) of a first-order route and, if derived or calibrated, the note saying so."""
    if spec.ka is not None:
        ka = spec.ka.value * UNITS[spec.ka.unit][1]
        cal = spec.calibration
        if cal is None:
            return ka, None
        f = spec.bioavailability.value if spec.bioavailability else 1.0
        lag = f", lag {spec.lag.value:g} {spec.lag.unit}" if spec.lag else ""
        return ka, (f"{spec.name}: absorption calibrated [D] to observed peaks "
                    f"({', '.join(cal.observations)}): ka {spec.ka.value:g}/h, F {f:g}{lag}; "
                    f"published F {cal.published_bioavailability.value:g}")
    ka = derived_ka_per_min(defn.id, spec.name)
    assert spec.tmax is not None
    return ka, (f"{spec.name}: ka {ka * 60:.3g}/h derived [D] from Tmax {spec.tmax.value:g} "
                f"{spec.tmax.unit} ({spec.tmax.source}) for this model at 70 kg")


def build(defn: ModelDefinition, prm: Params, doses: list[Dose],
          n_patients: int) -> tuple[System, list[Input], list[str]]:
    """The compartment system with the depots these doses need, the inputs, and notes."""
    system = System(disposition(defn, prm), n_patients)
    depots: dict[str, int] = {}
    inputs: list[Input] = []
    notes: list[str] = []

    def depot(key: str, ka: np.ndarray, target: str) -> int:
        if key not in depots:
            depots[key] = system.add_depot(ka, target)
        return depots[key]

    def scalar(name: str) -> float:
        values = prm[name]
        if not np.all(values == values[0]):
            raise ValueError(f"{name} sets event times and must not vary between patients")
        return float(values[0])

    for dose in doses:
        spec = defn.routes[dose.route]
        amount = np.full(n_patients, dose.dose_mg)
        t0 = dose.start_min
        if spec.kind == "iv":
            if dose.route == "iv-bolus":
                inputs.append(bolus(0, t0, amount))
            else:
                assert dose.duration_min is not None
                inputs.append(zero_order(0, t0, dose.duration_min, amount))
        elif spec.kind == "first-order":
            assert spec.bioavailability is not None
            ka, note = route_ka(defn, spec)
            if note and note not in notes:
                notes.append(note)
            f = spec.bioavailability.value
            lag = _minutes(spec.lag) if spec.lag is not None else 0.0
            idx = depot(dose.route, np.array([ka]), "central")
            inputs.append(bolus(idx, t0 + lag, f * amount))
        elif spec.kind == "zero-then-first-order":
            p = spec.params
            idx = depot(dose.route, prm[p["ka"]], "liver")
            inputs.append(zero_order(idx, t0, scalar(p["duration"]),
                                     prm[p["bioavailability"]] * amount))
        else:  # esketamine-nasal: per 28-mg device, nasal part + swallowed part
            inputs.extend(_nasal_devices(spec, prm, dose, system, depot, scalar, n_patients))
            assert spec.device_interval is not None
            note = (f"intranasal: {spec.device_mg:g}-mg devices {spec.device_interval.value:g} "
                    f"{spec.device_interval.unit} apart ({spec.device_interval.source})")
            if note not in notes:
                notes.append(note)
    return system, inputs, notes


def _nasal_devices(spec: Route, prm: Params, dose: Dose, system: System, depot: object,
                   scalar: object, n_patients: int) -> list[Input]:
    assert spec.device_mg is not None and spec.device_interval is not None
    assert callable(depot) and callable(scalar)
    p = spec.params
    nasal = depot("nasal", prm[p["nasal_ka"]], "central")
    swallowed = depot("swallowed", prm[p["swallowed_ka"]], "liver")
    interval = _minutes(spec.device_interval)
    duration = scalar(p["swallowed_duration"])
    n_devices = max(1, math.ceil(dose.dose_mg / spec.device_mg - 1e-9))
    out: list[Input] = []
    for i in range(n_devices):
        mg = min(spec.device_mg, dose.dose_mg - i * spec.device_mg)
        frn = prm[p["nasal_fraction"]] * (prm[p["later_device_factor"]] if i else 1.0)
        t = dose.start_min + i * interval
        out.append(bolus(nasal, t, frn * mg * np.ones(n_patients)))
        out.append(zero_order(swallowed, t, duration,
                              (1.0 - frn) * prm[p["swallowed_bioavailability"]] * mg))
    return out
