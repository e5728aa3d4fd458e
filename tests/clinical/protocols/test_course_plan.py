"""A course planned from a protocol's schedule: the label's esketamine calendar, the
repeated-infusion trials' Monday-Wednesday-Friday series, and the spacing rules kept."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapclinic.clinical import protocols
from kapclinic.clinical.protocols.course import plan_course, plan_doses, spacing_problem
from kapclinic.clinical.protocols.errors import ProtocolSettingError

MONDAY = date(2026, 12, 7)


def weekdays(doses):
    return [dose.on.strftime("%a") for dose in doses]


def test_esketamine_follows_the_label_twice_weekly_then_weekly_then_every_two_weeks():
    doses = plan_doses(protocols.resolve("intranasal_esketamine"), MONDAY, open_weeks=8)
    by_phase = {}
    for dose in doses:
        by_phase.setdefault(dose.phase, []).append(dose.on)
    assert len(by_phase["induction"]) == 8  # weeks 1-4, twice a week
    assert all(on < MONDAY + timedelta(weeks=4) for on in by_phase["induction"])
    assert [(on - MONDAY).days for on in by_phase["maintenance"]] == [28, 35, 42, 49]  # weeks 5-8
    continuation = by_phase["continuation"]
    gaps = {(b - a).days for a, b in zip(continuation, continuation[1:], strict=False)}
    assert gaps == {14}  # from week 9, every two weeks by default
    assert by_phase["continuation"][0] == MONDAY + timedelta(weeks=8)


def test_iv_induction_is_six_infusions_monday_wednesday_friday_over_twelve_days():
    doses = plan_doses(protocols.resolve("iv_racemic_ketamine"), MONDAY, open_weeks=8)
    induction = [dose for dose in doses if dose.phase == "induction"]
    assert weekdays(induction) == ["Mon", "Wed", "Fri"] * 2
    assert (induction[-1].on - induction[0].on).days == 11
    assert [dose.number for dose in doses] == list(range(1, len(doses) + 1))


def test_a_clinic_allowing_two_sessions_a_week_gets_its_six_infusions_over_three_weeks():
    protocol = protocols.resolve("iv_racemic_ketamine").configured(preset="kap_frequency")
    induction = [d.on for d in plan_doses(protocol, MONDAY, open_weeks=8) if d.phase == "induction"]
    assert len(induction) == 6
    assert all(sum(1 for other in induction if timedelta(0) <= other - day < timedelta(days=7)) <= 2
               for day in induction)


def test_every_dose_gets_an_integration_visit_and_the_course_one_preparation_before_it():
    plan = plan_course(protocols.resolve("iv_racemic_ketamine"), MONDAY, open_weeks=4,
                       preparation_days_before=7, integration_days_after=1)
    [preparation] = [t for t in plan.therapy if t.kind == "preparation"]
    assert preparation.on == MONDAY - timedelta(days=7)
    integration = {t.dose_number: t.on for t in plan.therapy if t.kind == "integration"}
    assert integration == {d.number: d.on + timedelta(days=1) for d in plan.doses}


def test_a_plan_reaching_beyond_a_year_is_refused_naming_the_setting():
    with pytest.raises(ProtocolSettingError) as exc:
        plan_doses(protocols.resolve("iv_racemic_ketamine"), MONDAY, open_weeks=53)
    assert exc.value.field == "open_weeks"


def test_a_dose_moved_too_close_to_another_is_named_with_the_protocols_gap():
    protocol = protocols.resolve("intranasal_esketamine")
    problem = spacing_problem(protocol, MONDAY + timedelta(days=1), [MONDAY])
    assert problem is not None and "at least 2 days between doses" in problem
    assert spacing_problem(protocol, MONDAY + timedelta(days=3), [MONDAY]) is None


def test_a_third_dose_in_seven_days_is_named_when_the_protocol_allows_two():
    protocol = protocols.resolve("intranasal_esketamine")
    problem = spacing_problem(protocol, MONDAY + timedelta(days=6), [MONDAY, MONDAY + timedelta(days=3)])
    assert problem is not None and "at most 2" in problem


@settings(max_examples=60, deadline=None)
@given(protocol_id=st.sampled_from(sorted(protocols.load_all())),
       start=st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)),
       open_weeks=st.integers(min_value=1, max_value=52))
def test_no_planned_course_ever_breaks_its_protocols_spacing(protocol_id, start, open_weeks):
    protocol = protocols.resolve(protocol_id)
    days = [dose.on for dose in plan_doses(protocol, start, open_weeks=open_weeks)]
    assert days == sorted(days) and days[0] == start
    for i, day in enumerate(days):
        assert spacing_problem(protocol, day, days[:i]) is None


def test_iv_maintenance_begins_one_maintenance_interval_after_the_sixth_infusion():
    doses = plan_doses(protocols.resolve("iv_racemic_ketamine"), MONDAY, open_weeks=12)
    last_induction = [d.on for d in doses if d.phase == "induction"][-1]
    maintenance = [d.on for d in doses if d.phase == "maintenance"]
    assert (maintenance[0] - last_induction).days == 28  # every 4 weeks by default
    within_12_days = [d for d in doses if (d.on - MONDAY).days < 15]
    assert len(within_12_days) == 6  # six infusions over 12 days, nothing squeezed after them
