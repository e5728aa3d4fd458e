"""Hypothesis properties of the per-patient summary (rules from clinical.md 2)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kapclinic.clinical.instruments import is_response
from kapclinic.clinical.outcomes import ScoreSeries, summarise

START = datetime(2025, 1, 6, 9, tzinfo=UTC)
RANGES = {"phq9": 27, "madrs": 60, "pcl5": 80, "qids_sr16": 27, "gad7": 21}


@st.composite
def trajectories(draw):
    instrument = draw(st.sampled_from(sorted(RANGES)))
    hours = draw(st.lists(st.integers(-24 * 20, 24 * 120), min_size=0, max_size=14, unique=True))
    totals = draw(st.lists(st.integers(0, RANGES[instrument]), min_size=len(hours), max_size=len(hours)))
    pairs = [(START + timedelta(hours=h), t) for h, t in zip(hours, totals, strict=True)]
    return ScoreSeries.from_pairs(instrument, pairs, episode_start=START)


@settings(max_examples=200, deadline=None)
@given(trajectories())
def test_summary_invariants_hold_for_any_trajectory_per_clinical_md_2(ser):
    s = summarise(ser)
    data = s.to_dict()
    assert data["instrument"] == ser.instrument_id
    if s.first_response_at is not None:
        # the first response really is a response by the instrument's rule, and the first one
        hit = next(p for p in ser.points if p.taken_at == s.first_response_at)
        assert is_response(ser.instrument_id, s.baseline.total, hit.total) is True
        earlier = [p for p in ser.points if s.baseline.taken_at < p.taken_at < s.first_response_at]
        assert not any(is_response(ser.instrument_id, s.baseline.total, p.total) for p in earlier)
        assert s.time_to_response_days is not None
    if s.relapsed is not None:
        assert s.durability_days is not None and s.durability_days >= 0
        assert s.durability_censored is (not s.relapsed)
    if s.relapse is not None:
        anchor = min(t for t in (s.first_response_at, s.first_remission_at) if t is not None)
        assert s.relapse.at > anchor
    if s.fading is not None:
        assert s.fading.regained_fraction >= 0 and s.fading.nadir <= s.fading.latest
    if s.latest is not None and s.baseline.total > 0:
        assert abs(s.reduction_pct - 100 * s.reduction_points / s.baseline.total) < 1e-9


@settings(max_examples=100, deadline=None)
@given(trajectories(), st.integers(0, 24 * 140))
def test_as_of_sees_only_the_past_so_later_scores_never_change_an_earlier_relapse(ser, cut_hours):
    as_of = START + timedelta(hours=cut_hours)
    early = summarise(ser, as_of=as_of)
    full = summarise(ser)
    if early.relapse is not None and early.relapse.criterion == "score":
        assert full.relapse is not None and full.relapse.at <= early.relapse.at
    if early.first_response_at is not None and early.baseline == full.baseline:
        assert full.first_response_at == early.first_response_at
