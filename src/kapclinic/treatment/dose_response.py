"""The predicted plasma curve of today's dose on the session page: decision support, not an order.

The curve comes from the PK core (``kapclinic.clinical.pk``), the published population
models the dose explorer draws: every model of the session's drug that has its route, each
model's typical patient, and the range across them (no single published model is validated
for psychiatric dosing, so the page shows them all, as the explorer does). The dose is the
one given (its mg, the weight it was given for, its pauses and stop, timed from its start)
or, before it is given, the protocol's standard dose at today's weight.

The session page polls every few seconds; the curve is the same until the dose changes, so
``_curves`` keeps it per dose (the regimen, the weight and the age are its key) and a poll
only redraws the line at "now". Cost measured on the development machine: 3-15 ms for the
five ketamine models the first time, about 1 ms to draw the chart from the cache.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlencode

import numpy as np

from kapclinic.clinical import pk
from kapclinic.clinical import protocols as core
from kapclinic.clinical.charts import format_figure
from kapclinic.clinical.pk.simulate import DEFAULT_INFUSION_MIN
from kapclinic.platform.charts import Chart, Line, Text, Tick
from kapclinic.platform.labels import DRUG_LABELS, ROUTE_LABELS
from kapclinic.treatment.models import Administration, AdministrationEvent, AdministrationEventKind

STEP_MIN = 2.0        # the curve's time step: smooth at the chart's width, half the points of 1 min
HOURS_SHOWN = 4       # the explorer's default window; longer only when the session runs longer
MAX_HOURS = 24
# Colour-blind-safe (Okabe-Ito) line colours, one per model, as the dose explorer draws them.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
_YEAR = re.compile(r"\b(19|20)\d\d\b")
_REFERENCE = re.compile(r"\s*\((?:shared/reference/)?pk\.md[^)]*\)")

Piece = tuple[float, float, float | None]  # start (min after the dose began), mg, minutes (infusion)


@dataclass(frozen=True)
class TodaysDose:
    """What the curve is drawn for, in words a clinician checks it against."""

    drug: str
    route: str
    dose_mg: float
    dose_mg_per_kg: float | None
    weight_kg: float
    pieces: tuple[Piece, ...]
    given: bool                      # False: the protocol's standard dose, not yet given
    started_at: datetime | None
    words: str
    paused: bool = False             # paused now: the curve assumes nothing more is given
    planned_minutes: float | None = None  # an infusion's planned length


@dataclass(frozen=True)
class ModelCurve:
    id: str                          # the PK core's model id
    label: str                       # "Kamp 2020": as a clinician cites a model
    population: str
    conc_ng_per_ml: np.ndarray
    cmax_ng_per_ml: float
    tmax_min: float


@dataclass(frozen=True)
class Curves:
    minutes: np.ndarray
    models: tuple[ModelCurve, ...]
    low: np.ndarray
    high: np.ndarray
    extrapolations: tuple[str, ...]
    drawn: Chart = field(compare=False, repr=False)  # the chart without "now": drawn once too


# ---- the models, named as a clinician reads them -------------------------------------------

def model_label(name: str, citation: str) -> str:
    """'Kamp 2020 (opentiva ...)' -> 'Kamp 2020'; 'Clements 250 ug/kg' with a citation of
    Clements' 1981 paper -> 'Clements 1981'; a parameter set whose paper is unverified keeps
    what its name says ('Domino (STANPUMP set)')."""
    words: list[str] = []
    for word in name.split():
        if word.startswith("(") or any(ch.isdigit() for ch in word):
            break
        words.append(word)
    author = " ".join(words) or name
    year = _YEAR.search(name)
    if year is None and citation.startswith(author.split()[0]):
        year = _YEAR.search(citation)
    if year is not None:
        return f"{author} {year.group(0)}"
    aside = re.search(r"\((\w+)", name)
    return f"{author} ({aside.group(1)} set)" if aside else author


def plain(text: str) -> str:
    """A model's population note without pointers into the reference files."""
    return _REFERENCE.sub("", text).strip()


def applicable_models(drug: str, route: str) -> list[pk.ModelDefinition]:
    return [pk.get_model(m["id"]) for m in pk.list_models()
            if m["drug"] == drug and route in m["routes"]]


# ---- today's dose --------------------------------------------------------------------------

