"""The alerts page with alerts from two sources: a questionnaire's (its answers beneath it)
and a bedside monitor's that registered no detail (its label, what to do and the patient),
usable with a screen reader or keyboard (axe-core), each acknowledged from the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.alerts import actions as alerts
from kapclinic.alerts.models import Alert
from kapclinic.measures import actions as measures
from tests.browser.helpers import axe_violations, describe, log_in
from tests.conftest import PASSWORD, make_user, new_patient

pytestmark = pytest.mark.browser


@pytest.fixture
def two_sources(transactional_db):
    clinic = Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York")
    nina = make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")
    ada = new_patient(clinic, nina, phone="555-0100")
    alan = new_patient(clinic, nina, mrn="A-0002", given_name="Alan", family_name="Turing")
    measures.record_response(patient=ada, instrument="phq9", source="clinic", by=nina,
                             answers={str(n): (1 if n == 9 else 0) for n in range(1, 10)})
    alerts.raise_alert(clinic_id=clinic.pk, patient=alan, source="bedside_monitor",
                       kind="deep_sedation", label="Sedation score 4 (unresponsive to voice)",
                       record_type="bedside_monitor.reading", record_id=1,
                       recommended_action="Stay with the patient and check the airway.",
                       by=None)


def test_alerts_from_two_sources_show_and_are_acknowledged_on_the_page(
        page, console_errors, two_sources, screenshot_dir):
    log_in(page, "nina", PASSWORD)
    page.goto("/alerts/")
    cards = page.locator(".alert-card")
    expect(cards).to_have_count(2)
    expect(cards.first).to_contain_text("raised the alert")
    monitor = cards.filter(has_text="Sedation score 4")
    expect(monitor).to_contain_text("Stay with the patient and check the airway.")
    expect(monitor.get_by_role("link", name="Turing, Alan")).to_be_visible()
    violations = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "alerts-two-sources.png",
                    full_page=True)

    monitor.get_by_label("What you did").fill("Airway clear; responds to voice again")
    monitor.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Alert acknowledged.")).to_be_visible()
    expect(page.locator(".alert-card")).to_have_count(1)
    assert Alert.objects.get(source="bedside_monitor").acknowledged_at is not None
    assert not violations, describe({"alerts": violations})
    assert console_errors == [], f"browser console errors: {console_errors}"
