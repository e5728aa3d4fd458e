"""Intake -> decision -> prescriber sign-off -> consent signed in the portal, in a real browser
(issue 4), with axe-core on the intake and screening pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kapclinic.accounts.models import Clinic, Membership, User
from kapclinic.accounts.roles import Role
from kapclinic.patients.actions import add_condition
from kapclinic.patients.models import Patient
from kapclinic.screening import actions as screening
from tests.browser.helpers import axe_violations, describe, listening, log_in, log_out
from tests.conftest import PASSWORD, make_user, new_patient, set_directly

pytestmark = pytest.mark.browser


@pytest.fixture
def clinic(transactional_db):
    clinic = Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York")
    alice = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    ada = new_patient(clinic, alice, prescriber=alice)
    add_condition(patient=ada, code="F33.2", treatment_resistant=True, by=alice)
    screening.publish_consent_document(clinic=clinic, title="Consent to KAP",
                                       text="Ketamine may cause dissociation and raise blood "
                                            "pressure for a while.", by=None)
    portal_user = User.objects.create_user("ada", password=PASSWORD, first_name="Ada")
    Membership.objects.create(user=portal_user, clinic=clinic, role=Role.PATIENT)
    set_directly(Patient.objects.filter(pk=ada.pk), user=portal_user)
    return ada


def test_intake_decision_sign_off_and_portal_consent(page, console_errors, clinic, screenshot_dir):
    ada = clinic
    log_in(page, "alice", PASSWORD)
    page.goto(f"/patients/{ada.pk}/")
    page.get_by_role("link", name="Open screening and consent").click()
    expect(page.locator(".consent-missing")).to_contain_text("No current consent")
    page.get_by_role("link", name="Start the intake").click()
    expect(page).to_have_url(re.compile(r"/intake/$"))
    listening(page)

    # Typing saves a draft by itself (htmx autosave): nothing is lost if the tab closes.
    page.get_by_label("Weight (kg)").fill("70")
    expect(page.locator("#autosave-status")).to_contain_text("Draft saved")
    for name, value in (("height_cm", "170"), ("sbp_mmhg", "128"), ("dbp_mmhg", "82"),
                        ("heart_rate_bpm", "72"), ("spo2_pct", "98"),
                        ("adequate_antidepressant_trials", "2"), ("audit_total", "3")):
        page.locator(f"#id_{name}").fill(value)
    for select in page.locator("select[name^='history_'], #id_pregnant, #id_breastfeeding").all():
        select.select_option("no")
    page.get_by_label("Current medications").fill("sertraline")
    page.get_by_label("No known allergies or hypersensitivities").check()
    intake_violations = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "intake.png", full_page=True)
    page.get_by_role("button", name="Save and finish intake").click()

    expect(page.get_by_text("Intake saved. Evaluate it below.")).to_be_visible()
    page.get_by_label("Drug").select_option("ketamine")
    page.get_by_label("Route").select_option("iv-infusion")
    page.get_by_role("button", name="Evaluate the intake").click()
    expect(page.locator(".decision")).to_contain_text("Eligible")
    page.screenshot(caret="initial", path=screenshot_dir / "decision.png", full_page=True)

    page.get_by_label("Accept the decision").check()
    page.get_by_role("button", name="Sign off").click()
    expect(page.locator(".signed")).to_contain_text("Signed off by Alice Prescott")
    expect(page.locator(".page-head .status")).to_have_text("Eligible")
    screening_violations = axe_violations(page)
    log_out(page)

    log_in(page, "ada", PASSWORD)
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(page.locator(".consent-text")).to_contain_text("Ketamine may cause dissociation")
    page.get_by_label("Full name, typed as signature").fill("Ada Lovelace")
    page.get_by_label("I have read and understood this consent and agree to it").check()
    portal_violations = axe_violations(page)
    page.get_by_role("button", name="Sign the consent").click()
    expect(page.locator(".consent-ok")).to_contain_text("You have signed the current consent")
    page.screenshot(caret="initial", path=screenshot_dir / "portal-consent.png", full_page=True)
    log_out(page)

    log_in(page, "alice", PASSWORD)
    page.goto(f"/patients/{ada.pk}/screening/")
    expect(page.locator(".consent-ok")).to_contain_text("Current consent on file")
    expect(page.locator(".consent-item")).to_contain_text("signed in the patient portal")
    page.screenshot(caret="initial", path=screenshot_dir / "screening-consented.png", full_page=True)

    violations = {"intake": intake_violations, "screening": screening_violations,
                  "portal": portal_violations}
    assert not any(violations.values()), describe(violations)
    assert console_errors == [], f"browser console errors: {console_errors}"
