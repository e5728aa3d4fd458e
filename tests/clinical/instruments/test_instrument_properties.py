"""Properties that hold for every shipped instrument, whatever the answers."""

import gc
import json
import weakref

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kapclinic.clinical.instruments import NotAskedError, score, score_definition, scoring
from kapclinic.clinical.instruments.conditions import Env
from kapclinic.clinical.instruments.definitions import DEFINITIONS_DIR, load_all, parse_definition

DEFINITIONS = load_all()
ALL = sorted(DEFINITIONS)
TOTALLED = sorted(k for k, d in DEFINITIONS.items() if d.total_range is not None)
BANDED = sorted(k for k, d in DEFINITIONS.items() if d.severity is not None)
PARTITIONED = sorted(k for k, d in DEFINITIONS.items() if d.subscales_partition_total)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _not_asked(d, answers):
    """Blank items the instrument's own skip rules would not ask (C-SSRS 3-5 and 6b; AUDIT
    2-8 after item 1 = 0 and 4-8 after items 2 + 3 = 0), as a form following them would."""
    out = dict(answers)
    for item in d.items:
        for ew in item.enable_when:
            if out.get(ew.item) is None or out[ew.item] != ew.value:
                out[item.link_id] = None
    values = {k: v for k, v in out.items() if v is not None}
    env = Env(values, frozenset(), {i.link_id: i.values for i in d.items}, {}, {}, {})
    for skip in d.scoring.missing.skip_rules:
        if skip.when.evaluate(env) is True:
            out.update(dict.fromkeys(skip.may_skip))
            values = {k: v for k, v in out.items() if v is not None}
            env = Env(values, frozenset(), env.candidates, {}, {}, {})
    return out


@st.composite
def complete_answers(draw, instrument_id):
    d = DEFINITIONS[instrument_id]
    answers = {i.link_id: draw(st.sampled_from(i.values)) for i in d.items}
    return _not_asked(d, answers)


@st.composite
def answers_with_gaps(draw, instrument_id):
    complete = draw(complete_answers(instrument_id))
    dropped = draw(st.sets(st.sampled_from(sorted(complete))))
    return complete, {k: (None if k in dropped else v) for k, v in complete.items()}


@pytest.mark.parametrize("instrument_id", TOTALLED)
@FAST
@given(data=st.data(), prorate=st.booleans())
def test_totals_stay_within_the_instrument_range(instrument_id, data, prorate):
    _, answers = data.draw(answers_with_gaps(instrument_id))
    result = score(instrument_id, answers, prorate=prorate)
    lo, hi = DEFINITIONS[instrument_id].total_range
    assert result.total is None or lo <= result.total <= hi
    assert (result.total is None) == (result.missing.withheld is not None)
    # a total is always a whole number; a prorated one keeps its unrounded value beside it
    assert result.total is None or isinstance(result.total, int)
    assert result.prorated is (result.missing.unrounded_total is not None)
    if result.prorated:
        assert abs(result.total - result.missing.unrounded_total) <= 0.5


@pytest.mark.parametrize("instrument_id", BANDED)
def test_severity_bands_partition_the_range_with_no_gap_or_overlap(instrument_id):
    d = DEFINITIONS[instrument_id]
    lo, hi = d.total_range
    for total in range(lo, hi + 1):
        containing = [b for b in d.severity.bands if b.min <= total <= b.max]
        assert len(containing) == 1, (instrument_id, total, containing)
        assert d.severity.band_for(total) is containing[0]


@pytest.mark.parametrize("instrument_id", BANDED)
@FAST
@given(fraction=st.floats(min_value=0, max_value=1))
def test_a_fractional_total_belongs_to_the_band_whose_cut_point_it_has_reached(instrument_id, fraction):
    d = DEFINITIONS[instrument_id]
    lo, hi = d.total_range
    total = lo + (hi - lo) * fraction
    band = d.severity.band_for(total)
    later = [b for b in d.severity.bands if b.min > band.min]
    assert band.min <= total and all(total < b.min for b in later)


@pytest.mark.parametrize("instrument_id", ALL)
@FAST
@given(data=st.data())
def test_a_score_never_changes_when_answers_are_reordered_in_the_input(instrument_id, data):
    _, answers = data.draw(answers_with_gaps(instrument_id))
    shuffled = data.draw(st.permutations(list(answers.items())))
    assert score(instrument_id, dict(shuffled)) == score(instrument_id, answers)


@pytest.mark.parametrize("instrument_id", PARTITIONED)
@FAST
@given(data=st.data())
def test_subscales_add_up_to_the_total_where_they_partition_the_items(instrument_id, data):
    result = score(instrument_id, data.draw(complete_answers(instrument_id)))
    assert sum(result.subscales.values()) == result.total


@pytest.mark.parametrize("instrument_id", ALL)
@FAST
@given(data=st.data())
def test_a_verdict_reached_with_answers_missing_holds_once_they_are_filled_in(instrument_id, data):
    complete, partial = data.draw(answers_with_gaps(instrument_id))
    full, gappy = score(instrument_id, complete), score(instrument_id, partial)
    assert set(gappy.flags) <= set(full.flags)
    assert set(full.flags) <= set(gappy.flags) | set(gappy.undetermined_flags)
    for key, verdict in gappy.findings.items():
        assert verdict is None or verdict == full.findings[key]
    if gappy.severity is not None and DEFINITIONS[instrument_id].scoring.kind == "triage":
        assert gappy.severity == full.severity


