"""A prescriber's day in a real browser: log in, find a patient, open the chart, and check
that these pages stay usable with a screen reader or keyboard (axe-core, WCAG rules).

Data is created through the app's own code; the browser only ever goes through the UI.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.patients import actions
from tests.browser.helpers import axe_violations, describe, log_in
from tests.conftest import PASSWORD, make_user, new_patient

pytestmark = pytest.mark.browser

GENERIC_LOGIN_ERROR = "That username and password do not match an account. Try again."


@pytest.fixture
def registry(transactional_db):
    """Clinic A, its prescriber Alice, and four patients; returns (prescriber, patients by MRN)."""
    clinic = Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York")
    alice = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    patients = {p.mrn: p for p in [
        new_patient(clinic, alice, prescriber=alice),
        new_patient(clinic, alice, mrn="A-0002", given_name="Grace", family_name="Hopper",
                    date_of_birth=date(1976, 12, 9), status="eligible", prescriber=alice),
        new_patient(clinic, alice, mrn="A-0003", given_name="Alan", family_name="Turing",
                    date_of_birth=date(1990, 6, 23), sex_at_birth="male", status="in_treatment"),
        new_patient(clinic, alice, mrn="A-0004", given_name="Katherine", family_name="Johnson",
                    date_of_birth=date(1968, 8, 26), status="referred"),
    ]}
    # A condition, so the chart's conditions list, its inline forms and the timeline render.
    actions.add_condition(patient=patients["A-0002"], code="F33.1", treatment_resistant=True,
                          by=alice)
    return alice, patients


def result_rows(page: Page):
    return page.locator("#results tbody tr")


def test_a_prescriber_logs_in_searches_and_opens_a_chart(page, console_errors, registry,
                                                           screenshot_dir):
    log_in(page, "alice", PASSWORD)

    expect(page).to_have_url(re.compile(r"/patients/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients")
    expect(result_rows(page)).to_have_count(4)
    page.screenshot(caret="initial", path=screenshot_dir / "list.png", full_page=True)

    # Typing fires htmx's debounced live search; the results swap in without a page load.
    page.get_by_role("searchbox", name="Search").press_sequentially("hopper")
    expect(page).to_have_url(re.compile(r"[?&]q=hopper"))  # hx-push-url after the swap
    expect(result_rows(page)).to_have_count(1)
    expect(result_rows(page).first).to_contain_text("Hopper, Grace")
    expect(result_rows(page).first).to_contain_text("A-0002")
    expect(page.locator("#results .result-count")).to_have_text("1 patient")
    page.screenshot(caret="initial", path=screenshot_dir / "search.png", full_page=True)

    page.get_by_role("link", name="Hopper, Grace").click()

    hopper = registry[1]["A-0002"]
    expect(page).to_have_url(re.compile(rf"/patients/{hopper.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Hopper, Grace")
    expect(page.locator(".demographics")).to_contain_text("MRN A-0002")
    expect(page.get_by_role("heading", name="Conditions")).to_be_visible()
    expect(page.locator(".conditions")).to_contain_text("F33.1")
    page.screenshot(caret="initial", path=screenshot_dir / "chart.png", full_page=True)

    assert console_errors == [], f"browser console errors: {console_errors}"


def test_a_wrong_password_shows_only_the_one_generic_error(page, console_errors, registry,
                                                           screenshot_dir):
    log_in(page, "alice", "not the password")

    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_role("alert")).to_have_text(GENERIC_LOGIN_ERROR)
    expect(page.get_by_label("Username")).to_have_value("alice")
    page.screenshot(caret="initial", path=screenshot_dir / "login-error.png", full_page=True)

    # An unknown username reads exactly the same: the page never says which part was wrong.
    log_in(page, "nobody-here", "not the password")
    expect(page.get_by_role("alert")).to_have_text(GENERIC_LOGIN_ERROR)
    expect(page.locator(".alert p")).to_have_count(1)
    expect(page.locator(".field-error")).to_have_count(0)

    assert console_errors == [], f"browser console errors: {console_errors}"


def test_the_patient_list_and_chart_have_no_serious_accessibility_violations(
        page, console_errors, registry):
    found: dict[str, list[dict]] = {}

    log_in(page, "nobody-here", "not the password")
    expect(page.get_by_role("alert")).to_have_text(GENERIC_LOGIN_ERROR)
    found["login with error"] = axe_violations(page)

    log_in(page, "alice", PASSWORD)
    expect(result_rows(page)).to_have_count(4)
    found["patient list"] = axe_violations(page)

    page.get_by_role("searchbox", name="Search").fill("zzz-no-such-patient")
    expect(page.locator("#results .empty")).to_be_visible()
    found["patient list, no match"] = axe_violations(page)

    page.goto(f"/patients/{registry[1]['A-0002'].pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hopper, Grace")
    page.get_by_text("Add a condition").click()  # open the inline form so axe checks it too
    expect(page.get_by_role("button", name="Add condition")).to_be_visible()
    found["chart"] = axe_violations(page)

    found = {name: violations for name, violations in found.items() if violations}
    assert not found, "serious/critical axe-core violations:\n" + describe(found)
    assert console_errors == [], f"browser console errors: {console_errors}"
