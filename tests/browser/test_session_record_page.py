"""The printable session record and the visit codes page in the browser: axe clean on screen,
printed without the navigation on A4 and Letter (a real PDF, page numbers in the margin), and
the visit codes CSV downloaded from its button."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.treatment import actions
from kapclinic.treatment.models import Administration, Session, VitalReading
from tests.browser.helpers import axe_violations, describe, log_in
from tests.conftest import PASSWORD, make_user, new_patient
from tests.treatment.test_rems_form import esketamine_session

pytestmark = pytest.mark.browser


@pytest.fixture
def treated(transactional_db) -> Session:
    clinic = Clinic.objects.create(slug="clinic-a", name="Harbor Ketamine Clinic",
                                   time_zone="America/New_York")
    alice = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    nina = make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")
    make_user("adam", clinic, Role.ADMIN, "Adam", "Admin")
    ada = new_patient(clinic, alice, prescriber=alice)
    s = esketamine_session(ada, alice, nina)
    wrong = VitalReading.objects.filter(session=s, sbp_mmhg=136).get()
    actions.mark_vitals_entered_in_error(wrong, reason="Typed into the wrong chair's session", by=nina)
    return s


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_the_session_record_prints_without_the_navigation_on_a4_and_letter(
        page, console_errors, treated, screenshot_dir):
    log_in(page, "alice", PASSWORD)
    page.goto(f"/sessions/{treated.pk}/record/")
    expect(page.locator(".session-printout")).to_contain_text("SPR-0042")
    expect(page.locator("tr.in-error")).to_have_count(1)
    assert axe_violations(page) == [], describe({"session record": axe_violations(page)})
    page.screenshot(caret="initial", path=screenshot_dir / "session-record-screen.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(caret="initial", path=screenshot_dir / "session-record-phone.png", full_page=True)
    page.get_by_role("heading", name="Vital signs").scroll_into_view_if_needed()
    page.screenshot(caret="initial", path=screenshot_dir / "session-record-phone-vitals.png")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.get_by_role("link", name="Back to the session")).to_be_hidden()
    expect(page.locator(".record-head")).to_contain_text("MRN A-0001")
    for size in ("A4", "Letter"):
        pdf = page.pdf(format=size, print_background=True)
        (screenshot_dir / f"session-record-{size.lower()}.pdf").write_bytes(pdf)
        assert 1 <= pdf_pages(pdf) <= 3, f"the record prints on {pdf_pages(pdf)} {size} pages"
    assert console_errors == []


def test_the_admin_downloads_the_visit_codes_of_a_period_from_the_page(
        page, console_errors, treated, screenshot_dir):
    given = Administration.objects.get(session=treated)
    day = timezone.localtime(given.started_at, treated.patient.clinic.zone).date()
    log_in(page, "adam", PASSWORD)
    page.goto("/sessions/visit-codes/")
    assert axe_violations(page) == [], describe({"visit codes": axe_violations(page)})
    page.get_by_label("From").fill(day.isoformat())
    page.get_by_label("To").fill((day - timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Download the CSV").click()
    expect(page.get_by_role("alert")).to_contain_text("To: is before the first day")
    assert axe_violations(page) == [], describe({"visit codes, refused": axe_violations(page)})
    page.screenshot(caret="initial", path=screenshot_dir / "visit-codes-refused.png", full_page=True)

    page.get_by_label("To").fill(day.isoformat())
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download the CSV").click()
    download = downloading.value
    assert download.suggested_filename == f"visit-codes-clinic-a-{day}-to-{day}.csv"
    [row] = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    assert (row["MRN"], row["Visit code"], row["Dose given (mg)"]) == ("A-0001", "G2082", "56")
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto("/sessions/visit-codes/")
    page.screenshot(caret="initial", path=screenshot_dir / "visit-codes-tablet.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(caret="initial", path=screenshot_dir / "visit-codes-phone.png", full_page=True)
    # the one refusal above answered 422, as it should; nothing else went wrong
    assert [e for e in console_errors if "status of 422" not in e] == []
