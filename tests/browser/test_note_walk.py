"""Therapy notes in the browser (issue 13): the therapist writes the preparation note from the
dosing session (saved as they type, then signed and sealed), the nurse records a serious adverse
event, the therapist signs the integration note and adds an addendum, the prescriber reviews
the event and reads both notes on the chart, a nurse outside the care team opens them by
emergency access and the admin reviews that access (axe clean)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.treatment import actions
from kapclinic.treatment.note_models import NoteDraft
from tests.browser.helpers import axe_violations, describe, listening, log_in, log_out
from tests.conftest import PASSWORD, make_user, new_patient
from tests.treatment.helpers import cleared, eligible_and_consented, minutes_ago

pytestmark = pytest.mark.browser

INTENTIONS = "To meet the grief for my father with curiosity rather than dread"
THEMES = "Grief, and a sense of the father's presence as warm rather than lost"


@pytest.fixture
def dosed(transactional_db):
    clinic = Clinic.objects.create(slug="clinic-a", name="Harbor Ketamine Clinic",
                                   time_zone="America/New_York")
    alice = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    nina = make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")
    theo = make_user("theo", clinic, Role.THERAPIST, "Theo", "Therapist")
    make_user("ned", clinic, Role.NURSE, "Ned", "Newman")  # never cared for the patient
    make_user("adam", clinic, Role.ADMIN, "Adam", "Admin")
    ada = new_patient(clinic, alice, prescriber=alice, therapist=theo)
    eligible_and_consented(ada, alice)
    session = cleared(ada, alice, nina, start=40)
    actions.record_administration(session, at=minutes_ago(30), by=nina, dose_mg_per_kg=0.5)
    return session


def start_note(page: Page, session_id: int, button: str) -> None:
    page.goto(f"/sessions/{session_id}/")
    notes = page.get_by_role("region", name="Therapy notes of this session")
    notes.get_by_role("button", name=button, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("draft")
    listening(page)


def wait_for_autosave(page: Page, *typed) -> None:
    """The autosave status says so, and the last save holds everything typed and its version is
    the page's: signing now cannot race a save still on its way (a 409 "saved meanwhile")."""
    expect(page.locator("#autosave-status")).to_contain_text("Draft saved")
    draft_id = int(re.search(r"/notes/drafts/(\d+)/", page.url)[1])
    for _ in range(100):
        draft = NoteDraft.objects.get(pk=draft_id)
        if (set(typed) <= set(draft.content.values())
                and page.locator("#note-version").input_value() == str(draft.version)):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the draft was not saved as typed: {draft.content}")


def sign(page: Page) -> None:
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.locator(".messages")).to_contain_text("Signed. The note is locked")
    expect(page.locator(".signed-note")).to_contain_text("unchanged since signing")


