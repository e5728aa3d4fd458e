"""From a model definition to per-patient rate matrices, doses and observations.

Compartment order: hub (central) first, then its spokes (peripherals, hepato-portal),
then metabolite compartments, then absorption depots. Internal units: L, L/min, 1/min,
min, mg; concentrations come out in ng/mL (mg/L x 1000).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .covariates import Covariates
from .covariates import apply as apply_covariates
from .definitions import UNITS, ModelDefinition
from .engine import FloatArray, Input, Modes, eigen_general, eigen_star

Params = dict[str, FloatArray]  # name -> (P,) values in internal units


def typical_parameters(defn: ModelDefinition, weight_kg: float,
                       covariates: Covariates | None = None,
                       notes: list[str] | None = None) -> Params:
    """Typical-patient parameters, weight-scaled, in internal units; each of shape (1,).

    ``covariates`` (if given) apply the model's published covariate effects; what was
    applied is appended to ``notes``.
    """
    ws = defn.weight_scaling
    values: dict[str, float] = {}
    for name, prm in defn.parameters.items():
        value = prm.value * UNITS[prm.unit][1]
        if ws.method == "per_kg" and prm.kind in ("volume", "clearance"):
            value *= weight_kg
        elif ws.method == "allometric" and prm.kind in ("volume", "clearance"):
            exponent = ws.volume_exponent if prm.kind == "volume" else ws.clearance_exponent
            value *= (weight_kg / ws.reference_weight_kg) ** exponent
        values[name] = value
    if covariates is not None:
        applied = apply_covariates(defn, values, covariates)
        if notes is not None:
            notes.extend(applied)
    return {name: np.array([value]) for name, value in values.items()}


def sample_parameters(defn: ModelDefinition, weight_kg: float, n: int,
                      rng: np.random.Generator,
                      covariates: Covariates | None = None) -> tuple[Params, list[str]]:
    """Draw ``n`` virtual patients: log-normal (omega^2 = ln(1 + CV^2)) or logit-normal IIV
    around the typical values (after covariate effects).

    Returns the parameters and the assumptions made (default CVs, interpretation).
    """
    typical = typical_parameters(defn, weight_kg, covariates)
    notes: list[str] = []
    out: Params = {}
    for name, prm in defn.parameters.items():
        base = typical[name][0]
        iiv = prm.iiv
        if iiv is not None and iiv.distribution == "logit-normal":
            logit = np.log(base / (1 - base)) + rng.normal(0.0, iiv.magnitude, n)
            out[name] = 1.0 / (1.0 + np.exp(-logit))
            continue
        cv = iiv.magnitude if iiv is not None else None
        if cv is None and name in defn.default_cv_applies_to and defn.default_cv is not None:
            cv = defn.default_cv
            notes.append(f"{name}: clinic-setting default CV {cv:.0%} (assumption; no published "
                         "variability in pk.md)")
        if cv is None:
            out[name] = np.full(n, base)
        else:
            omega = np.sqrt(np.log1p(cv * cv))
            out[name] = base * np.exp(rng.normal(0.0, omega, n))
    if any(p.iiv is not None and p.iiv.distribution == "log-normal"
           for p in defn.parameters.values()):
        notes.append("Published variability read as CV of a log-normal: omega^2 = ln(1 + CV^2)")
    return out, notes


@dataclass
class Disposition:
    """Star topology: hub elimination, hub<->spoke exchange, spoke elimination, per patient."""

    names: list[str]
    hub_volume: FloatArray
    k_hub: FloatArray
    k_out: FloatArray  # (P, m)
    k_in: FloatArray
    k_el: FloatArray
    metabolite: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray] | None = None
    # (formation rate from spoke 'liver', k_elim, k_out, k_in, volume) of a 2-cmt metabolite


def disposition(defn: ModelDefinition, prm: Mapping[str, FloatArray]) -> Disposition:
    """Micro-constants of the model's star topology for every patient."""
    if defn.structure.startswith("mammillary"):
        m = 2 if defn.structure.endswith("3") else 1
        if defn.parameterisation == "micro":
            k10 = prm["k10"]
            pairs = [(prm["k12"], prm["k21"]), (prm.get("k13"), prm.get("k31"))][:m]
        else:
            v1 = prm["V1"]
            k10 = prm["CL"] / v1
            pairs = [(prm["Q2"] / v1, prm["Q2"] / prm["V2"])]
            if m == 2:
                pairs.append((prm["Q3"] / v1, prm["Q3"] / prm["V3"]))
        k_out = np.stack([np.asarray(a) for a, _ in pairs], axis=1)
        k_in = np.stack([np.asarray(b) for _, b in pairs], axis=1)
        names = ["central"] + [f"peripheral{j + 1}" for j in range(m)]
        return Disposition(names, prm["V1"], k10, k_out, k_in, np.zeros_like(k_out))
    # hepatic-3: elimination only from the hepato-portal compartment (well-stirred liver)
    vc = prm["Vc"]
    k_out = np.stack([prm["Q1"] / vc, prm["Q2"] / vc, prm["Qh"] / vc], axis=1)
    k_in = np.stack([prm["Q1"] / prm["Vp1"], prm["Q2"] / prm["Vp2"], prm["Qh"] / prm["Vh"]], 1)
    k_el = np.zeros_like(k_out)
    k_el[:, 2] = prm["kel"] + prm["kmet"]
    dispo = Disposition(["central", "peripheral1", "peripheral2", "liver"], vc,
                        np.zeros_like(vc), k_out, k_in, k_el)
    if defn.metabolite:
        vcn = prm["Vcn"]
        dispo.metabolite = (prm["kmet"], prm["CLn"] / vcn, prm["Q3"] / vcn,
                            prm["Q3"] / prm["Vpn"], vcn)
    return dispo


