"""Per patient-instrument outcomes: baseline, change, response, remission, relapse, durability.

Definitions (shared/reference/clinical.md section 2):
- percent change = (baseline - current) / baseline (encoding guidance [policy]); computed by
  ``kapclinic.clinical.instruments.percent_reduction``;
- response and remission: the instrument's own ``change_rules`` / ``remission`` in its
  definition file (PHQ-9 >= 50% and < 5; MADRS >= 50% and <= clinic setting; QIDS-SR16
  >= 50% [unverified] and <= 5; GAD-7 >= 50% and < 5 [unverified]; PCL-5 below the 31-33
  cut-off [policy], and a response rule only if the clinic sets one: the 5- and 10-point
  figures were DSM-IV PCL's, clinical.md 2 corrected 2026-11-30), applied by
  ``change_outcome`` and ``remission``;
- relapse: the SUSTAIN-1 row (MADRS >= 22 on 2 consecutive assessments 5-15 days apart,
  or hospitalisation / clinically relevant event), in ``outcomes.json``.
Everything else (how a baseline is picked, the relapse anchor, relief fading) is a clinic
setting: clinical.md is silent, so each is labelled as such in ``outcomes.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from kapclinic.clinical.instruments import (
    InstrumentDefinition,
    RuleOutcome,
    change_outcome,
    change_rule,
    get_instrument,
    percent_reduction,
    remission,
)
from kapclinic.clinical.instruments.definitions import ChangeRule

from .errors import OutcomeError, SeriesError
from .rules import OutcomeSettings, RelapseRule, load_rules
from .series import ClinicalEvent, ScorePoint, ScoreSeries, calendar_days_between, days_between

BASELINE_SOURCES = ("last_before_start", "first_after_start", "first_score")


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# --------------------------------------------------------------------------- baseline

@dataclass(frozen=True)
class Baseline:
    """The baseline score (instrument points) and how it was chosen.

    ``source``: ``last_before_start`` (last score in [start - window, start]),
    ``first_after_start`` (fallback) or ``first_score`` (no start given).
    """

    taken_at: datetime
    total: float
    source: str
    start: datetime | None
    rule_id: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"taken_at": self.taken_at.isoformat(), "total": self.total, "source": self.source,
                "start": _iso(self.start), "rule_id": self.rule_id}


def baseline_rule_id(window_days: float, fallback: str, anchor: str | None = None) -> str:
    """Rule id stored with a baseline, e.g. ``outcomes@1:baseline(anchor=episode,window_days=14,...)``."""
    parts = ([f"anchor={anchor}"] if anchor else []) + [f"window_days={window_days:g}",
                                                        f"fallback={fallback}"]
    return f"{load_rules().rules_version}:baseline({','.join(parts)})"


def baseline(series: ScoreSeries, start: datetime | None = None, *,
             window_days: float | None = None, fallback: str | None = None,
             anchor: str | None = None) -> Baseline | None:
    """Baseline score for a course or episode starting at ``start`` (aware datetime).

    Rule (clinic setting; clinical.md 2 only says "store baseline per treatment episode"
    and is silent on which score is the baseline): the last score taken on or before
    ``start`` and no more than ``window_days`` days before it (default
    ``baseline_window_days`` = 14); if there is none, the first score after ``start``
    (``fallback="first_after_start"``, default) or no baseline (``fallback="none"``).
    With no ``start``, the first score of the series. ``anchor`` only labels the rule id
    (``"episode"``/``"course"``). Returns None for an empty series or no usable score.
    """
    defaults = OutcomeSettings()
    if window_days is not None:
        defaults = replace(defaults, baseline_window_days=window_days)
    if fallback is not None:
        defaults = replace(defaults, baseline_fallback=fallback)
    window, fb = defaults.baseline_window_days, defaults.baseline_fallback
    rule_id = baseline_rule_id(window, fb, anchor)
    points = series.points
    if not points:
        return None
    if start is None:
        return Baseline(points[0].taken_at, points[0].total, "first_score", None, rule_id)
    if start.tzinfo is None or start.utcoffset() is None:
        raise SeriesError(f"start: {start.isoformat()} has no timezone (use an aware datetime)")
    earliest = start - timedelta(days=window)
    in_window = [p for p in points if earliest <= p.taken_at <= start]
    if in_window:
        p = in_window[-1]
        return Baseline(p.taken_at, p.total, "last_before_start", start, rule_id)
    if fb == "first_after_start":
        after = [p for p in points if p.taken_at > start]
        if after:
            return Baseline(after[0].taken_at, after[0].total, "first_after_start", start, rule_id)
    return None


def reduction_points(baseline_total: float, current_total: float) -> float:
    """Change from baseline in instrument points, positive = improvement: baseline - current.

    The point-based counterpart of clinical.md 2's % change = (baseline - current) /
    baseline (``percent_reduction``); a clinic's own response rule may be a point drop.
    """
    return float(baseline_total) - float(current_total)


# --------------------------------------------------------------- response and remission

def _definition(instrument_id: str,
                definitions: Mapping[str, InstrumentDefinition] | None) -> InstrumentDefinition:
    d = get_instrument(instrument_id, definitions)
    if d.total_range is None:
        raise OutcomeError(f"{d.id} has no total score: outcomes need a scored instrument")
    return d


def _has_response_rule(d: InstrumentDefinition, clinic_rule: ChangeRule | None = None) -> bool:
    return change_rule(d, "response", clinic_rule) is not None


def _first(series: ScoreSeries, base: Baseline, rule: Callable[[float], RuleOutcome]
           ) -> tuple[ScorePoint, RuleOutcome] | None:
    """The first score after ``base`` that meets ``rule``, with the rule's outcome."""
    for p in series.points:
        if p.taken_at > base.taken_at:
            outcome = rule(p.total)
            if outcome.met:
                return p, outcome
    return None


