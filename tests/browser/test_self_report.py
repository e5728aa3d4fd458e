"""A self-report link sent by the clinician, answered by the patient on a phone with PHQ-9
item 9 positive: the crisis page at once, and the alert acknowledged by the clinician (issue 3)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.measures.models import Alert
from tests.browser.helpers import PHONE, axe_violations, describe, log_in, serve_axe
from tests.conftest import PASSWORD, make_user, new_patient
from tests.outbox import delivered

pytestmark = pytest.mark.browser


@pytest.fixture
def ada(transactional_db):
    clinic = Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York")
    nina = make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")
    return new_patient(clinic, nina, email="ada@example.org", phone="555-0100")


def test_a_phone_self_report_with_item_9_shows_crisis_help_and_alerts_the_team(
        page, browser, live_server, console_errors, ada, screenshot_dir):
    log_in(page, "nina", PASSWORD)
    page.goto(f"/patients/{ada.pk}/measures/")
    page.get_by_label("Instrument").select_option("phq9")
    page.get_by_role("button", name="Send a link now").click()
    expect(page.get_by_text("Questionnaire link sent.")).to_be_visible()

    body = delivered()[-1].body  # the patient's email (the outbox keeps no link token)
    link = re.search(r"https?://\S+/r/measure/\S+/", body).group(0)
    path = "/r/measure/" + link.split("/r/measure/", 1)[1]

    phone = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True,
                                has_touch=True)
    serve_axe(phone)
    patient = phone.new_page()
    try:
        patient.goto(path)
        expect(patient.get_by_role("heading", level=1)).to_contain_text("Patient Health Questionnaire")
        answers = {"1": "2", "2": "2", "3": "1", "4": "1", "5": "0", "6": "1", "7": "0", "8": "0",
                   "9": "1"}
        for item, value in answers.items():
            patient.locator(f"input[name='item_{item}'][value='{value}']").check()
        phone_violations = axe_violations(patient)
        patient.screenshot(caret="initial", path=screenshot_dir / "self-report-phone.png", full_page=True)
        patient.get_by_role("button", name="Send my answers").click()
        expect(patient.get_by_role("heading", level=1)).to_contain_text("Help is available now")
        expect(patient.locator(".crisis-text")).to_contain_text("988")
        patient.screenshot(caret="initial", path=screenshot_dir / "crisis-phone.png", full_page=True)
    finally:
        phone.close()

    page.goto("/alerts/")
    expect(page.locator(".nav-count")).to_have_text("1")
    card = page.locator(".alert-card").first
    expect(card).to_contain_text("Item 9")
    card.get_by_label("What you did").fill("Phoned Ada; safe, plan reviewed, seen tomorrow")
    page.screenshot(caret="initial", path=screenshot_dir / "alerts.png", full_page=True)
    card.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Alert acknowledged.")).to_be_visible()
    expect(page.get_by_text("No open alerts.")).to_be_visible()
    assert Alert.objects.get().acknowledged_at is not None

    page.goto(f"/patients/{ada.pk}/measures/")
    expect(page.locator(".dot.alerted circle")).to_have_count(1)  # the red point
    measures_violations = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "measures.png", full_page=True)
    violations = {"self-report (phone)": phone_violations, "measures": measures_violations}
    assert not any(violations.values()), describe(violations)
    assert console_errors == [], f"browser console errors: {console_errors}"
