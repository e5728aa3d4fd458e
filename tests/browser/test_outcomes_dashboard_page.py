"""The clinic outcomes dashboard renders its charts with no external request (issue 3)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.patients.actions import add_condition
from tests.browser.test_clinician_pages import axe_violations, describe, log_in
from tests.conftest import PASSWORD, make_user, new_patient
from tests.test_outcomes_dashboard import record_series

pytestmark = pytest.mark.browser


@pytest.fixture
def cohort(transactional_db):
    clinic = Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York")
    alice = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    series = [[30, 28, 12, 10, 24, 25], [32, 14, 12, 11, 10, 9], [28, 26, 25, 27, 24, 26],
              [34, 16, 9, 8, 20, 24]]
    for n, totals in enumerate(series):
        patient = new_patient(clinic, alice, mrn=f"A-{n}", family_name=f"Cohort{n}")
        add_condition(patient=patient, code="F33.2", by=alice)
        record_series(patient, "madrs", totals, alice)
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
    page.screenshot(path=screenshot_dir / "dashboard.png", full_page=True)
    assert not violations, describe({"dashboard": violations})
    assert [url for url in outside if "__test__" not in url] == []
    assert console_errors == [], f"browser console errors: {console_errors}"
