"""The chart's bar for when a peak was observed is the spread the model check compares with."""

from dataclasses import replace

from kapclinic.clinical import pk
from kapclinic.clinical.pk.checks import ObservedCheck
from kapclinic.clinical.pk.observations import observations
from kapclinic.explorer.chart import envelope_svg


def test_a_peak_reported_with_a_range_and_an_sd_is_drawn_with_the_spread_the_check_uses():
    # Rolan 2014 reports a range (15-60 min); give it an SD too, as a future entry might
    rolan = replace(observations()["sl_2014_rolan_25_mg_tmax"], cmax_ng_per_ml=30.0,
                    tmax_sd_min=5.0)
    envelope = pk.envelope("ketamine", "sublingual", hours=4, step_min=1.0, dose_mg=25,
                           weight_kg=70)
    chart = envelope_svg(envelope, [], {}, [rolan])
    point = chart.markers[0]
    x_lo, x_hi = point.x_bar
    check = ObservedCheck("any model", rolan, 30.0, 0.75)
    low, high = check.observed_tmax_spread_min or (None, None)
    width_per_min = (point.x - x_lo) / (rolan.tmax_min - low)
    assert abs((x_hi - point.x) - width_per_min * (high - rolan.tmax_min)) < 1e-6
    assert (low, high) == (15.0, 60.0)