@pytest.mark.parametrize("instrument_id", ALL)
@FAST
@given(data=st.data())
def test_each_rule_compiled_to_source_agrees_with_its_three_valued_verdict(instrument_id, data):
    d = DEFINITIONS[instrument_id]
    answers = {k: v for k, v in data.draw(complete_answers(instrument_id)).items() if v is not None}
    sex = data.draw(st.sampled_from(["female", "male"]))
    result = score(instrument_id, answers, sex=sex)
    scores = {"total": result.total, **result.subscales}
    na = frozenset(i for i in d.item_ids if i not in answers)
    env = Env(answers, na, {i.link_id: i.values for i in d.items}, scores, result.settings, {"sex": sex})
    rules = [*d.alerts, *d.findings]
    for rule in rules:
        slow = rule.when.evaluate(env)
        if not na & rule.when.items():
            names = {"v": answers, "s": scores, "c": {"sex": sex}}
            assert slow == eval(rule.when.source(result.settings), {}, names)  # noqa: S307
    assert [a.id for a in d.alerts if a.when.evaluate(env)] == list(result.flags)


@FAST
@given(data=st.data())
def test_phq9_flags_suicidal_ideation_exactly_when_item_9_is_1_or_more(data):
    answers = data.draw(complete_answers("phq9"))
    assert ("suicidal_ideation" in score("phq9", answers).flags) is (answers["9"] >= 1)


@FAST
@given(data=st.data())
def test_qids_sr16_total_never_exceeds_the_plain_sum_of_its_items(data):
    answers = data.draw(complete_answers("qids_sr16"))
    assert score("qids_sr16", answers).total <= sum(answers.values())


@st.composite
def answer_mappings(draw, instrument_id):
    """Any answers a caller might send: complete, with items left out (absent or None),
    and with each item's every value, 'not rated' options included."""
    d = DEFINITIONS[instrument_id]
    answers = {}
    for item in d.items:
        shape = draw(st.sampled_from(("answered", "answered", "answered", "absent", "none")))
        if shape == "answered":
            answers[item.link_id] = draw(st.sampled_from(item.all_values))
        elif shape == "none":
            answers[item.link_id] = None
    return answers


@pytest.mark.parametrize("instrument_id", ALL)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), prorate=st.booleans(),
       sex=st.sampled_from((None, "female", "male")))
def test_the_compiled_scorer_agrees_with_the_general_scorer(instrument_id, data, prorate, sex):
    d = DEFINITIONS[instrument_id]
    answers = data.draw(st.one_of(complete_answers(instrument_id),
                                  answer_mappings(instrument_id)))
    chosen = {name: data.draw(st.sampled_from(spec.allowed)) for name, spec in d.settings.items()}
    rule = d.scoring.missing.prorate
    rounding = data.draw(st.sampled_from((None, *rule.rounding.allowed))) if rule else None
    plan = scoring._plan(d)
    merged = scoring._settings(d, plan, chosen)
    try:
        general = scoring._score_general(d, plan, merged, answers, prorate, sex,
                                         scoring.chosen_rounding(d, rounding))
    except NotAskedError as refused:
        # an answer to a question the skip rules did not ask: both paths refuse it
        with pytest.raises(NotAskedError) as also:
            score_definition(d, answers, prorate=prorate, settings=chosen, sex=sex,
                             rounding=rounding)
        assert str(also.value) == str(refused)
        return
    assert score_definition(d, answers, prorate=prorate, settings=chosen, sex=sex,
                            rounding=rounding) == general


def test_the_compiled_scorer_takes_a_complete_phq9_and_leaves_gaps_to_the_general_one():
    d = DEFINITIONS["phq9"]
    scorer = scoring._plan(d).scorer_for(d, {})
    complete = {str(i): 2 for i in range(1, 10)}
    result = scorer(complete, None)
    assert result.total == 18 and result.severity == "moderately_severe"
    assert result.flags == ("suicidal_ideation",)
    assert result.findings == {"major_depressive_syndrome": True,
                               "other_depressive_syndrome": False}
    assert result.missing.optional_unanswered == ("10",)
    assert scorer({**complete, "9": None}, None) is None
    assert scorer({**complete, "9": 4}, None) is None
    assert scorer({**complete, "11": 0}, None) is None


def test_a_group_member_that_is_not_scored_may_be_left_blank_on_the_compiled_path():
    data = json.loads((DEFINITIONS_DIR / "qids_sr16.json").read_text(encoding="utf-8"))
    next(i for i in data["items"] if i["link_id"] == "1")["scored"] = False
    d = parse_definition(data, "qids_sr16.json")
    answers = {i.link_id: 1 for i in d.items if i.link_id != "1"}
    plan = scoring._plan(d)
    general = scoring._score_general(d, plan, plan.defaults, answers, False, None)
    assert score_definition(d, answers) == general and general.total is not None


def test_a_definition_no_longer_used_is_freed_with_its_compiled_scorer():
    data = json.loads((DEFINITIONS_DIR / "phq9.json").read_text(encoding="utf-8"))
    d = parse_definition(data, "phq9.json")
    assert score_definition(d, {str(i): 1 for i in range(1, 10)}).total == 9
    gone = weakref.ref(d)
    del d
    gc.collect()
    assert gone() is None
