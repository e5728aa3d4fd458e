"""An esketamine session's Spravato REMS Patient Monitoring Form in the browser: the banner
until it is marked submitted, printed alone on one page (print media and a real PDF), axe
clean, and gone once marked."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.treatment.models import Session
from kapclinic.treatment.rems_models import RemsFormDetails, RemsSubmission
from tests.browser.helpers import axe_violations, describe, log_in
from tests.conftest import PASSWORD, make_user, new_patient
from tests.treatment.test_rems_form import esketamine_session

pytestmark = pytest.mark.browser


@pytest.fixture
def treated(transactional_db) -> Session:
    clinic = Clinic.objects.create(slug="clinic-a", name="Harbor Ketamine Clinic",
                                   time_zone="America/New_York")
    RemsFormDetails.objects.create(clinic=clinic, address="1 Pier Road, Suite 4", city="Portland",
                                   state="ME", zip_code="04101")
    alice = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    nina = make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")
    ada = new_patient(clinic, alice, prescriber=alice)
    return esketamine_session(ada, alice, nina)


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_the_printed_rems_form_fits_one_page_and_the_banner_goes_once_marked(
        page, console_errors, treated, screenshot_dir):
    log_in(page, "nina", PASSWORD)
    page.goto(f"/sessions/{treated.pk}/rems/")
    expect(page.get_by_role("alert").filter(has_text="Not yet submitted")).to_be_visible()
    expect(page.locator(".rems-form")).to_contain_text("SPR-0042")
    assert axe_violations(page) == [], describe({"REMS form": axe_violations(page)})
    page.screenshot(caret="initial", path=screenshot_dir / "rems-form-screen.png", full_page=True)

    page.emulate_media(media="print")
    expect(page.get_by_role("alert").filter(has_text="Not yet submitted")).to_be_hidden()
    expect(page.get_by_role("button", name="Mark submitted")).to_be_hidden()
    page.screenshot(path=screenshot_dir / "rems-form-print.png", full_page=True)
    for size in ("Letter", "A4"):
        pdf = page.pdf(format=size, print_background=True)
        (screenshot_dir / f"rems-form-{size.lower()}.pdf").write_bytes(pdf)
        assert pdf_pages(pdf) == 1, f"the form prints on {pdf_pages(pdf)} {size} pages"
    page.emulate_media(media="screen")

    today = timezone.localtime(timezone.now(), treated.patient.clinic.zone).date()
    page.get_by_label("Submitted on").fill(today.isoformat())
    page.get_by_label("Fax").check()
    page.get_by_role("button", name="Mark submitted").click()
    expect(page.locator(".messages")).to_contain_text("marked submitted")
    expect(page.locator(".rems-banner")).to_contain_text("Submitted")
    expect(page.get_by_text("Not yet submitted")).to_have_count(0)
    assert RemsSubmission.objects.filter(session=treated, method="fax").count() == 1
    page.screenshot(caret="initial", path=screenshot_dir / "rems-form-submitted.png", full_page=True)
    assert console_errors == []
