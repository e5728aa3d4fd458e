"""Properties of a linear system that must hold for any regimen (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kapclinic.clinical.pk import Dose, simulate

racemic = st.sampled_from(["domino", "clements", "hijazi", "herd", "kamp"])
route = st.sampled_from(["iv-bolus", "iv-infusion", "im", "oral", "sublingual", "intranasal"])
dose = st.floats(1.0, 90.0)
weight = st.floats(30.0, 150.0)
start = st.floats(0.0, 600.0)


def _dose(r, mg, t0=0.0):
    return Dose(r, mg, t0, 40.0 if r == "iv-infusion" else None)


@settings(max_examples=60, deadline=None)
@given(racemic, route, dose, weight, st.floats(0.1, 10.0))
def test_it_scales_concentrations_linearly_with_dose(model_id, r, mg, kg, factor):
    one = simulate(model_id, regimen=[_dose(r, mg)], weight_kg=kg, hours=12, step_min=5)
    scaled = simulate(model_id, regimen=[_dose(r, mg * factor)], weight_kg=kg, hours=12,
                      step_min=5)
    np.testing.assert_allclose(scaled.conc_ng_per_ml, factor * one.conc_ng_per_ml,
                               rtol=1e-9, atol=1e-12 * scaled.cmax_ng_per_ml)
    assert np.isclose(scaled.auc_inf_ng_h_per_ml, factor * one.auc_inf_ng_h_per_ml, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(racemic, route, route, dose, dose, start, weight)
def test_it_superposes_two_doses_as_the_sum_of_each(model_id, r1, r2, mg1, mg2, t2, kg):
    kw = {"weight_kg": kg, "hours": 24, "step_min": 5}
    both = simulate(model_id, regimen=[_dose(r1, mg1), _dose(r2, mg2, t2)], **kw)
    first = simulate(model_id, regimen=[_dose(r1, mg1)], **kw)
    second = simulate(model_id, regimen=[_dose(r2, mg2, t2)], **kw)
    np.testing.assert_allclose(both.conc_ng_per_ml,
                               first.conc_ng_per_ml + second.conc_ng_per_ml,
                               rtol=1e-9, atol=1e-12 * both.cmax_ng_per_ml)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["domino", "clements", "hijazi", "herd", "kamp",
                        "perez_ruixo_esketamine"]),
       st.sampled_from(["iv-bolus", "iv-infusion", "oral", "intranasal"]), dose, weight,
       st.floats(0.5, 48.0))
def test_it_never_goes_negative_and_auc_inf_is_at_least_the_window_auc(model_id, r, mg, kg,
                                                                       hours):
    result = simulate(model_id, regimen=[_dose(r, min(mg, 112.0))], weight_kg=kg, hours=hours)
    assert np.all(result.conc_ng_per_ml >= 0)
    assert result.auc_inf_ng_h_per_ml >= result.auc_ng_h_per_ml * (1 - 1e-12)
    assert result.cmax_ng_per_ml == result.conc_ng_per_ml.max()


@settings(max_examples=40, deadline=None)
@given(racemic, dose, weight)
def test_it_reports_more_time_above_a_lower_threshold(model_id, mg, kg):
    result = simulate(model_id, "iv-infusion", dose_mg=mg, weight_kg=kg, duration_min=40)
    low, high = sorted((result.cmax_ng_per_ml * 0.2, result.cmax_ng_per_ml * 0.6))
    assert result.time_above(low) >= result.time_above(high) > 0
    assert result.time_above(result.cmax_ng_per_ml * 2) == 0