def _minutes(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 60


def infusion_pieces(dose_mg: float, planned_min: float, started_at: datetime,
                    events: list[AdministrationEvent], ended_at: datetime | None
                    ) -> tuple[tuple[Piece, ...], bool]:
    """The infusion as it ran: one piece per stretch between a start or resume and a pause,
    stop or end, at the planned rate, never more than the dose. Returns the pieces and
    whether it is paused now (the rest of the dose not yet given)."""
    rate = dose_mg / planned_min
    pieces: list[Piece] = []
    remaining, start, running = dose_mg, 0.0, True

    def give(until: float) -> None:
        nonlocal remaining
        mg = min(remaining, max(0.0, rate * (until - start)))
        if mg > 1e-6:
            pieces.append((round(start, 2), round(mg, 3), round(mg / rate, 2)))
            remaining -= mg

    for e in sorted(events, key=lambda e: (e.at, e.pk or 0)):
        at = _minutes(e.at, started_at)
        if e.kind == AdministrationEventKind.PAUSE and running:
            give(at)
            running = False
        elif e.kind == AdministrationEventKind.RESUME and not running:
            start, running = at, True
        elif e.kind == AdministrationEventKind.STOP:
            if running:
                give(at)
            return tuple(pieces), False
    if running:
        give(_minutes(ended_at, started_at) if ended_at else start + remaining / rate)
    return tuple(pieces), not running and remaining > 1e-6


def _weight(protocol: core.Protocol, given: Administration | None,
            weight_today: float | None) -> float | None:
    if given is not None and given.weight_kg:
        return given.weight_kg
    if weight_today:
        return weight_today
    models = applicable_models(protocol.drug, protocol.route)
    if models and all(m.weight_scaling.method == "none" for m in models):
        return models[0].weight_scaling.reference_weight_kg  # the models ignore weight
    return None


def ng(value: float) -> str:
    """A concentration as the page writes it: whole ng/mL (the models are not finer)."""
    return f"{value:.0f}"


def route_words(route: str) -> str:
    """'IV infusion', 'intranasal': a route's label inside a sentence."""
    label = ROUTE_LABELS.get(route, route)
    return label if label.startswith("IV") else label.lower()


def _device_words(models: list[pk.ModelDefinition], route: str, mg: float) -> str:
    """A nasal spray's devices as the model takes them (a fixed interval from the start)."""
    for model in models:
        spec = model.routes.get(route)
        if spec is not None and spec.device_mg and spec.device_interval is not None:
            count = max(1, math.ceil(mg / spec.device_mg - 1e-9))
            if count == 1:
                return ""
            return (f", {count} devices of {spec.device_mg:g} mg taken {spec.device_interval.value:g} "
                    f"{spec.device_interval.unit} apart from the start, as the model assumes")
    return ""


def _dose_words(mg: float, per_kg: float | None, weight: float | None) -> str:
    if per_kg and weight:
        return f"{format_figure(mg)} mg ({format_figure(per_kg)} mg/kg × {format_figure(weight)} kg)"
    return f"{format_figure(mg)} mg"


def todays_dose(protocol: core.Protocol, given: Administration | None,
                events: list[AdministrationEvent], weight_today: float | None,
                usual: float | None = None) -> tuple[TodaysDose | None, str]:
    """The dose the curve is drawn for, or None and the words saying what is missing. Before
    the dose: ``usual`` (core.usual_dose for this patient: the label's first dose for their
    age on their first), else the protocol's standard dose."""
    drug, route = protocol.drug, protocol.route
    weight = _weight(protocol, given, weight_today)
    if given is not None:
        mg, per_kg, started = given.dose_mg, given.dose_mg_per_kg, given.started_at
    else:
        standard = protocol.model.dose.standard
        if usual is None and standard is None:
            return None, "The protocol names no standard dose: the curve is drawn once the dose is recorded."
        value = usual if usual is not None else protocol.number(standard)
        if protocol.weight_based:
            if weight is None:
                return None, ("Record today's weight to see the predicted curve of the protocol's "
                              "standard dose.")
            mg, per_kg = value * weight, value
        else:
            mg, per_kg = value, None
        started = None
    if weight is None:
        return None, "Record today's weight: the models' predictions depend on it."
    models = applicable_models(drug, route)
    weighed = any(m.weight_scaling.method != "none" for m in models)
    words = _dose_words(mg, per_kg if protocol.weight_based else None, weight)
    if weighed and not (protocol.weight_based and per_kg):
        words += f" (at {format_figure(weight)} kg)"
    words += f", {route_words(route)}"
    paused, planned = False, None
    if route == "iv-infusion":
        planned = (mg / given.rate_mg_per_min if given is not None and given.rate_mg_per_min
                   else protocol.infusion_minutes or DEFAULT_INFUSION_MIN)
        if given is not None:
            mine = [e for e in events if e.administration_id == given.pk]
            pieces, paused = infusion_pieces(mg, planned, given.started_at, mine, given.ended_at)
        else:
            pieces = ((0.0, round(mg, 3), round(planned, 2)),)
        if not pieces:
            return None, "The infusion was paused before any of the dose ran: nothing to predict yet."
        given_mg = sum(p[1] for p in pieces)
        words += f" over {format_figure(planned)} min"
        if given is not None and abs(given_mg - mg) > 0.05:
            words += (f"; {format_figure(given_mg)} mg given so far" if paused
                      else f"; {format_figure(given_mg)} mg given before it stopped")
        if len(pieces) > 1:
            words += f", in {len(pieces)} stretches between pauses"
    else:
        pieces = ((0.0, round(mg, 3), None),)
        words += _device_words(models, route, mg)
    if given is None:
        words = f"the protocol's standard dose, not yet given: {words}"
    return TodaysDose(drug, route, mg, per_kg, weight, pieces, given is not None, started, words, paused,
                      planned), ""


# ---- the curves, once per dose -------------------------------------------------------------

def hours_for(elapsed_min: float | None) -> int:
    """The window: 4 hours, or to the next whole hour past now when the session runs longer."""
    if elapsed_min is None or not HOURS_SHOWN * 60 - 15 <= elapsed_min < (MAX_HOURS - 1) * 60:
        return HOURS_SHOWN  # a session of another day: its first hours, without a "now"
    return min(MAX_HOURS, int(elapsed_min // 60) + 2)


@lru_cache(maxsize=256)
def _curves(drug: str, route: str, pieces: tuple[Piece, ...], weight_kg: float,
            age_years: int | None, hours: int) -> Curves:
    """Every applicable model's typical curve for the regimen (cached: pure in its inputs)."""
    models, extrapolations = [], []
    minutes = None
    for defn in applicable_models(drug, route):
        result = pk.simulate(defn.id, weight_kg=weight_kg, hours=hours, step_min=STEP_MIN,
                             regimen=[pk.Dose(route, mg, start, duration)
                                      for start, mg, duration in pieces],
                             age_years=age_years, observed=False)
        minutes = result.times_h * 60
        models.append(ModelCurve(defn.id, model_label(defn.name, defn.citation), plain(defn.population),
                                 result.conc_ng_per_ml, result.cmax_ng_per_ml,
                                 result.tmax_h * 60))
        extrapolations += result.extrapolations
    if minutes is None:
        raise pk.PKInputError("route", f"no {drug} model has data for the route {route}")
    stack = np.stack([m.conc_ng_per_ml for m in models])
    low, high = stack.min(0), stack.max(0)
    return Curves(minutes, tuple(models), low, high, tuple(extrapolations),
                  _drawn(minutes, tuple(models), low, high))


def curves_for(dose: TodaysDose, age_years: int | None, elapsed_min: float | None) -> Curves:
    return _curves(dose.drug, dose.route, dose.pieces, round(dose.weight_kg, 1), age_years,
                   hours_for(elapsed_min))


# ---- what the page shows -------------------------------------------------------------------

@dataclass
class Predicted:
    dose: TodaysDose
    curves: Curves
    chart: Chart
    now_min: float | None
    now_low: float | None = None
    now_high: float | None = None

    @property
    def drug_words(self) -> str:
        label = DRUG_LABELS.get(self.dose.drug, self.dose.drug)
        return label[:1].lower() + label[1:]

    @property
    def model_names(self) -> str:
        names = [m.label for m in self.curves.models]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"

    @property
    def now_words(self) -> str:
        """'150-210 ng/mL' (the range across the models) at the present minute."""
        if self.now_low is None or self.now_high is None:
            return ""
        low, high = ng(self.now_low), ng(self.now_high)
        return f"{low} ng/mL" if low == high else f"{low}–{high} ng/mL"

    @property
    def several(self) -> bool:
        return len(self.curves.models) > 1

    @property
    def explorer_query(self) -> str:
        """The dose as the dose explorer's form takes it (its planned course: no pauses)."""
        dose = self.dose
        query = {"drug": dose.drug, "route": dose.route, "dose_unit": "mg",
                 "dose": f"{dose.dose_mg:g}", "weight_kg": f"{dose.weight_kg:g}",
                 "hours": str(HOURS_SHOWN), "compare_route": ""}
        if dose.planned_minutes is not None:
            query["duration_min"] = f"{dose.planned_minutes:.4g}"
        return urlencode(query)

    @property
    def peak_words(self) -> str:
        peaks = [m.cmax_ng_per_ml for m in self.curves.models]
        low, high = ng(min(peaks)), ng(max(peaks))
        return f"{low} ng/mL" if low == high else f"{low}–{high} ng/mL"


def _drawn(minutes: np.ndarray, models: tuple[ModelCurve, ...], low: np.ndarray,
           high: np.ndarray) -> Chart:
    """The models' curves and their range on the chart's axes (the same until the dose changes)."""
    desc = " ".join(f"{m.label}: peak {ng(m.cmax_ng_per_ml)} ng/mL at "
                    f"{m.tmax_min:.0f} min." for m in models)
    chart = Chart("pk-chart session-pk-chart", width=760, height=300,
                  margin=(46, 190, 24, 44), grid=True, id="session-pk",
                  title="Predicted plasma concentration of today's dose, by published model",
                  desc=desc)
    chart.value_y(0.0, max(float(high.max()), 1.0) * 1.1, count=5, clamp=True)
    end = float(minutes[-1])
    chart.value_x(0.0, end, count=8)
    step = 30 if end <= 6 * 60 else 120  # minutes: half-hours read at a glance, hours past six
    chart.x_ticks = [Tick(chart.x(m), f"{m:g}") for m in np.arange(0.0, end + 0.5, step)]
    chart.axis_titles(x_title="minutes since the dose started")
    chart.texts.append(Text(chart.left, chart.top - 8, "ng/mL"))
    if len(models) > 1:
        chart.area(minutes, high, low, "envelope", title="Range across the models")
    for i, model in enumerate(models):
        colour = PALETTE[i % len(PALETTE)]
        chart.line(minutes, model.conc_ng_per_ml, "curve", title=model.label, colour=colour,
                   key=f"pk-{model.id}")
        chart.legend_entry(model.label, colour)
    return chart


def chart_of(curves: Curves, now_min: float | None) -> Chart:
    """The drawn chart with a line at now (each poll: a copy of two short lists)."""
    chart = replace(curves.drawn, lines=list(curves.drawn.lines), texts=list(curves.drawn.texts))
    if now_min is not None and 0 <= now_min <= curves.minutes[-1]:
        x = chart.x(now_min)
        chart.lines.append(_now_line(x, chart))
        # inside the plot, beside the line: clear of the unit above the axis
        late = x > chart.right - 90
        chart.texts.append(Text(x - 5 if late else x + 5, chart.top + 14, f"now, {now_min:.0f} min",
                                "pk-now-label", "end" if late else "start"))
    return chart


def _now_line(x: float, chart: Chart) -> Line:
    return Line(f"{x:.1f},{chart.top:.1f} {x:.1f},{chart.bottom:.1f}", "pk-now",
                title="Now", key="now")


def predicted(protocol: core.Protocol, given: Administration | None,
              events: list[AdministrationEvent], weight_today: float | None,
              age_years: int | None, now: datetime, usual: float | None = None
              ) -> tuple[Predicted | None, str]:
    """The curve the page draws, or None and why not (in words)."""
    dose, missing = todays_dose(protocol, given, events, weight_today, usual)
    if dose is None:
        return None, missing
    now_min = _minutes(now, dose.started_at) if dose.started_at else None
    try:
        curves = curves_for(dose, age_years, now_min)
    except pk.PKInputError as exc:
        return None, f"The models cannot predict this dose: {exc}."
    result = Predicted(dose, curves, chart_of(curves, now_min), now_min)
    if now_min is not None and 0 <= now_min <= curves.minutes[-1]:
        result.now_low = float(np.interp(now_min, curves.minutes, curves.low))
        result.now_high = float(np.interp(now_min, curves.minutes, curves.high))
    return result, ""
