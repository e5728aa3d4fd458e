"""Every main page fits a phone (390 x 844) and a small tablet in portrait (768 x 1024) without
sideways scrolling, and stays accessible on the phone: the nav wraps, wide tables scroll inside
their own box, charts scale. The patient has an open urgent alert, so the long alert labels on
the chart and the alerts page are measured."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kapclinic import demo
from kapclinic.accounts.models import User
from kapclinic.audit import context
from kapclinic.measures import actions as measures
from kapclinic.measures.models import Alert, Response
from kapclinic.patients.models import Patient
from tests.browser.helpers import (
    PHONE,
    SMALL_TABLET,
    axe_violations,
    describe,
    log_in,
    serve_axe,
)

pytestmark = pytest.mark.browser

PASSWORD = "demo-pass-123"


@pytest.fixture
def demo_clinic(transactional_db):
    context.set_system_actor("kapclinic demo")
    demo.load_demo(patients=8, seed=1, password=PASSWORD, weeks=6)
    clinic_patients = Patient.objects.filter(clinic__slug="harbor")
    treated = (clinic_patients.filter(status__in=["in_treatment", "maintenance"],
                                      pk__in=Response.objects.values("patient_id"))
               .order_by("mrn").first())
    patient = treated or clinic_patients.order_by("mrn").first()
    # PHQ-9 item 9 answered 1: the chart's measures card and the alerts page then carry the
    # longest alert label there is ("Item 9 (thoughts of death/self-harm) scored 1 or more")
    item_9 = {str(n): 0 for n in range(1, 9)} | {"9": 1}
    recorded = measures.record_response(patient=patient, instrument="phq9", answers=item_9,
                                        source="clinic",
                                        by=User.objects.get(username="prescriber"))
    assert recorded.alerts and Alert.objects.open().filter(patient=patient).exists()
    return patient


def pages_for(patient: Patient) -> dict[str, list[str]]:
    chart = f"/patients/{patient.pk}"
    return {
        "prescriber": ["/patients/", f"{chart}/", f"{chart}/measures/", f"{chart}/screening/",
                       f"{chart}/intake/", "/dosing/explorer/", "/dashboard/", "/alerts/",
                       "/clinic/outcomes/", "/account/password/", "/monitors/unmatched/"],
        "admin": ["/clinic/settings/", "/clinic/users/", "/audit/", "/clinic/measures/", "/clinic/outbox/",
                  "/clinic/consent/", "/monitors/"],
        "patient": ["/portal/"],
    }


def test_every_main_page_fits_a_phone_and_a_tablet_without_sideways_scrolling(
        browser, live_server, demo_clinic, screenshot_dir):
    too_wide, violations = {}, {}
    for username, paths in pages_for(demo_clinic).items():
        context = browser.new_context(base_url=live_server.url, viewport=PHONE)
        serve_axe(context)
        page = context.new_page()
        try:
            log_in(page, username, PASSWORD)
            for path in paths:
                # the tablet pass reloads the page (a real tablet lays it out from the start)
                # and skips axe: the markup is the one already checked on the phone
                for device, viewport in (("phone", PHONE), ("tablet", SMALL_TABLET)):
                    page.set_viewport_size(viewport)
                    page.goto(path)
                    width = page.evaluate("document.scrollingElement.scrollWidth")
                    name = f"{device}-{username}{path.replace('/', '-')}".rstrip("-")
                    page.screenshot(caret="initial", path=screenshot_dir / f"{name}.png",
                                    full_page=True)
                    if width > viewport["width"]:
                        too_wide[f"{username} {path} ({device}, {viewport['width']} px)"] = width
                    if device == "phone":
                        found = axe_violations(page)
                        if found:
                            violations[f"{username} {path} (phone)"] = found
        finally:
            context.close()
    assert not too_wide, f"pages wider than the screen: {too_wide}"
    assert not violations, describe(violations)


def test_the_login_page_fits_a_phone_and_offers_a_password_reset(browser, live_server,
                                                                 transactional_db):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    page = context.new_page()
    try:
        page.goto("/login/")
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        page.get_by_role("link", name="Forgot your password?").click()
        # Wait for the new page: measuring mid-navigation finds no document to measure.
        expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()
