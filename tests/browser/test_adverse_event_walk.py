"""An adverse event in the browser: the nurse records a serious blood-pressure rise from the
dosing session, the prescriber is alerted, reviews it and judges causality, the nurse closes
it, and the safety listing counts it per 100 sessions (axe clean)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.treatment import actions
from tests.browser.helpers import axe_violations, describe, log_in, log_out
from tests.conftest import PASSWORD, make_user, new_patient
from tests.treatment.helpers import cleared, eligible_and_consented, minutes_ago

pytestmark = pytest.mark.browser


@pytest.fixture
def dosed(transactional_db):
    clinic = Clinic.objects.create(slug="clinic-a", name="Harbor Ketamine Clinic",
                                   time_zone="America/New_York")
    alice = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    nina = make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")
    make_user("adam", clinic, Role.ADMIN, "Adam", "Admin")
    ada = new_patient(clinic, alice, prescriber=alice)
    eligible_and_consented(ada, alice)
    session = cleared(ada, alice, nina, start=40)
    actions.record_administration(session, at=minutes_ago(30), by=nina, dose_mg_per_kg=0.5)
    return session


def test_a_serious_event_recorded_at_the_session_is_reviewed_by_the_prescriber_and_closed(
        page, console_errors, dosed, screenshot_dir):
    violations: dict[str, list[dict]] = {}
    log_in(page, "nina", PASSWORD)
    page.goto(f"/sessions/{dosed.pk}/")
    page.get_by_role("link", name="Record an adverse event").click()
    page.get_by_label("What happened").select_option(label="Hypertension (blood pressure rise)")
    page.get_by_label("Description").fill("BP 192/110 at 30 minutes; infusion paused")
    page.get_by_label("Severe").check()
    page.get_by_label("Grade (1 mild to 5 death)").select_option("3")
    page.get_by_label("Is another important medical event").check()
    page.get_by_label("Action taken with the drug").select_option(label="Infusion paused")
    violations["record"] = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "adverse-event-new.png", full_page=True)
    page.get_by_role("button", name="Record the event").click()
    expect(page.locator(".messages")).to_contain_text("the prescriber is alerted")
    expect(page.get_by_role("alert")).to_contain_text("Waiting for the prescriber's review")
    expect(page.get_by_role("button", name="Close the event")).to_be_disabled()
    log_out(page)

    log_in(page, "alice", PASSWORD)
    page.goto("/alerts/")
    expect(page.locator("body")).to_contain_text("Serious adverse event: Hypertension")
    page.get_by_role("link", name="review the event").first.click()
    page.get_by_label("Caused by the drug?").select_option(label="Related")
    page.get_by_label("Note (optional)").first.fill("Known effect of the infusion; settled after the pause")
    page.get_by_role("button", name="Record the review").click()
    expect(page.locator(".messages")).to_contain_text("Your review is recorded")
    expect(page.locator("#review-h + p")).to_contain_text("Related")
    violations["event, reviewed"] = axe_violations(page)
    log_out(page)

    log_in(page, "nina", PASSWORD)
    page.goto(f"/patients/{dosed.patient_id}/")
    page.get_by_role("link", name="Hypertension (blood pressure rise)").click()
    page.get_by_role("combobox", name="Outcome").select_option(label="Resolved")
    page.get_by_role("button", name="Close the event").click()
    expect(page.locator(".messages")).to_contain_text("The event is closed")
    page.screenshot(caret="initial", path=screenshot_dir / "adverse-event-closed.png", full_page=True)
    log_out(page)

    log_in(page, "adam", PASSWORD)
    page.goto("/adverse-events/")
    table = page.locator("table")
    expect(table).to_contain_text("IV infusion")
    expect(table).to_contain_text("100.0")  # 1 event in 1 session dosed
    violations["safety listing"] = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "safety-listing.png", full_page=True)
    assert all(not v for v in violations.values()), describe(violations)
    assert console_errors == []