def first_response(series: ScoreSeries, base: Baseline, *,
                   clinic_rule: ChangeRule | None = None,
                   definitions: Mapping[str, InstrumentDefinition] | None = None
                   ) -> tuple[ScorePoint, RuleOutcome] | None:
    """The first score after ``base`` meeting the instrument's ``response`` change rule
    (clinical.md 2: e.g. >= 50% reduction for PHQ-9/MADRS; for PCL-5 only the clinic's own
    ``clinic_rule``), with the rule outcome; None if none does or there is no rule."""
    d = _definition(series.instrument_id, definitions)
    if not _has_response_rule(d, clinic_rule):
        return None
    return _first(series, base, lambda total: change_outcome(d.id, base.total, total,
                                                             clinic_rule=clinic_rule,
                                                             definitions=definitions))


def first_remission(series: ScoreSeries, base: Baseline, *,
                    instrument_settings: Mapping[str, int] | None = None,
                    definitions: Mapping[str, InstrumentDefinition] | None = None
                    ) -> tuple[ScorePoint, RuleOutcome] | None:
    """The first score after ``base`` meeting the instrument's remission rule (clinical.md 2:
    PHQ-9 < 5, MADRS <= ``remission_max`` setting, QIDS-SR16 <= 5, ...), with the outcome."""
    d = _definition(series.instrument_id, definitions)
    if d.remission is None:
        return None
    return _first(series, base, lambda total: remission(d.id, total, settings=instrument_settings,
                                                        definitions=definitions))


def time_to_first_response_days(series: ScoreSeries, base: Baseline, *,
                                clinic_rule: ChangeRule | None = None,
                                definitions: Mapping[str, InstrumentDefinition] | None = None
                                ) -> float | None:
    """Days (elapsed, float) from time zero to the first response (clinical.md 2 rule).

    Time zero is the baseline's ``start`` (course/episode start) when it has one, else the
    baseline score's time. None when there is no response.
    """
    hit = first_response(series, base, clinic_rule=clinic_rule, definitions=definitions)
    if hit is None:
        return None
    return days_between(base.start or base.taken_at, hit[0].taken_at)


