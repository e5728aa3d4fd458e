"""The bedside monitor pages as their users meet them: the admin registers a monitor at a chair,
and a nurse assigns a message no session claimed to the patient in the chair; both pages usable
with a screen reader or keyboard (axe-core)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.treatment.models import MessageStatus, MonitorDevice, MonitorMessage, VitalReading
from kapclinic.treatment.monitors import intake, simulate
from tests.browser.helpers import axe_violations, describe, log_in
from tests.conftest import PASSWORD, make_user, new_patient
from tests.treatment.helpers import cleared, eligible_and_consented

pytestmark = pytest.mark.browser


@pytest.fixture
def waiting_message(transactional_db):
    clinic = Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York")
    make_user("adam", clinic, Role.ADMIN, "Adam", "Admin")
    prescriber = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    nurse = make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")
    patient = new_patient(clinic, prescriber, prescriber=prescriber)
    eligible_and_consented(patient, prescriber)
    cleared(patient, prescriber, nurse, start=30)
    raw = simulate.message(control_id="WAITING-1", mrn="NOT-OURS", device="00A0C9FFFE000009",
                           at=datetime.now(UTC) - timedelta(minutes=2),
                           patient=simulate.Drift(random.Random(4)))
    intake.receive(raw, clinic=clinic, peer="127.0.0.1")
    return clinic


def test_the_admin_registers_a_monitor_and_a_nurse_assigns_an_unmatched_message(
        page, console_errors, waiting_message, screenshot_dir):
    log_in(page, "adam", PASSWORD)
    page.goto("/monitors/")
    page.get_by_label("Device id").fill("00A0C9FFFE000001")
    page.get_by_label("Name").fill("Chair A monitor")
    page.get_by_label("Room").fill("Room 1")
    page.get_by_label("Chair").fill("A")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Monitor 00A0C9FFFE000001 is at Room 1 chair A.")).to_be_visible()
    expect(page.locator("table")).to_contain_text("Chair A monitor")
    registered = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "monitors.png", full_page=True)
    assert MonitorDevice.objects.get().room == "Room 1"

    page.context.clear_cookies()
    log_in(page, "nina", PASSWORD)
    page.goto("/monitors/unmatched/")
    row = page.locator("tr", has_text="NOT-OURS")
    expect(row).to_contain_text("no patient with MRN NOT-OURS")
    expect(row).to_contain_text("Heart rate 78 /min, SpO2 97 %")  # to recognise the patient by
    waiting = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "monitors-unmatched.png", full_page=True)
    row.get_by_label("Session").select_option(label="Lovelace, Ada · Room 1 A")
    row.get_by_role("button", name="Assign").click()
    expect(page.get_by_text("Assigned to Lovelace's session")).to_be_visible()
    expect(page.get_by_text("None: every message found its session.")).to_be_visible()
    assert MonitorMessage.objects.get().status == MessageStatus.ASSIGNED
    assert VitalReading.objects.filter(source="device").count() == 1
    assert not registered and not waiting, describe({"monitors": registered, "unmatched": waiting})
    assert console_errors == [], f"browser console errors: {console_errors}"


@pytest.fixture
def streaming_high(transactional_db):
    """A patient in the chair whose monitor keeps sending the same high blood pressure."""
    clinic = Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York")
    prescriber = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")
    patient = new_patient(clinic, prescriber, prescriber=prescriber, mrn="STREAM-1")
    eligible_and_consented(patient, prescriber)
    session = cleared(patient, prescriber, make_user("nora", clinic, Role.NURSE, "Nora", "Nurse"), start=30)
    drift = simulate.Drift(random.Random(5), sbp=165.0, dbp=88.0)
    for n in range(4):
        intake.receive(simulate.message(control_id=f"STREAM-{n}", mrn="STREAM-1", device="00A0C9FFFE000011",
                                        at=datetime.now(UTC) - timedelta(seconds=90 - 20 * n), patient=drift),
                       clinic=clinic, peer="127.0.0.1")
    # and its SpO2 pleth sent under the SpO2 code: a waveform, not a reading
    pleth = simulate.message(control_id="STREAM-PLETH", mrn="STREAM-1", device="00A0C9FFFE000011",
                             at=datetime.now(UTC) - timedelta(seconds=5), patient=drift)
    spo2 = "150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.2.1|"
    pleth = "\r".join(line.replace(f"|NM|{spo2}", f"|NA|{spo2}0.98^1.02^") for line in pleth.split("\r")
                      if not line.startswith("OBX") or spo2 in line)
    intake.receive(pleth, clinic=clinic, peer="127.0.0.1")
    return session


def test_a_nurse_sees_one_alert_for_a_monitors_steady_stream_saying_how_often_it_fired_again(
        page, console_errors, streaming_high, screenshot_dir):
    log_in(page, "nina", PASSWORD)
    page.goto(f"/sessions/{streaming_high.pk}/")
    alerts = page.locator(".session-alert")
    above = "Blood pressure before dosing is above the esketamine label figure"
    expect(alerts.filter(has_text=above)).to_have_count(1)
    expect(alerts.first).to_contain_text("Fired again 3 times while open, no worse than this")
    not_charted = page.locator("section", has=page.get_by_role("heading", name="Monitor values not charted"))
    expect(not_charted).to_contain_text("sent as a waveform's samples (OBX-2 NA), not one measured number")
    found = axe_violations(page)
    page.screenshot(caret="initial", path=screenshot_dir / "session-alert-fired-again.png", full_page=True)
    # (no screenshot of a single card: the page's poll may swap it out mid-screenshot)
    page.goto("/")
    assert not found, describe({"session": found})
    assert console_errors == [], f"browser console errors: {console_errors}"
