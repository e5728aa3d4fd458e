"""The shared scale and axis arithmetic every chart is drawn with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapclinic.clinical.charts import (
    LinearScale,
    TimeScale,
    format_percent,
    format_value,
    nice_domain,
    nice_step,
    ticks,
    time_ticks,
    value_axis,
)

NEW_YORK = ZoneInfo("America/New_York")
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(finite, finite)
def test_the_ticks_of_a_widened_axis_cover_the_whole_domain(a, b):
    low, high = min(a, b), max(a, b)
    domain, marks = value_axis(low, high, 5)
    slack = (marks[1].value - marks[0].value) * 1e-6  # a value a millionth of a step out reads as the tick
    assert marks[0].value <= low + slack and marks[-1].value >= high - slack
    assert domain == (marks[0].value, marks[-1].value)


@given(finite, finite)
def test_a_widened_axis_has_at_most_a_handful_of_ticks(a, b):
    _, marks = value_axis(min(a, b), max(a, b), 5)
    assert 2 <= len(marks) <= 7


@pytest.mark.parametrize(("span", "count", "step"), [
    (27, 6, 5), (27, 5, 10), (60, 6, 10), (1, 4, 0.25), (0.8, 4, 0.2), (264, 5, 100),
    (4, 8, 0.5), (24, 8, 5), (0.03, 3, 0.01)])
def test_the_step_is_one_two_two_and_a_half_or_five_times_a_power_of_ten(span, count, step):
    assert nice_step(span, count) == pytest.approx(step)


def test_a_single_value_domain_gets_an_axis_instead_of_dividing_by_zero():
    low, high, step = nice_domain(12, 12)
    assert low < 12 < high and step > 0
    assert nice_domain(0, 0)[:2] == (-1.0, 1.0)
    assert LinearScale((5.0, 5.0), (200.0, 10.0))(5.0) == 105.0


def test_a_scale_maps_the_domain_onto_the_range_even_when_the_range_runs_upwards():
    y = LinearScale((0.0, 27.0), (178.0, 12.0))
    assert (y(0), y(27), y(13.5)) == (178.0, 12.0, 95.0)


def test_a_clamped_scale_keeps_an_outlier_on_the_plot():
    y = LinearScale((0.0, 100.0), (300.0, 0.0), clamp=True)
    assert (y(250.0), y(-5.0)) == (0.0, 300.0)


def test_ticks_read_as_written_not_as_floating_point_sums():
    assert ticks(0, 1, 0.1) == [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert [format_value(v, 0.25) for v in ticks(0, 1, 0.25)] == ["0.00", "0.25", "0.50",
                                                                   "0.75", "1.00"]


def test_labels_carry_the_decimals_the_step_needs_and_never_minus_zero():
    assert format_value(20.0, 10) == "20"
    assert format_value(2.5, 2.5) == "2.5"
    assert format_value(-0.0001, 1) == "0"
    assert format_percent(0.5, 0.25) == "50%"


def test_a_questionnaire_axis_keeps_its_fixed_range_and_ticks_inside_it():
    domain, marks = value_axis(0, 27, 6, widen=False)
    assert domain == (0, 27)
    assert [m.label for m in marks] == ["0", "5", "10", "15", "20", "25"]


def test_a_time_axis_on_the_day_the_clocks_go_back_shows_one_oclock_twice_an_hour_apart():
    # 2025-11-02 in New York: 01:00-01:59 happens twice (EDT, then EST)
    start = datetime(2025, 11, 2, 0, 0, tzinfo=NEW_YORK)
    end = start.astimezone(UTC) + timedelta(hours=5)
    marks = time_ticks(start, end, NEW_YORK, count=6)
    assert [m.label for m in marks] == ["00:00", "01:00", "01:00", "02:00", "03:00", "04:00"]
    instants = [m.at.astimezone(UTC) for m in marks]
    assert all(b - a == timedelta(hours=1) for a, b in zip(instants, instants[1:], strict=False))


def test_a_time_axis_on_the_day_the_clocks_go_forward_skips_the_missing_hour():
    start = datetime(2025, 3, 9, 0, 0, tzinfo=NEW_YORK)
    end = start.astimezone(UTC) + timedelta(hours=4)
    labels = [m.label for m in time_ticks(start, end, NEW_YORK, count=6)]
    assert labels == ["00:00", "01:00", "03:00", "04:00", "05:00"]


def test_day_ticks_fall_on_local_midnights_and_a_dst_day_is_25_hours_wide():
    start = datetime(2025, 11, 1, 12, 0, tzinfo=NEW_YORK)
    end = datetime(2025, 11, 4, 12, 0, tzinfo=NEW_YORK)
    marks = time_ticks(start, end, NEW_YORK, count=6)
    assert [m.label for m in marks] == ["2025-11-02", "2025-11-03", "2025-11-04"]
    assert all((m.at.hour, m.at.minute) == (0, 0) for m in marks)
    scale = TimeScale(start, end, (0.0, 730.0))
    day = scale(marks[1].at) - scale(marks[0].at)
    assert day == pytest.approx(730.0 * 25 / 73)  # 25 of the 73 hours shown


def test_a_reading_taken_at_half_past_one_on_the_fall_back_night_is_placed_once_each_time():
    first = datetime(2025, 11, 2, 5, 30, tzinfo=UTC)   # 01:30 EDT
    second = datetime(2025, 11, 2, 6, 30, tzinfo=UTC)  # 01:30 EST, an hour later
    scale = TimeScale(first, second, (0.0, 100.0))
    assert (scale(first), scale(second)) == (0.0, 100.0)
    assert first.astimezone(NEW_YORK).strftime("%H:%M") == "01:30" == \
        second.astimezone(NEW_YORK).strftime("%H:%M")


def test_one_reading_alone_gets_a_minimum_span_instead_of_dividing_by_zero():
    when = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
    scale = TimeScale(when, when, (44.0, 510.0), min_span=timedelta(days=1))
    assert scale(when) == 44.0 and scale.last == when + timedelta(days=1)
    assert TimeScale(when, when, (0.0, 10.0))(when) == 5.0


def test_a_time_axis_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeScale(datetime(2025, 1, 1), datetime(2025, 1, 2, tzinfo=UTC), (0.0, 1.0))


def test_weeks_of_readings_are_ticked_on_mondays():
    start = datetime(2025, 1, 1, 9, 0, tzinfo=NEW_YORK)
    marks = time_ticks(start, start + timedelta(days=40), NEW_YORK, count=6)
    assert all(m.at.weekday() == 0 for m in marks) and len(marks) >= 4


def test_a_figure_is_written_to_one_decimal_without_a_trailing_zero():
    from kapclinic.clinical.charts import format_figure

    assert [format_figure(v) for v in (12, 12.5, 12.04, 99.96, -0.04)] == [
        "12", "12.5", "12", "100", "0"]