def test_notes_are_written_around_a_dosing_session_with_an_adverse_event_and_read_by_the_care_team_or_by_emergency_access(  # noqa: E501
        page, console_errors, dosed, screenshot_dir):
    violations: dict[str, list[dict]] = {}
    log_in(page, "theo", PASSWORD)
    start_note(page, dosed.pk, "Preparation note")
    page.get_by_label("Intentions", exact=True).fill(INTENTIONS)
    page.get_by_label("Concerns", exact=True).fill("Afraid of losing control; we agreed a hand signal")
    page.get_by_label("Set and setting", exact=True).fill("Slept well, light breakfast; eyeshade, "
                                                          "the piano playlist, sister drives home")
    page.get_by_label("Consent reviewed").check()
    wait_for_autosave(page, INTENTIONS, True)
    violations["draft"] = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "note-draft.png", full_page=True)
    sign(page)
    expect(page.locator(".signed-note")).to_contain_text(INTENTIONS)
    violations["signed note"] = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "note-signed.png", full_page=True)
    log_out(page)

    log_in(page, "nina", PASSWORD)
    page.goto(f"/sessions/{dosed.pk}/")
    page.get_by_role("link", name="Record an adverse event").click()
    page.get_by_label("What happened").select_option(label="Hypertension (blood pressure rise)")
    page.get_by_label("Description").fill("BP 192/110 at 30 minutes; infusion paused")
    page.get_by_label("Severe").check()
    page.get_by_label("Grade (1 mild to 5 death)").select_option("3")
    page.get_by_label("Is another important medical event").check()
    page.get_by_label("Action taken with the drug").select_option(label="Infusion paused")
    page.get_by_role("button", name="Record the event").click()
    expect(page.locator(".messages")).to_contain_text("the prescriber is alerted")
    log_out(page)

    log_in(page, "theo", PASSWORD)
    start_note(page, dosed.pk, "Integration note")
    page.get_by_label("Themes", exact=True).fill(THEMES)
    page.get_by_label("Insights", exact=True).fill("The fear in the blood-pressure scare was survivable")
    page.get_by_label("Plan", exact=True).fill("Next session in a week; the prescriber to review the BP")
    wait_for_autosave(page, THEMES)
    sign(page)
    page.get_by_label("Addendum").fill("Correction: the sister, not the brother, drove home.")
    page.get_by_role("button", name="Sign the addendum").click()
    expect(page.locator(".messages")).to_contain_text("The note above it is unchanged")
    note, addendum = page.locator(".signed-note"), page.locator(".addendum")
    expect(note).to_contain_text(THEMES)
    expect(note).to_contain_text("unchanged since signing")
    expect(addendum).to_contain_text("the sister, not the brother")
    assert note.bounding_box()["y"] < addendum.bounding_box()["y"]
    log_out(page)

    log_in(page, "alice", PASSWORD)
    page.goto("/alerts/")
    expect(page.locator("body")).to_contain_text("Serious adverse event: Hypertension")
    page.get_by_role("link", name="review the event").first.click()
    page.get_by_label("Caused by the drug?").select_option(label="Related")
    page.get_by_role("button", name="Record the review").click()
    expect(page.locator(".messages")).to_contain_text("Your review is recorded")
    page.goto(f"/patients/{dosed.patient_id}/")
    notes = page.get_by_role("region", name="Therapy notes", exact=True)
    expect(notes.get_by_role("link", name="Preparation", exact=True)).to_be_visible()
    expect(notes.locator("li", has_text="Integration")).to_contain_text("1 addendum")
    notes.scroll_into_view_if_needed()
    page.screenshot(caret="initial", path=screenshot_dir / "chart-notes.png", full_page=True)
    notes.get_by_role("link", name="Integration", exact=True).click()
    expect(page.locator(".signed-note")).to_contain_text(THEMES)
    log_out(page)

    log_in(page, "ned", PASSWORD)
    page.goto(f"/patients/{dosed.patient_id}/")
    notes = page.get_by_role("region", name="Therapy notes", exact=True)
    expect(notes).to_contain_text("Read by the care team only")
    expect(notes.get_by_role("link", name="Integration", exact=True)).to_have_count(0)
    notes.get_by_role("link", name="Emergency access…").click()
    page.get_by_label("Patient in crisis or a medical emergency").check()
    page.get_by_label("Why now, in a sentence").fill("Called by her sister at night: "
                                                     "panic after the session, on call alone")
    violations["emergency access"] = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "emergency-access.png", full_page=True)
    page.get_by_role("button", name=re.compile(r"^Open the notes for \d+ minutes$")).click()
    expect(page.locator(".messages")).to_contain_text("Emergency access open until")
    notes.get_by_role("link", name="Integration", exact=True).click()
    expect(page.locator(".signed-note")).to_contain_text(THEMES)
    log_out(page)

    log_in(page, "adam", PASSWORD)
    page.goto("/emergency-access/")
    waiting = page.get_by_role("region", name=re.compile(r"^Waiting for review"))
    expect(waiting).to_contain_text("Ned Newman")
    expect(waiting).to_contain_text("Patient in crisis or a medical emergency")
    page.screenshot(caret="initial", path=screenshot_dir / "emergency-review.png", full_page=True)
    waiting.get_by_role("button", name="Mark reviewed").click()
    expect(page.locator(".messages")).to_contain_text("Marked reviewed")
    expect(page.get_by_role("region", name="Reviewed lately")).to_contain_text("Ned Newman")
    assert all(not v for v in violations.values()), describe(violations)
    assert console_errors == []


def test_an_autosave_refused_because_another_window_saved_says_so_instead_of_looking_saved(
        page, dosed, screenshot_dir):
    log_in(page, "theo", PASSWORD)
    start_note(page, dosed.pk, "Preparation note")
    page.get_by_label("Intentions", exact=True).fill(INTENTIONS)
    wait_for_autosave(page, INTENTIONS)
    other_window = page.context.new_page()
    other_window.goto(page.url)
    other_window.wait_for_load_state("load")
    other_window.get_by_label("Concerns", exact=True).fill("Typed in the second window")
    expect(other_window.locator("#autosave-status")).to_contain_text("Draft saved")

    page.get_by_label("Set and setting", exact=True).fill("Typed in the first window, now stale")

    status = page.locator("#autosave-status")
    expect(status.get_by_role("alert")).to_contain_text(
        "saved from another window or device meanwhile. Not saved: reload the page")
    expect(status).not_to_contain_text("Draft saved")
    page.screenshot(caret="initial", path=screenshot_dir / "note-autosave-refused.png")
    draft = NoteDraft.objects.get(pk=int(re.search(r"/notes/drafts/(\d+)/", page.url)[1]))
    assert draft.content.get("concerns") == "Typed in the second window"
    assert "now stale" not in str(draft.content)
