"""Properties of evaluate() over generated intakes (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from screening_cases import AS_OF, TRIGGERS

from kapclinic.clinical.screening import evaluate, load_ruleset
from kapclinic.clinical.screening.definitions import ROUTES
from kapclinic.clinical.screening.schema import HISTORY_KEYS

RANK = {"eligible": 0, "eligible_with_cautions": 1, "needs_review": 2, "not_eligible": 3}
RULES = {r.id: r for r in load_ruleset().rules}
EXCLUDES = sorted(r for r in TRIGGERS if RULES[r].severity == "exclude")
MEDS = ["sertraline", "Xanax", "lamotrigine", "naltrexone", "OxyContin", "Adderall", "Nardil",
        "carbamazepine", "lithium", "Unknownium"]
CODES = ["F32.2", "F33.2", "F33.3", "F41.1", "F43.10", "F10.20", "M79.7"]


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value, null (unknown), or absent (the sentinel ABSENT)."""
    return st.one_of(strategy, st.none(), st.just(ABSENT))


ABSENT = object()


@st.composite
def intakes(draw: st.DrawFn) -> dict[str, Any]:
    sbp = draw(st.integers(70, 220))
    fields: dict[str, Any] = {
        "date_of_birth": draw(maybe(st.integers(0, 90 * 365).map(
            lambda d: (AS_OF - timedelta(days=d)).isoformat()))),
        "sex_at_birth": draw(maybe(st.sampled_from(["female", "male", "intersex", "unknown"]))),
        "weight_kg": draw(maybe(st.floats(30, 200))),
        "sbp_mmhg": draw(maybe(st.just(sbp))),
        "dbp_mmhg": draw(maybe(st.integers(30, min(sbp - 1, 130)))),
        "heart_rate_bpm": draw(maybe(st.integers(35, 160))),
        "spo2_pct": draw(maybe(st.integers(85, 100))),
        "diagnoses": draw(maybe(st.lists(st.sampled_from(CODES), max_size=3, unique=True))),
        "adequate_antidepressant_trials": draw(maybe(st.integers(0, 6))),
        "history": draw(maybe(st.fixed_dictionaries(
            {}, optional={k: st.one_of(st.booleans(), st.none()) for k in HISTORY_KEYS}))),
        "pregnant": draw(maybe(st.booleans())),
        "breastfeeding": draw(maybe(st.booleans())),
        "medications": draw(maybe(st.lists(st.sampled_from(MEDS), max_size=4, unique=True))),
        "hypersensitivities": draw(maybe(st.lists(st.sampled_from(["ketamine", "penicillin"]), max_size=2,
                                                  unique=True))),
        "audit_total": draw(maybe(st.integers(0, 40))),
    }
    return {k: v for k, v in fields.items() if v is not ABSENT}


def merged(data: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for key, value in patch.items():
        if key == "history":
            out["history"] = {**(data.get("history") or {}), **value}
        else:
            out[key] = value
    if "sbp_mmhg" in patch or "dbp_mmhg" in patch:
        sbp, dbp = out.get("sbp_mmhg"), out.get("dbp_mmhg")
        if sbp is not None and dbp is not None and dbp >= sbp:
            out["sbp_mmhg" if "dbp_mmhg" in patch else "dbp_mmhg"] = None
    return out


drugs = st.sampled_from(["ketamine", "esketamine"])
routes = st.one_of(st.none(), st.sampled_from(ROUTES))


@settings(max_examples=100, deadline=None)
@given(intakes(), drugs, routes, st.randoms(use_true_random=False))
def test_evaluation_is_deterministic_and_independent_of_key_order(data, drug, route, rnd):
    first = evaluate(data, drug, route, as_of=AS_OF)
    keys = list(data)
    rnd.shuffle(keys)
    shuffled = {k: data[k] for k in keys}
    if isinstance(data.get("history"), dict):
        hkeys = list(data["history"])
        rnd.shuffle(hkeys)
        shuffled["history"] = {k: data["history"][k] for k in hkeys}
    assert evaluate(shuffled, drug, route, as_of=AS_OF) == first
    assert evaluate(data, drug, route, as_of=AS_OF).to_dict() == first.to_dict()


@settings(max_examples=100, deadline=None)
@given(intakes(), st.sampled_from(EXCLUDES))
def test_adding_an_exclude_rules_trigger_always_makes_the_patient_not_eligible(data, rule_id):
    drug, route, patch = TRIGGERS[rule_id]
    decision = evaluate(merged(data, patch), drug, route, as_of=AS_OF)
    assert decision.status == "not_eligible"
    assert rule_id in {r.id for r in decision.rules}


@settings(max_examples=150, deadline=None)
@given(intakes(), st.sampled_from(sorted(TRIGGERS)))
def test_adding_a_rules_trigger_fires_it_and_never_makes_the_status_less_severe(data, rule_id):
    drug, route, patch = TRIGGERS[rule_id]
    before = evaluate(data, drug, route, as_of=AS_OF)
    after = evaluate(merged(data, patch), drug, route, as_of=AS_OF)
    assert rule_id in {r.id for r in after.rules}
    severity_floor = {"exclude": "not_eligible", "review": "needs_review",
                      "caution": "eligible_with_cautions"}[RULES[rule_id].severity]
    assert RANK[after.status] >= RANK[severity_floor]
    # Patches that only add a positive finding (not ones that replace a value) cannot lower the status.
    if set(patch) <= {"history", "pregnant", "breastfeeding"}:
        assert RANK[after.status] >= RANK[before.status]


@settings(max_examples=100, deadline=None)
@given(intakes(), drugs, routes)
def test_a_missing_input_never_yields_eligible(data, drug, route):
    decision = evaluate(data, drug, route, as_of=AS_OF)
    if decision.missing:
        assert decision.status in ("needs_review", "not_eligible")
    assert decision.status == _expected_status(decision)


def _expected_status(decision) -> str:
    severities = {r.severity for r in decision.rules}
    if "exclude" in severities:
        return "not_eligible"
    if "review" in severities or decision.missing:
        return "needs_review"
    return "eligible_with_cautions" if severities else "eligible"


def test_the_evaluation_date_is_an_input_so_results_do_not_depend_on_the_clock():
    data = {"date_of_birth": "2008-06-02"}
    assert evaluate(data, as_of=date(2026, 6, 1)).age_years == 17
    assert evaluate(data, as_of=date(2026, 6, 2)).age_years == 18