@dataclass
class System:
    """Rate matrix pieces ready for decomposition, plus where things go."""

    dispo: Disposition
    n_patients: int
    depots: list[tuple[FloatArray, int]] = field(default_factory=list)  # (ka (P,), target)

    @property
    def n_dispo(self) -> int:
        return 1 + int(self.dispo.k_out.shape[1])

    @property
    def n_metabolite(self) -> int:
        return 0 if self.dispo.metabolite is None else 2

    def index(self, name: str) -> int:
        return self.dispo.names.index(name)

    def add_depot(self, ka: FloatArray, target: str) -> int:
        """A first-order absorption compartment emptying into ``target``; returns its index."""
        self.depots.append((np.broadcast_to(ka, (self.n_patients,)), self.index(target)))
        return self.n_dispo + self.n_metabolite + len(self.depots) - 1

    def matrix(self) -> FloatArray:
        """Full rate matrix A (P, n, n); column j = outflow from compartment j."""
        d, p, nd = self.dispo, self.n_patients, self.n_dispo
        n = nd + self.n_metabolite + len(self.depots)
        a = np.zeros((p, n, n))
        m = d.k_out.shape[1]
        a[:, 0, 0] = -(d.k_hub + d.k_out.sum(axis=1))
        for j in range(m):
            a[:, j + 1, 0] = d.k_out[:, j]
            a[:, 0, j + 1] = d.k_in[:, j]
            a[:, j + 1, j + 1] = -(d.k_in[:, j] + d.k_el[:, j])
        if d.metabolite is not None:
            k_form, k_e, k_o, k_i, _ = d.metabolite
            mc = nd
            a[:, mc, self.index("liver")] = k_form
            a[:, mc, mc] = -(k_e + k_o)
            a[:, mc + 1, mc] = k_o
            a[:, mc, mc + 1] = k_i
            a[:, mc + 1, mc + 1] = -k_i
        for i, (ka, target) in enumerate(self.depots):
            c = nd + self.n_metabolite + i
            a[:, c, c] = -ka
            a[:, target, c] = ka
        return a

    def modes(self) -> Modes:
        """Eigen-decomposition: closed-form star solver when possible, else LAPACK."""
        d = self.dispo
        if d.metabolite is None and not self.depots:
            modes = eigen_star(np.broadcast_to(d.k_hub, (self.n_patients,)), d.k_out, d.k_in,
                               d.k_el)
            if np.all(np.isfinite(modes.vinv)):
                return modes
        return eigen_general(self.matrix())

    def observe(self) -> FloatArray:
        """Weights (P, O, n): output 0 = parent in plasma, 1 = metabolite (if any), ng/mL."""
        n = self.n_dispo + self.n_metabolite + len(self.depots)
        outs = 1 + (self.dispo.metabolite is not None)
        w = np.zeros((self.n_patients, outs, n))
        w[:, 0, 0] = 1000.0 / self.dispo.hub_volume
        if self.dispo.metabolite is not None:
            w[:, 1, self.n_dispo] = 1000.0 / self.dispo.metabolite[4]
        return w


def bolus(compartment: int, start_min: float, amount: FloatArray) -> Input:
    return Input(compartment, start_min, 0.0, np.asarray(amount, dtype=float))


def zero_order(compartment: int, start_min: float, duration_min: float,
               amount: FloatArray) -> Input:
    return Input(compartment, start_min, duration_min, np.asarray(amount, dtype=float))