# -------------------------------------------------------------------------- relapse

@dataclass(frozen=True)
class Relapse:
    """A relapse: when, by which criterion (``"score"`` or an event kind) and which rule."""

    at: datetime
    criterion: str
    rule_id: str
    run: tuple[ScorePoint, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"at": self.at.isoformat(), "criterion": self.criterion, "rule_id": self.rule_id,
                "run": [p.to_dict() for p in self.run]}


def _meets(op: str, total: float, threshold: float) -> bool:
    return total >= threshold if op == ">=" else total > threshold


def find_relapse(points: Sequence[ScorePoint], after: datetime, rule: RelapseRule,
                 events: Iterable[ClinicalEvent] = (), *,
                 relapse_date: str = "first_of_run") -> Relapse | None:
    """The first relapse strictly after ``after`` (the response/remission time) by ``rule``.

    Score criterion (clinical.md 2, SUSTAIN-1 row for MADRS): ``rule.consecutive``
    consecutive assessments (adjacent in ``points``, time-sorted) each ``rule.op``
    ``rule.threshold`` points, every adjacent pair ``min_spacing_days``-``max_spacing_days``
    calendar days apart inclusive (MADRS >= 22 on 2 assessments 5-15 days apart). A run
    whose spacing is out of range does not count. Its date is the run's first assessment
    (``relapse_date="first_of_run"``, default) or last (``"last_of_run"``): the row does
    not say which. Event criterion: any ``events`` of a kind in ``rule.event_kinds``;
    its date is the event's ``at`` (start of hospitalisation if hospitalised). The earlier
    of the two is the relapse; None if neither occurred.
    """
    if relapse_date not in ("first_of_run", "last_of_run"):
        raise OutcomeError(f"relapse_date {relapse_date!r} is not 'first_of_run' or 'last_of_run'")
    later = [p for p in sorted(points, key=lambda p: p.taken_at) if p.taken_at > after]
    found: Relapse | None = None
    k = rule.consecutive
    for i in range(len(later) - k + 1):
        run = later[i:i + k]
        if not all(_meets(rule.op, p.total, rule.threshold) for p in run):
            continue
        if rule.min_spacing_days is not None:
            gaps = [calendar_days_between(a.taken_at, b.taken_at) for a, b in zip(run, run[1:], strict=False)]
            assert rule.max_spacing_days is not None
            if not all(rule.min_spacing_days <= g <= rule.max_spacing_days for g in gaps):
                continue
        at = run[0].taken_at if relapse_date == "first_of_run" else run[-1].taken_at
        found = Relapse(at, "score", rule.rule_id, tuple(run))
        break
    for event in events:
        if event.kind in rule.event_kinds and event.at > after and (found is None or event.at < found.at):
            found = Relapse(event.at, event.kind, rule.rule_id)
    return found


# ------------------------------------------------------------------------ relief fading

@dataclass(frozen=True)
class Fading:
    """Relief fading after a response: ``regained_fraction`` = (latest - nadir) / (baseline -
    nadir), ``fading`` when it is at least ``fraction`` (clinic setting)."""

    fading: bool
    regained_fraction: float
    nadir: float
    latest: float
    fraction: float
    rule_id: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


def relief_fading(baseline_total: float, totals_since_response: Sequence[float], *,
                  fraction: float | None = None) -> Fading | None:
    """Has the score risen back toward baseline after a response? (booster candidate)

    ``totals_since_response``: instrument totals from the first response onward, in time
    order (the first is the response score). Nadir = the lowest of them, latest = the
    last. Fading when (latest - nadir) >= ``fraction`` x (baseline - nadir); ``fraction``
    defaults to the ``fading_fraction`` setting (0.5). clinical.md has no booster or
    fading rule (issue 3 asks for the list), so the rule and its default are a clinic
    setting. None when there are no totals or no improvement (baseline <= nadir).
    """
    defaults = OutcomeSettings()
    chosen = (defaults if fraction is None else replace(defaults, fading_fraction=fraction)).fading_fraction
    rule_id = f"{load_rules().rules_version}:relief_fading(fraction={chosen:g})"
    if not totals_since_response:
        return None
    nadir = float(min(totals_since_response))
    latest = float(totals_since_response[-1])
    improvement = float(baseline_total) - nadir
    if improvement <= 0:
        return None
    regained = (latest - nadir) / improvement
    # compare without division so e.g. 0.5 of an odd improvement is exact
    return Fading((latest - nadir) >= chosen * improvement, regained, nadir, latest, chosen, rule_id)


