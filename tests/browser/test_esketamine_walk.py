"""An intranasal esketamine session walked at the chair on a tablet, from check-in to
discharge, and its Spravato REMS Patient Monitoring Form printed: the dose is whole devices,
observation waits for the last device, the label's rest between devices is pointed out, and
the form is filled from what the session recorded."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.treatment import actions
from kapclinic.treatment.models import Administration, Session
from kapclinic.treatment.rems_models import RemsFormDetails
from tests.browser.helpers import axe_violations, describe, log_in
from tests.conftest import PASSWORD, make_user, new_patient, set_directly
from tests.treatment.helpers import ESKETAMINE, eligible_and_consented

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}


@pytest.fixture
def booked(transactional_db) -> Session:
    clinic = Clinic.objects.create(slug="clinic-a", name="Harbor Ketamine Clinic",
                                   time_zone="America/New_York")
    RemsFormDetails.objects.create(clinic=clinic, address="1 Pier Road, Suite 4", city="Portland",
                                   state="ME", zip_code="04101")
    alice = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")
    ada = new_patient(clinic, alice, prescriber=alice)
    eligible_and_consented(ada, alice, drug="esketamine", route="intranasal")
    return actions.schedule_session(patient=ada, protocol=ESKETAMINE,
                                    scheduled_at=timezone.now() - timedelta(minutes=5),
                                    room="Room 2", chair="B", by=alice)


def state_is(page: Page, words: str) -> None:
    expect(page.locator(".status-strip .session-state")).to_have_text(words)


def answer(page: Page, question: str, choice: str) -> None:
    page.get_by_role("group", name=question).get_by_label(choice, exact=True).check()


def reading(page: Page, sbp: str, dbp: str, hr: str, spo2: str) -> None:
    for label, value in (("Systolic BP (mmHg)", sbp), ("Diastolic BP (mmHg)", dbp),
                         ("Heart rate (/min)", hr), ("SpO2 (%)", spo2)):
        page.get_by_label(label).fill(value)
    page.get_by_label("SpO2 (%)").press("Enter")
    expect(page.locator(".messages")).to_contain_text("saved")


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_an_esketamine_session_from_check_in_to_its_printed_rems_form(
        page, console_errors, booked, screenshot_dir):
    violations: dict[str, list[dict]] = {}
    page.set_viewport_size(TABLET)
    log_in(page, "nina", PASSWORD)
    page.goto(f"/sessions/{booked.pk}/")
    page.get_by_role("button", name="Check in").click()
    state_is(page, "Checked in")

    # esketamine is dosed in mg: no weight is asked; the nasal spray timing is
    expect(page.get_by_label("Today's weight (kg)")).to_have_count(0)
    answer(page, "Fasting confirmed", "Yes")
    answer(page, "Ride home confirmed; no driving until the next day", "Yes")
    answer(page, "Pregnancy test", "Negative today")
    answer(page, "Pre-dose measures done", "Yes")
    answer(page, "Nasal corticosteroid or decongestant at least 1 hour before (or none)", "None taken")
    page.get_by_label("Therapist's note of intention").fill("To let the heaviness be looked at")
    page.get_by_role("button", name="Save the checklist").click()
    expect(page.locator(".messages")).to_contain_text("Checklist saved")
    reading(page, "124", "78", "70", "98")
    page.get_by_role("button", name="Clear to dose").click()
    state_is(page, "Cleared to dose")

    # the first dose for an adult under 65: 56 mg, two devices, no infusion rate to type
    dose = page.get_by_role("group", name="Dose (mg)")
    expect(page.get_by_label("Rate (mg/min)")).to_have_count(0)
    dose.get_by_label("56 mg · 2 devices").check()
    page.get_by_label("Lot").fill("SPR-0042")
    violations["nasal dose form"] = axe_violations(page)
    page.get_by_role("button", name="Record the dose and start with device 1").click()
    state_is(page, "Being dosed")
    observation = page.get_by_role("button", name="Dosing finished: start observation")
    expect(observation).to_have_count(0)  # not before every device is given

    page.get_by_role("button", name="Device 1 given").click()
    expect(page.locator(".messages")).to_contain_text("Device 1 given")
    expect(observation).to_have_count(0)
    page.get_by_role("button", name="Device 2 given").click()
    # given at once: saved, with the label's 5-minute rest between devices pointed out
    expect(page.locator(".messages")).to_contain_text("5-minute rest")
    expect(page.locator(".dose-state")).to_contain_text("2 of 2")
    page.screenshot(caret="initial", path=screenshot_dir / "esketamine-devices-tablet.png",
                    full_page=True)
    reading(page, "138", "86", "76", "97")  # about 40 minutes: the label's blood-pressure mark
    observation.click()
    state_is(page, "Under observation after the dose")

    # two hours pass: the label's minimum observation, counted from the first device
    now = timezone.now()
    set_directly(Administration.objects.filter(session=booked), started_at=now - timedelta(minutes=125))
    page.reload()
    expect(page.locator(".status-strip")).to_contain_text("of 120 min")
    reading(page, "122", "80", "72", "98")
    answer(page, "Sedation resolved", "Yes")
    answer(page, "Dissociation resolved", "Yes")
    answer(page, "Respiratory depression resolved", "Yes")
    answer(page, "Clinician judged clinically stable to leave", "Yes")
    page.get_by_role("button", name="Save the checklist").click()
    violations["discharge checklist"] = axe_violations(page)
    page.get_by_role("button", name="Discharge").click()
    state_is(page, "Discharged")

    # the REMS form, from the session page, filled from the session and printed on one page
    page.get_by_role("link", name="REMS monitoring form").click()
    form = page.locator(".rems-form")
    expect(page.get_by_role("alert").filter(has_text="Not yet submitted")).to_be_visible()
    expect(form).to_contain_text("Ada")
    expect(form).to_contain_text("SPR-0042")
    expect(form).to_contain_text("1 Pier Road, Suite 4")
    violations["REMS form"] = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "esketamine-rems-form-tablet.png",
                    full_page=True)
    page.emulate_media(media="print")
    pdf = page.pdf(format="Letter", print_background=True)
    (screenshot_dir / "esketamine-rems-form-letter.pdf").write_bytes(pdf)
    assert pdf_pages(pdf) == 1, f"the REMS form prints on {pdf_pages(pdf)} pages"

    booked.refresh_from_db()
    assert list(booked.events.values_list("to_state", flat=True)) == [
        "scheduled", "checked_in", "cleared", "dosing", "monitoring", "discharged"]
    assert booked.administrations.get().dose_mg == 56
    assert not any(violations.values()), describe(violations)
    assert console_errors == [], f"browser console errors: {console_errors}"
