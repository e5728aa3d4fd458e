"""The course page and the session page's earlier doses read on a phone (375 px wide): no
sideways scrolling of the page, and each table row laid out as a block of labelled lines
rather than a table to scroll inside its box. Also the calendar's day view and the nasal
dose form, looked at on the phone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.treatment import actions, course_actions
from tests.browser.helpers import axe_violations, describe, log_in
from tests.conftest import PASSWORD, make_user, new_patient
from tests.treatment.helpers import CALM, LATE, checklist_done, eligible_and_consented, step

pytestmark = pytest.mark.browser

PHONE_375 = {"width": 375, "height": 812}  # the narrowest phone in common use, CSS pixels
# a table's box: what it holds and what it shows (wider: the reader scrolls inside it)
INNER_WIDTH = ("(t) => { const w = document.querySelector(t).closest('.table-wrap'); "
               "return [w.scrollWidth, w.clientWidth]; }")


def ago(minutes: float):
    return timezone.now() - timedelta(minutes=minutes)


@pytest.fixture
def clinic_day(transactional_db):
    """Ada: an IV course (its first infusion given 20 hours ago, its chair double-booked next
    week by Grace) and a session booked for now, with that earlier dose beside it."""
    clinic = Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York")
    alice = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    nina = make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")
    ada = new_patient(clinic, alice, prescriber=alice)
    grace = new_patient(clinic, alice, mrn="A-0002", given_name="Grace", family_name="Hopper-Montgomery")
    eligible_and_consented(ada, alice)
    course = course_actions.plan_course(patient=ada, protocol="iv_racemic_ketamine",
                                        first_dose_at=ago(60 * 20), room="Infusion suite 2",
                                        chair="Recliner B", clinician=alice, by=alice)
    first = course.sessions.order_by("scheduled_at").first()
    step(first, "checked_in", ago(60 * 20 - 2), nina, late_reason=LATE)
    checklist_done(first, nina, at=ago(60 * 20 - 4), late_reason=LATE)
    actions.record_vitals(first, observed_at=ago(60 * 20 - 5), values=CALM, by=nina, late_reason=LATE)
    step(first, "cleared", ago(60 * 20 - 6), nina, late_reason=LATE)
    step(first, "dosing", ago(60 * 20 - 8), nina, late_reason=LATE,
         administration={"dose_mg_per_kg": 0.5, "lot": "KET-2291", "rate_mg_per_min": 0.9})
    step(first, "monitoring", ago(60 * 20 - 48), nina, late_reason=LATE)
    step(first, "stopped", ago(60 * 20 - 60), nina, late_reason=LATE,
         reason="Went home with a carer after nausea")
    later = course.sessions.order_by("scheduled_at")[3]
    actions.schedule_session(patient=grace, protocol="intranasal_esketamine",
                             scheduled_at=later.scheduled_at + timedelta(minutes=30),
                             room="Infusion suite 2", chair="Recliner B", by=alice)
    today = actions.schedule_session(patient=ada, protocol="iv_racemic_ketamine", scheduled_at=ago(20),
                                     room="Infusion suite 2", chair="Recliner A", by=alice)
    return course, today


def test_the_course_page_and_the_earlier_doses_fit_a_375_px_phone(
        page, live_server, console_errors, clinic_day, screenshot_dir):
    course, today = clinic_day
    page.set_viewport_size(PHONE_375)
    log_in(page, "alice", PASSWORD)
    too_wide, violations = {}, {}
    paths = {"course": f"/patients/{course.patient_id}/courses/{course.pk}/",
             "session": f"/sessions/{today.pk}/",
             "calendar": f"/calendar/?view=day&by=room&date={today.scheduled_at.date().isoformat()}"}
    for name, path in paths.items():
        page.goto(path)
        if name == "course":
            expect(page.locator(".course-plan")).to_contain_text("Double-booked")
            page.locator(".clash-note").first.scroll_into_view_if_needed()
            page.screenshot(caret="initial", path=screenshot_dir / "phone375-course-double-booked.png")
            page.evaluate("window.scrollTo(0, 0)")
        if name == "session":
            expect(page.locator(".dose-history")).to_contain_text("Drug and route")
        page.screenshot(caret="initial", path=screenshot_dir / f"phone375-{name}.png", full_page=True)
        page.screenshot(caret="initial", path=screenshot_dir / f"phone375-{name}-top.png")
        width = page.evaluate("document.scrollingElement.scrollWidth")
        if width > PHONE_375["width"]:
            too_wide[name] = width
        for table in (".course-plan", ".dose-history"):
            if page.locator(table).count():
                inner = page.evaluate(INNER_WIDTH, table)
                page.locator(table).scroll_into_view_if_needed()
                page.screenshot(caret="initial", path=screenshot_dir / f"phone375-{name}-{table[1:]}.png")
                if inner[0] > inner[1] + 1:
                    too_wide[f"{name} {table}"] = inner
        violations[name] = axe_violations(page)
    assert not too_wide, f"wider than the phone: {too_wide}"
    assert not any(violations.values()), describe(violations)


@pytest.fixture
def nasal_and_tomorrow(transactional_db):
    """Ada cleared for esketamine (the dose form shows), and Grace booked for tomorrow."""
    from tests.treatment.helpers import ESKETAMINE, cleared

    clinic = Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York")
    alice = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    nina = make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")
    ada = new_patient(clinic, alice, prescriber=alice)
    grace = new_patient(clinic, alice, mrn="A-0002", given_name="Grace", family_name="Hopper")
    eligible_and_consented(ada, alice, drug="esketamine", route="intranasal")
    ready = cleared(ada, alice, nina, ESKETAMINE, start=10)
    tomorrow = actions.schedule_session(patient=grace, protocol="iv_racemic_ketamine",
                                        scheduled_at=ago(-60 * 24), room="Room 1", chair="A", by=alice)
    return ready, tomorrow


def test_the_nasal_dose_form_and_the_other_day_warning_fit_a_phone_and_a_tablet(
        page, live_server, console_errors, nasal_and_tomorrow, screenshot_dir):
    ready, tomorrow = nasal_and_tomorrow
    log_in(page, "nina", PASSWORD)
    too_wide, violations = {}, {}
    for device, viewport in (("phone375", PHONE_375), ("tablet", {"width": 820, "height": 1180})):
        page.set_viewport_size(viewport)
        page.goto(f"/sessions/{ready.pk}/")
        dose = page.get_by_role("group", name="Dose (mg)")
        expect(dose).to_contain_text("56 mg · 2 devices")
        expect(page.get_by_label("Rate (mg/min)")).to_have_count(0)
        dose.scroll_into_view_if_needed()
        page.screenshot(caret="initial", path=screenshot_dir / f"{device}-nasal-dose-form.png")
        if page.evaluate("document.scrollingElement.scrollWidth") > viewport["width"]:
            too_wide[f"{device} dose form"] = page.evaluate("document.scrollingElement.scrollWidth")
        violations[f"{device} dose form"] = axe_violations(page)
        page.goto(f"/sessions/{tomorrow.pk}/")
        warning = page.locator(".other-day")
        expect(warning).to_contain_text("not today")
        warning.scroll_into_view_if_needed()
        page.screenshot(caret="initial", path=screenshot_dir / f"{device}-check-in-other-day.png")
        if page.evaluate("document.scrollingElement.scrollWidth") > viewport["width"]:
            too_wide[f"{device} other day"] = page.evaluate("document.scrollingElement.scrollWidth")
        violations[f"{device} other day"] = axe_violations(page)
    assert not too_wide, f"wider than the screen: {too_wide}"
    assert not any(violations.values()), describe(violations)
    # the nurse checks Grace in today on purpose, with the reason
    page.get_by_label("Why check in today").fill("Came a day early; the prescriber agreed")
    page.get_by_role("button", name="Check in today anyway").click()
    expect(page.locator(".messages")).to_contain_text("checked in")
    assert not console_errors