# ---------------------------------------------------------------- stable remission

@dataclass(frozen=True)
class StableRemission:
    """SUSTAIN-1 stable remission result (clinical.md 2): ``met`` None when undecidable."""

    met: bool | None
    rule_id: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


def stable_remission(weekly_totals: Mapping[int, float | None], *,
                     instrument_id: str = "madrs") -> StableRemission:
    """SUSTAIN-1 stable remission from weekly MADRS totals keyed by optimisation-phase week
    (registry numbering): MADRS <= 12 in at least 3 of the last 4 weeks, one excursion > 12
    or one missing assessment tolerated only at week 13 or 14 (clinical.md 2, Relapse
    (esketamine SUSTAIN-1) row; weeks 13-16 as "the last 4" is derived, see outcomes.json).
    A week absent from the mapping or None counts as missing.
    """
    rule = load_rules().stable_remission.get(instrument_id)
    if rule is None:
        raise OutcomeError(f"clinical.md 2 gives no stable-remission definition for {instrument_id}")
    misses: list[int] = []
    for week in rule.weeks:
        total = weekly_totals.get(week)
        ok = total is not None and (total <= rule.threshold if rule.op == "<=" else total < rule.threshold)
        if not ok:
            misses.append(week)
    if not misses:
        return StableRemission(True, rule.rule_id, "every week meets the threshold")
    if len(misses) <= rule.max_tolerated and set(misses) <= set(rule.tolerated_weeks):
        return StableRemission(True, rule.rule_id, f"tolerated excursion or missing week {misses}")
    return StableRemission(False, rule.rule_id, f"weeks {misses} exceed the threshold or are missing")


# ------------------------------------------------------------------------- summary

