"""An IV ketamine session walked at the chair, from check-in to discharge, on the pages a nurse
uses (tablet-sized), while a prescriber watches the room board in another browser: each step
and the alert a high blood pressure raises show on the board by themselves, the alert is
acknowledged from the session page, and every page passes axe."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.alerts.models import Alert
from kapclinic.treatment import actions
from kapclinic.treatment.models import Administration, Session
from tests.browser.helpers import axe_violations, describe, listening, log_in, serve_axe
from tests.conftest import PASSWORD, make_user, new_patient, set_directly
from tests.treatment.helpers import eligible_and_consented

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}      # an iPad Air in portrait, CSS pixels
TABLET_LANDSCAPE = {"width": 1024, "height": 768}
DESKTOP = {"width": 1280, "height": 900}
LIVE = 5_000  # a change at one station shows at the others within 5 s


@pytest.fixture
def booked(transactional_db) -> Session:
    clinic = Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York")
    alice = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")
    ada = new_patient(clinic, alice, prescriber=alice)
    eligible_and_consented(ada, alice)
    return actions.schedule_session(patient=ada, protocol="iv_racemic_ketamine",
                                    scheduled_at=timezone.now() - timedelta(minutes=5),
                                    room="Room 1", chair="A", by=alice)


def state_is(page: Page, words: str) -> None:
    expect(page.locator(".status-strip .session-state")).to_have_text(words, timeout=LIVE)


def answer(page: Page, question: str, choice: str) -> None:
    page.get_by_role("group", name=question).get_by_label(choice, exact=True).check()


def reading(page: Page, **values: str) -> None:
    """Typed the way a nurse does at the chair: each box by its label, Enter to save."""
    labels = {"sbp": "Systolic BP (mmHg)", "dbp": "Diastolic BP (mmHg)",
              "hr": "Heart rate (/min)", "spo2": "SpO2 (%)", "rr": "Breathing rate (/min)"}
    for key, value in values.items():
        page.get_by_label(labels[key]).fill(value)
    page.get_by_label(labels[list(values)[-1]]).press("Enter")
    expect(page.locator(".messages")).to_contain_text("saved")


def test_an_iv_session_from_check_in_to_discharge_with_the_room_board_watching(
        page, browser, live_server, console_errors, booked, screenshot_dir):
    violations: dict[str, list[dict]] = {}
    # the prescriber's screen: the room board, left open
    board_context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    board_context.set_default_timeout(10_000)
    serve_axe(board_context)
    board = board_context.new_page()
    board_errors: list[str] = []
    board.on("console", lambda m: board_errors.append(m.text) if m.type == "error" else None)
    log_in(board, "alice", PASSWORD)
    board.get_by_role("link", name="Room board").click()
    expect(board.locator("#room-board")).to_contain_text("No session is in progress.")

    # the nurse starts at the room board, on a tablet
    page.set_viewport_size(TABLET)
    log_in(page, "nina", PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/sessions/board/")
    page.goto(f"/sessions/{booked.pk}/")
    state_is(page, "Scheduled")
    page.get_by_role("button", name="Check in").click()
    state_is(page, "Checked in")
    card = board.locator(".board-card", has_text="Ada Lovelace")
    expect(card).to_contain_text("Checked in", timeout=LIVE)
    expect(card).to_contain_text("Room 1 · chair A")

    # trying to clear too early names what is missing
    page.get_by_role("button", name="Clear to dose").click()
    refused = page.locator("#refused")
    expect(refused).to_contain_text("Fasting before the dose is not confirmed.")
    expect(refused).to_contain_text("Today's weight is not recorded")

    # the pre-dose checklist and vitals
    answer(page, "Fasting confirmed", "Yes")
    answer(page, "Ride home confirmed; no driving until the next day", "Yes")
    answer(page, "Pregnancy test", "Negative today")
    page.get_by_label("Today's weight (kg)").fill("70")
    answer(page, "Pre-dose measures done", "Yes")
    page.get_by_label("Therapist's note of intention").fill("To meet the grief with curiosity")
    page.get_by_role("button", name="Save the checklist").click()
    expect(page.locator(".messages")).to_contain_text("Checklist saved (6 answers)")
    reading(page, sbp="122", dbp="78", hr="72", spo2="98", rr="14")
    expect(page.locator(".steps-card")).to_contain_text("Everything this step needs is recorded.")
    page.get_by_role("button", name="Clear to dose").click()
    state_is(page, "Cleared to dose")
    listening(page)

    # the dose: typed in mg/kg, the mg shown as it is typed
    page.get_by_role("spinbutton", name="Dose", exact=True).fill("0.5")
    expect(page.locator("#dose-preview")).to_contain_text("35 mg = 0.5 mg/kg")
    expect(page.locator("#dose-preview")).to_contain_text("within the protocol")
    page.get_by_label("Lot").fill("KET-2211")
    violations["dose form"] = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "session-dose-tablet.png", full_page=True)
    page.get_by_role("button", name="Record the dose and start dosing").click()
    state_is(page, "Being dosed")
    expect(card).to_contain_text("Being dosed", timeout=LIVE)

    # a high blood pressure during the infusion raises an urgent alert, here and on the board
    reading(page, sbp="186", dbp="96", hr="90", spo2="97", rr="16")
    urgent = page.locator(".session-alert.is-urgent")
    expect(urgent).to_contain_text("Blood pressure")
    expect(card.locator(".board-alert", has_text="Urgent")).to_contain_text(
        "Blood pressure", timeout=LIVE)
    violations["session, alert open"] = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "session-alert-tablet.png", full_page=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(caret="initial", path=screenshot_dir / "session-alert-desktop.png", full_page=True)
    violations["room board"] = axe_violations(board)
    board.screenshot(caret="initial", path=screenshot_dir / "room-board-desktop.png", full_page=True)
    board.set_viewport_size(TABLET_LANDSCAPE)
    board.screenshot(caret="initial", path=screenshot_dir / "room-board-tablet.png", full_page=True)

    # the urgent alert says to pause the infusion: paused from its card (the pause acknowledges
    # it with the note), then resumed once the blood pressure is seen to
    pause = page.get_by_role("button", name="Pause the infusion and acknowledge")
    says_pause = page.locator(".session-alert").filter(has=pause).first
    says_pause.get_by_label("What you did").fill("BP 186/96: infusion paused, prescriber called")
    says_pause.get_by_role("button", name="Pause the infusion and acknowledge").click()
    expect(page.locator(".messages")).to_contain_text("Infusion paused at")
    expect(page.locator(".dose-card .infusion-state")).to_have_text("Paused")
    expect(page.locator("#session-pk")).to_contain_text("The infusion is paused")
    violations["session, infusion paused"] = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "session-paused-desktop.png",
                    full_page=True)
    page.get_by_role("button", name="Resume the infusion").click()
    expect(page.locator(".messages")).to_contain_text("Infusion resumed at")
    expect(page.locator(".dose-card .infusion-state")).to_have_text("Running")

    # every other open alert acknowledged with what was done; the board clears by itself
    for _ in range(Alert.objects.open().count()):
        first = page.locator(".session-alert").first
        first.get_by_label("What you did").fill("Infusion slowed; prescriber at the chair; BP rechecked")
        first.get_by_role("button", name="Acknowledge").click()
        expect(page.locator(".messages")).to_contain_text("Alert acknowledged.")
    expect(page.locator(".session-alert")).to_have_count(0)
    expect(card.locator(".board-alert")).to_have_count(0, timeout=LIVE)
    reading(page, sbp="134", dbp="82", hr="80", spo2="98", rr="14")
    page.get_by_role("button", name="Dosing finished: start observation").click()
    state_is(page, "Under observation after the dose")

    # two hours of observation pass (the protocol's minimum, counted from the end of the dose)
    now = timezone.now()
    set_directly(Administration.objects.filter(session=booked),
                 started_at=now - timedelta(minutes=165), ended_at=now - timedelta(minutes=125))
    page.reload()
    expect(page.locator(".status-strip")).to_contain_text("125 of 120 min")
    answer(page, "Sedation resolved", "Yes")
    answer(page, "Dissociation resolved", "Yes")
    answer(page, "Respiratory depression resolved", "Yes")
    page.get_by_label("Modified Aldrete score (0-10)").fill("10")
    answer(page, "Clinician judged clinically stable to leave", "Yes")
    page.get_by_role("button", name="Save the checklist").click()
    violations["discharge checklist"] = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "session-discharge-desktop.png",
                    full_page=True)
    page.get_by_role("button", name="Discharge").click()
    state_is(page, "Discharged")
    expect(board.locator("#room-board")).to_contain_text("No session is in progress.", timeout=LIVE)

    booked.refresh_from_db()
    assert booked.state == "discharged"
    assert list(booked.events.values_list("to_state", flat=True)) == [
        "scheduled", "checked_in", "cleared", "dosing", "monitoring", "discharged"]
    assert not any(violations.values()), describe(violations)
    # the refused step's page is answered 409 on purpose (Chromium logs every 4xx page load)
    unexpected = [e for e in console_errors if "status of 409" not in e]
    assert unexpected == [], f"browser console errors: {unexpected}"
    assert board_errors == [], f"room board console errors: {board_errors}"
    board_context.close()
