"""The controlled-substance ledger in the browser: a nurse receives a lot, a session's dose is
drawn from it, the rest of the vial is wasted with a witness who types their password, a
count at shift change differs and the admin, landing on it, resolves it (axe clean, and the
ledger printable without its buttons)."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.inventory import actions
from tests.browser.helpers import axe_violations, describe, log_in, log_out
from tests.conftest import PASSWORD, make_user, new_patient

pytestmark = pytest.mark.browser


@pytest.fixture
def clinic(transactional_db):
    clinic = Clinic.objects.create(slug="clinic-a", name="Harbor Ketamine Clinic",
                                   time_zone="America/New_York")
    alice = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    make_user("nina", clinic, Role.NURSE, "Nina", "Nurse")
    make_user("adam", clinic, Role.ADMIN, "Adam", "Admin")
    patient = new_patient(clinic, alice, prescriber=alice)
    product = actions.add_product(clinic=clinic, ndc="42023-113", name="Ketalar (ketamine HCl) 10 mg/mL",
                                  drug="ketamine", form="vial", concentration_mg_per_ml="10",
                                  container_ml="20", by=alice)
    actions.add_lot(product=product, lot_number="KX2231", expires_on=timezone.now().date().replace(year=2031),
                    supplier_name="Example Medical Supply", supplier_address="100 Example Way, Springfield",
                    supplier_dea="RE0000001", invoice="INV-55120", by=alice)
    actions.add_location(clinic=clinic, name="Locked safe", by=alice)
    actions.add_location(clinic=clinic, name="Dosing room cart", by=alice)
    return {"clinic": clinic, "patient": patient, "alice": alice}


def test_a_lot_received_a_session_dose_drawn_from_it_the_rest_wasted_with_a_witness_and_printed(
        page, console_errors, clinic, screenshot_dir):
    from tests.treatment.helpers import cleared, eligible_and_consented

    nina = clinic["alice"].__class__.objects.get(username="nina")
    eligible_and_consented(clinic["patient"], clinic["alice"])
    session = cleared(clinic["patient"], clinic["alice"], nina, start=20)

    log_in(page, "nina", PASSWORD)
    page.goto("/stock/receive/")
    page.get_by_label("Lot").select_option(index=1)  # the one lot (after the blank choice)
    page.get_by_label("Put in").select_option(label="Locked safe")
    page.get_by_label("Full vials or devices received").fill("4")
    page.get_by_role("button", name="Record the receipt").click()
    expect(page.locator(".messages")).to_contain_text("Received 4")
    expect(page.locator(".lot-record")).to_contain_text("Locked safe: 800 mg (80 mL)")

    # the session's dose names the lot and the product: it is drawn from the safe as recorded
    page.goto(f"/sessions/{session.pk}/")
    page.get_by_role("spinbutton", name="Dose", exact=True).fill("0.5")
    expect(page.locator("#dose-preview")).to_contain_text("35 mg = 0.5 mg/kg")
    page.get_by_label("Lot").fill("KX2231")
    page.get_by_label("Product (NDC)").fill("42023-113")
    page.get_by_role("button", name="Record the dose and start dosing").click()
    expect(page.locator(".status-strip .session-state")).to_have_text("Being dosed")

    page.goto("/stock/")
    expect(page.locator(".stock-table")).to_contain_text("765")
    page.get_by_role("link", name="KX2231").first.click()
    ledger = page.locator(".ledger-table")
    expect(ledger).to_contain_text("Administered")
    page.get_by_role("link", name="Waste the rest").click()
    expect(page.locator(".facts")).to_contain_text("165 mg (16.5 mL)")
    page.get_by_label("or amount (mL)").fill("16.5")
    page.get_by_label("How it was wasted").fill("Emptied into the waste container")
    page.get_by_label("Witness's username").fill("alice")
    page.get_by_label("Witness's password").fill("not her password")
    page.get_by_role("button", name="Record the wastage").click()
    expect(page.get_by_role("alert")).to_contain_text("not right: nothing was recorded")
    assert axe_violations(page) == [], describe({"waste form": axe_violations(page)})
    page.screenshot(caret="initial", path=screenshot_dir / "stock-waste.png", full_page=True)
    page.get_by_label("Witness's password").fill(PASSWORD)
    page.get_by_role("button", name="Record the wastage").click()
    expect(page.locator(".messages")).to_contain_text("The wastage is recorded")
    expect(ledger).to_contain_text("Wasted")
    expect(ledger).to_contain_text("Alice Prescott")
    expect(ledger).to_contain_text("-165")
    expect(page.locator(".lot-record")).to_contain_text("Locked safe: 600 mg (60 mL)")
    assert axe_violations(page) == [], describe({"lot ledger": axe_violations(page)})
    page.screenshot(caret="initial", path=screenshot_dir / "stock-lot-ledger.png", full_page=True)
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    page.screenshot(caret="initial", path=screenshot_dir / "stock-lot-ledger-print.png", full_page=True)
    page.emulate_media(media="screen")

    page.goto("/stock/")
    expect(page.locator(".stock-table")).to_contain_text("600")
    assert axe_violations(page) == [], describe({"stock": axe_violations(page)})
    page.screenshot(caret="initial", path=screenshot_dir / "stock.png", full_page=True)
    # the wrong password is answered 422 (nothing recorded); nothing else may fail
    assert [e for e in console_errors if "status of 422" not in e] == []


def test_a_count_at_shift_change_that_differs_is_resolved_by_the_admin(page, clinic, screenshot_dir):
    from kapclinic.inventory.models import Location, Lot

    lot, safe = Lot.objects.get(), Location.objects.get(name="Locked safe")
    actions.receive(lot=lot, location=safe, containers=1, by=clinic["alice"])
    log_in(page, "nina", PASSWORD)
    page.goto(f"/stock/lots/{lot.pk}/")
    page.get_by_role("link", name="Count", exact=True).click()
    page.get_by_label("Counted at").select_option(label="Locked safe")
    page.get_by_label("or counted (mL)").fill("19.5")
    page.get_by_label("An estimate of an opened container").check()
    page.get_by_role("button", name="Record the count").click()
    expect(page.locator(".messages")).to_contain_text("The count is 5 mg less than the ledger")

    log_out(page)
    log_in(page, "adam", PASSWORD)  # the admin starts from the open discrepancy
    expect(page).to_have_url(re.compile(r"/stock/discrepancies/$"))
    assert axe_violations(page) == [], describe({"discrepancies": axe_violations(page)})
    page.screenshot(caret="initial", path=screenshot_dir / "stock-discrepancies.png", full_page=True)
    page.get_by_label("What explains the difference").fill("Evaporation estimate; vial checked")
    page.get_by_label("Set the balance to the count").check()
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".messages")).to_contain_text("is resolved")
    expect(page.locator("body")).to_contain_text("No open discrepancies")