@dataclass(frozen=True)
class OutcomeSummary:
    """Everything the chart and dashboard need for one patient on one instrument.

    Units: totals in instrument points; ``reduction_pct`` in percent (clinical.md 2:
    (baseline - current) / baseline); ``*_days`` in elapsed days (float). ``rules`` maps
    each outcome to the rule version that produced it (e.g. ``"phq9@1:response"``);
    ``evidence`` gives the reference's tag for each; ``settings`` the settings used;
    ``notes`` say why an outcome is None.
    """

    instrument: str
    instrument_version: str
    n_scores: int
    baseline: Baseline | None
    latest: ScorePoint | None
    reduction_points: float | None
    reduction_pct: float | None
    response_now: bool | None
    remission_now: bool | None
    first_response_at: datetime | None
    time_to_response_days: float | None
    first_remission_at: datetime | None
    time_to_remission_days: float | None
    relapse: Relapse | None
    relapsed: bool | None
    durability_from: str | None
    durability_days: float | None
    durability_censored: bool | None
    fading: Fading | None
    relief_fading: bool | None
    rules: Mapping[str, str]
    evidence: Mapping[str, str]
    settings: Mapping[str, Any]
    as_of: datetime | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (ISO 8601 datetimes, nested dicts, lists)."""
        return {
            "instrument": self.instrument, "instrument_version": self.instrument_version,
            "n_scores": self.n_scores,
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
            "latest": None if self.latest is None else self.latest.to_dict(),
            "reduction_points": self.reduction_points, "reduction_pct": self.reduction_pct,
            "response_now": self.response_now, "remission_now": self.remission_now,
            "first_response_at": _iso(self.first_response_at),
            "time_to_response_days": self.time_to_response_days,
            "first_remission_at": _iso(self.first_remission_at),
            "time_to_remission_days": self.time_to_remission_days,
            "relapse": None if self.relapse is None else self.relapse.to_dict(),
            "relapsed": self.relapsed, "durability_from": self.durability_from,
            "durability_days": self.durability_days, "durability_censored": self.durability_censored,
            "fading": None if self.fading is None else self.fading.to_dict(),
            "relief_fading": self.relief_fading,
            "rules": dict(self.rules), "evidence": dict(self.evidence),
            "settings": dict(self.settings), "as_of": _iso(self.as_of), "notes": list(self.notes),
        }


def summarise(series: ScoreSeries, *, settings: OutcomeSettings | None = None,
              events: Iterable[ClinicalEvent] = (), as_of: datetime | None = None,
              definitions: Mapping[str, InstrumentDefinition] | None = None) -> OutcomeSummary:
    """Outcome summary for one patient on one instrument (all definitions clinical.md 2).

    Scores and events after ``as_of`` (aware datetime) are ignored; a patient without a
    relapse is censored at ``as_of`` or, without it, at the last score. Baseline per
    ``settings.baseline_anchor`` (episode or course start, see ``baseline``); response and
    remission by the instrument definition's rules; relapse by the reference rule for the
    instrument (MADRS: SUSTAIN-1) or the clinic's own (``settings.relapse_rules``), looked
    for after the first response/remission (``relapse_after``); durability = days from
    that anchor to relapse, or to censoring; relief fading per ``relief_fading``.
    """
    s = settings or OutcomeSettings()
    d = _definition(series.instrument_id, definitions)
    if as_of is not None and (as_of.tzinfo is None or as_of.utcoffset() is None):
        raise SeriesError(f"as_of: {as_of.isoformat()} has no timezone (use an aware datetime)")
    assert d.total_range is not None
    lo, hi = d.total_range
    for p in series.points:
        if not lo <= p.total <= hi:
            raise SeriesError(f"{d.id} total at {p.taken_at.isoformat()}: {p.total:g} is outside "
                              f"the total range {lo}-{hi}")
    if as_of is not None:
        series = ScoreSeries(series.instrument_id, tuple(p for p in series.points if p.taken_at <= as_of),
                             episode_start=series.episode_start, course_start=series.course_start)
    event_list = [e for e in events if as_of is None or e.at <= as_of]
    inst_settings = s.instrument_settings.get(d.id)
    notes: list[str] = []
    rules: dict[str, str] = {"outcomes": load_rules().rules_version}
    evidence: dict[str, str] = {}

    start = series.episode_start if s.baseline_anchor == "episode" else series.course_start
    if start is None and (series.episode_start or series.course_start) is not None:
        notes.append(f"no {s.baseline_anchor} start given: baseline is the first score")
    base = baseline(series, start, window_days=s.baseline_window_days, fallback=s.baseline_fallback,
                    anchor=s.baseline_anchor)
    rules["baseline"] = baseline_rule_id(s.baseline_window_days, s.baseline_fallback, s.baseline_anchor)

    clinic_rule = s.change_rules.get(d.id)
    has_response = _has_response_rule(d, clinic_rule)
    if has_response:
        probe = change_outcome(d.id, None, None, clinic_rule=clinic_rule, definitions=definitions)
        rules["response"], evidence["response"] = probe.rule_version, probe.evidence
    else:
        notes.append(f"No published response rule for {d.short_name} and the clinic has set "
                     "none (outcome settings)")
    if d.remission is not None:
        probe = remission(d.id, None, settings=inst_settings, definitions=definitions)
        rules["remission"], evidence["remission"] = probe.rule_version, probe.evidence
    else:
        notes.append(f"No published remission rule for {d.short_name}")
    relapse_rule = s.relapse_rule(d.id)
    if relapse_rule is not None:
        rules["relapse"], evidence["relapse"] = relapse_rule.rule_id, relapse_rule.evidence
    rules["relief_fading"] = f"{load_rules().rules_version}:relief_fading(fraction={s.fading_fraction:g})"
    evidence["relief_fading"] = "policy"
    evidence["baseline"] = "policy"

    def summary(**kw: Any) -> OutcomeSummary:
        fields_: dict[str, Any] = dict(
            latest=None, reduction_points=None, reduction_pct=None, response_now=None,
            remission_now=None, first_response_at=None, time_to_response_days=None,
            first_remission_at=None, time_to_remission_days=None, relapse=None, relapsed=None,
            durability_from=None, durability_days=None, durability_censored=None, fading=None,
            relief_fading=None)
        fields_.update(kw)
        return OutcomeSummary(d.id, d.version, len(series.points), base, rules=rules, evidence=evidence,
                              settings={**s.to_dict(), "instrument_settings_used": dict(inst_settings or {})},
                              as_of=as_of, notes=tuple(notes), **fields_)

    if base is None:
        notes.append("no baseline: no score in the baseline window and no usable fallback"
                     if series.points else "no scores")
        return summary()
    response_rule = change_rule(d, "response", clinic_rule)
    if base.total <= 0 and response_rule is not None and response_rule.kind == "percent_reduction":
        notes.append("baseline total is 0: percent change and response are undefined")
    if d.remission is not None and remission(d.id, base.total, settings=inst_settings,
                                             definitions=definitions).met:
        notes.append("baseline already meets the remission rule")

    follow = [p for p in series.points if p.taken_at > base.taken_at]
    if not follow:
        notes.append("no score after the baseline yet")
        return summary()
    latest = follow[-1]
    zero = base.start or base.taken_at
    out: dict[str, Any] = {"latest": latest,
                           "reduction_points": reduction_points(base.total, latest.total),
                           "reduction_pct": percent_reduction(base.total, latest.total)}
    if has_response:
        out["response_now"] = change_outcome(d.id, base.total, latest.total, clinic_rule=clinic_rule,
                                             definitions=definitions).met
    if d.remission is not None:
        out["remission_now"] = remission(d.id, latest.total, settings=inst_settings,
                                         definitions=definitions).met
    resp = first_response(series, base, clinic_rule=clinic_rule, definitions=definitions)
    rem = first_remission(series, base, instrument_settings=inst_settings, definitions=definitions)
    if resp is not None:
        out["first_response_at"] = resp[0].taken_at
        out["time_to_response_days"] = days_between(zero, resp[0].taken_at)
    if rem is not None:
        out["first_remission_at"] = rem[0].taken_at
        out["time_to_remission_days"] = days_between(zero, rem[0].taken_at)

    anchors = {"response": resp[0].taken_at if resp else None,
               "remission": rem[0].taken_at if rem else None}
    if s.relapse_after == "response_or_remission":
        present = [(t, k) for k, t in anchors.items() if t is not None]
        anchor = min(present, key=lambda a: (a[0], a[1] != "response")) if present else None
    else:
        t = anchors[s.relapse_after]
        anchor = (t, s.relapse_after) if t is not None else None
    if relapse_rule is None:
        notes.append(f"No published relapse definition for {d.short_name} and the clinic has set "
                     "none (outcome settings)")
    elif anchor is None:
        notes.append(f"not at risk of relapse: no {s.relapse_after.replace('_', ' ')} yet")
    else:
        anchor_at, anchor_kind = anchor
        found = find_relapse(follow, anchor_at, relapse_rule, event_list, relapse_date=s.relapse_date)
        censor_at = as_of if as_of is not None else latest.taken_at
        out["relapse"] = found
        out["relapsed"] = found is not None
        out["durability_from"] = anchor_kind
        out["durability_days"] = days_between(anchor_at, found.at if found else censor_at)
        out["durability_censored"] = found is None

    if resp is not None:
        since = [p.total for p in follow if p.taken_at >= resp[0].taken_at]
        fading = relief_fading(base.total, since, fraction=s.fading_fraction)
        out["fading"] = fading
        out["relief_fading"] = None if fading is None else fading.fading
    return summary(**out)
