"""Setting up two-factor login in the browser: the QR code renders under the strict CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from tests.browser.helpers import axe_violations, describe, log_in
from tests.conftest import PASSWORD, code_from_secret, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def required(transactional_db):
    clinic = Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York",
                                   require_mfa=True)
    return make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")


def test_a_nurse_sets_up_two_factor_when_her_clinic_requires_it(
        page, console_errors, required, live_server, screenshot_dir):
    log_in(page, "nina", PASSWORD)
    expect(page.get_by_role("heading", name="Two-factor login")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your clinic requires two-factor login")
    expect(page.locator(".qr svg")).to_be_visible()
    violations = {"enrol": axe_violations(page)}
    page.screenshot(caret="initial", path=screenshot_dir / "two-factor-enrol.png", full_page=True)
    page.get_by_label("Code from your authenticator app").fill("123456")
    page.get_by_role("button", name="Turn on two-factor login").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    page.wait_for_timeout(1100)  # django-otp waits a second after a wrong code
    secret = page.locator("code.secret").inner_text()
    page.get_by_label("Code from your authenticator app").fill(code_from_secret(secret))
    page.get_by_role("button", name="Turn on two-factor login").click()
    expect(page.locator(".messages")).to_contain_text("Two-factor login is on")
    expect(page.get_by_role("link", name="Patients")).to_be_visible()
    violations["after"] = axe_violations(page)
    assert not any(violations.values()), describe(violations)
    refused = [e for e in console_errors if "422 (Unprocessable Entity)" in e]
    assert len(refused) == 1 and len(console_errors) == 1, f"console errors: {console_errors}"


def test_an_admin_adds_a_nurse_and_gets_her_set_password_link(
        page, console_errors, transactional_db, live_server, screenshot_dir):
    clinic = Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York")
    make_user("ruth", clinic, Role.ADMIN, "Ruth", "Admin")
    log_in(page, "ruth", PASSWORD)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Users").click()
    page.get_by_label("Username").fill("rhea")
    page.get_by_label("First name").fill("Rhea")
    page.get_by_label("Last name").fill("Rivers")
    page.get_by_label("Role").select_option("nurse")
    page.get_by_role("button", name="Add").click()
    expect(page.locator(".messages")).to_contain_text("Set-password link for Rhea Rivers")
    expect(page.get_by_label("Role of Rhea Rivers")).to_have_value("nurse")
    violations = {"users": axe_violations(page)}
    page.screenshot(caret="initial", path=screenshot_dir / "users.png", full_page=True)
    assert not any(violations.values()), describe(violations)
    assert console_errors == [], f"browser console errors: {console_errors}"
