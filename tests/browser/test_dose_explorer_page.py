"""The dose explorer in a real browser: changing the dose redraws the curves (issue 5)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kapclinic.accounts.roles import Role
from tests import factories
from tests.browser.helpers import axe_violations, describe, listening, log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def prescriber(transactional_db):
    return factories.user(factories.clinic(), Role.PRESCRIBER, "alice", first_name="Alice",
                          last_name="Prescott")


def test_a_prescriber_changes_the_dose_and_sees_the_curve_change(page, console_errors, prescriber,
                                                                 screenshot_dir):
    log_in(page, "alice", PASSWORD)
    page.get_by_role("link", name="Dose explorer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dose explorer")
    expect(page.get_by_text("Decision support, not a dosing order.")).to_be_visible()
    domino = page.locator('polyline.curve[data-series="domino"]')
    expect(page.locator("polyline.curve")).to_have_count(5)
    before = domino.get_attribute("points")
    expect(page.get_by_role("heading", name="Predicted concentration, 35 mg")).to_be_visible()
    page.screenshot(caret="initial", path=screenshot_dir / "dose-explorer.png", full_page=True)

    listening(page)
    page.locator("#id_dose").fill("0.25")
    page.locator("#id_dose").dispatch_event("change")

    expect(page.get_by_role("heading", name="Predicted concentration, 17.5 mg")).to_be_visible()
    assert domino.get_attribute("points") != before  # drawn against the same axis: it rises
    page.screenshot(caret="initial", path=screenshot_dir / "dose-explorer-0.25mg-per-kg.png", full_page=True)

    violations = axe_violations(page)
    assert not violations, describe({"dose explorer": violations})
    assert console_errors == [], f"browser console errors: {console_errors}"


def test_a_prescriber_sees_the_observed_intranasal_peak_and_the_models_that_miss_it(
        page, console_errors, prescriber, screenshot_dir):
    log_in(page, "alice", PASSWORD)
    page.goto("/dosing/explorer/?drug=ketamine&route=intranasal&dose=30&dose_unit=mg"
              "&weight_kg=70&hours=4&compare_route=")
    expect(page.locator("g.observed")).to_have_count(1)
    expect(page.get_by_text("Observed peak 1: 60.8 ng/mL at 14 min")).to_be_visible()
    expect(page.get_by_role("heading", name="Where the models miss what was measured in people")
           ).to_be_visible()
    page.screenshot(caret="initial", path=screenshot_dir / "dose-explorer-intranasal-30mg.png",
                    full_page=True)
    violations = axe_violations(page)
    assert not violations, describe({"dose explorer, intranasal": violations})
    assert console_errors == [], f"browser console errors: {console_errors}"
