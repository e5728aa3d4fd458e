"""The clinic outcomes dashboard renders its charts with no external request (issue 3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kapclinic.accounts.roles import Role
from kapclinic.patients.models import Patient
from tests import factories
from tests.browser.helpers import axe_violations, describe, log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def cohort(transactional_db):
    clinic = factories.clinic("clinic-a", name="Clinic A")
    alice = factories.user(clinic, Role.PRESCRIBER, "alice", first_name="Alice",
                           last_name="Prescott")
    series = [[30, 28, 12, 10, 24, 25], [32, 14, 12, 11, 10, 9], [28, 26, 25, 27, 24, 26],
              [34, 16, 9, 8, 20, 24]]
    for n, totals in enumerate(series):
        patient = factories.patient(clinic, alice, mrn=f"A-{n}", family_name=f"Cohort{n}")
        factories.condition(patient, alice, "F33.2")
        factories.responses(patient, "madrs", totals, alice)
    return alice


def test_the_dashboard_draws_rates_and_the_relapse_curve_from_local_assets_only(
        page, console_errors, cohort, live_server, screenshot_dir):
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(live_server.url) else None)
    log_in(page, "alice", PASSWORD)
    page.get_by_role("link", name="Outcomes").click()
    page.get_by_label("Instrument").select_option("madrs")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".km-line")).to_be_visible()
    expect(page.get_by_role("cell", name="Major depressive disorder, recurrent")).to_be_visible()
    expect(page.locator("#fading-h")).to_be_visible()
    violations = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "dashboard.png", full_page=True)
    assert not violations, describe({"dashboard": violations})
    assert [url for url in outside if "__test__" not in url] == []
    assert console_errors == [], f"browser console errors: {console_errors}"


def test_a_clinician_records_a_relapse_event_and_changes_the_clinics_outcome_rules(
        page, console_errors, cohort, live_server, screenshot_dir):
    log_in(page, "alice", PASSWORD)
    patient = Patient.objects.get(mrn="A-1")  # responded and remitted: 32 -> 9
    page.goto(f"{live_server.url}/patients/{patient.pk}/measures/")
    outcome = page.get_by_label("MADRS outcome")
    expect(outcome).to_contain_text("in remission now")
    page.get_by_text("Record an event").click()
    page.get_by_label("What happened").select_option("hospitalisation_suicide_prevention")
    yesterday = timezone.localtime(timezone.now() - timedelta(days=1), patient.clinic.zone)
    page.get_by_label("When (the start of the hospitalisation if hospitalised)").fill(
        yesterday.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Note").fill("Admitted for safety after a crisis call")
    page.get_by_role("button", name="Record the event").click()
    expect(page.get_by_role("status").or_(page.locator(".messages"))).to_contain_text(
        "Hospitalisation for suicide prevention recorded")
    expect(outcome).to_contain_text(f"relapse on {yesterday:%Y-%m-%d}")
    expect(outcome).to_contain_text("Hospitalisation for suicide prevention")
    violations = {"measures": axe_violations(page)}
    page.screenshot(caret="initial", path=screenshot_dir / "measures-with-outcome.png", full_page=True)

    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Outcome rules").click()
    page.get_by_label("GAD-7: Relapse at a total of at least").fill("99")
    page.get_by_role("button", name="Save outcome rules").click()
    expect(page.get_by_role("alert")).to_contain_text("Not saved")
    expect(page.locator(".field-error").first).to_contain_text("less than or equal to 21")
    violations["rules with an error"] = axe_violations(page)
    page.get_by_label("GAD-7: Relapse at a total of at least").fill("")
    page.get_by_label("MADRS remission").select_option("12")
    page.get_by_role("button", name="Save outcome rules").click()
    expect(page.locator(".messages")).to_contain_text("Outcome rules saved (version 2)")
    violations["rules"] = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "outcome-rules.png", full_page=True)
    assert not any(violations.values()), describe(violations)
    # the refused form answers 422, which the browser logs; nothing else may go wrong
    refused = [e for e in console_errors if "422 (Unprocessable Entity)" in e]
    assert len(refused) == 1 and len(console_errors) == 1, f"console errors: {console_errors}"
