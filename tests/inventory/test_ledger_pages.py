"""The ledger's pages: set up, receive, waste with a witness, move, reverse, draw a dose, and
read the stock and a lot's ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from kapclinic.audit.models import AuditEntry
from kapclinic.inventory import actions
from kapclinic.inventory.models import Balance, Kind, LedgerLine, LedgerSettings, Location, Lot, Product
from tests.conftest import PASSWORD, login
from tests.treatment.helpers import cleared, eligible_and_consented, minutes_ago

pytestmark = pytest.mark.django_db


def now_local() -> str:
    """Now as the clinic's page reads it (its own zone, as typed)."""
    from kapclinic.accounts.models import Clinic

    return timezone.now().astimezone(Clinic.objects.order_by("pk").first().zone).strftime("%Y-%m-%dT%H:%M")


def test_a_prescriber_adds_a_product_a_location_and_a_lot_and_a_nurse_receives_it(prescriber, nurse):
    client = login(prescriber)
    response = client.post("/stock/products/new/", {
        "ndc": "42023-113", "name": "Ketalar 10 mg/mL", "drug": "ketamine", "form": "vial",
        "concentration_mg_per_ml": "10", "container_ml": "20"})
    assert response.status_code == 302, response.content
    assert client.post("/stock/locations/new/", {"name": "Locked safe"}).status_code == 302
    product = Product.objects.get()
    response = client.post("/stock/lots/new/", {
        "product": product.pk, "lot_number": "K9", "expires_on": "2030-01-31",
        "supplier_name": "Example Supply", "supplier_address": "1 Example Way",
        "supplier_dea": "re0000001", "invoice": "INV-9"})
    assert response.status_code == 302 and response["Location"] == "/stock/receive/"
    lot = Lot.objects.get()
    assert lot.supplier_dea == "RE0000001"
    safe = Location.objects.get()
    response = login(nurse).post("/stock/receive/", {"lot": lot.pk, "location": safe.pk,
                                                     "containers": "3", "at": now_local()})
    assert response.status_code == 302
    assert Balance.objects.get(lot=lot).quantity_mg == Decimal("600")


def test_a_bad_ndc_is_refused_naming_the_field(prescriber):
    response = login(prescriber).post("/stock/products/new/", {
        "ndc": "ketamine", "name": "K", "drug": "ketamine", "form": "vial",
        "concentration_mg_per_ml": "10", "container_ml": "20"})
    assert response.status_code == 422
    assert b"National Drug Code" in response.content and not Product.objects.exists()


def test_a_nurse_cannot_add_products(nurse):
    assert login(nurse).get("/stock/products/new/").status_code == 403


def test_the_stock_page_shows_each_lot_at_each_location_in_mg_and_ml(stocked, nurse):
    page = login(nurse).get("/stock/").content.decode()
    assert "K123" in page and "Locked safe" in page and ">400<" in page and ">40<" in page


def test_a_wastage_with_a_witness_is_recorded_from_the_page(stocked, drawn, nurse, prescriber):
    form = login(nurse).get(f"/stock/draws/{drawn.pk}/waste/").content.decode()
    assert "165 mg (16.5 mL)" in form  # what the opened vial has left after the 35 mg dose
    response = login(nurse).post(f"/stock/draws/{drawn.pk}/waste/", {
        "amount_ml": "0.5", "method": "Waste container", "at": now_local(),
        "witness": prescriber.username, "witness_password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:3000]
    line = LedgerLine.objects.get(kind=Kind.WASTE)
    assert (line.amount_mg, line.witness) == (Decimal("-5"), prescriber)
    page = login(nurse).get(f"/stock/lots/{stocked.pk}/").content.decode()
    assert "Wasted" in page and prescriber.display_name in page


def test_a_wastage_without_the_witness_is_refused_with_a_message(drawn, nurse):
    response = login(nurse).post(f"/stock/draws/{drawn.pk}/waste/", {
        "amount_mg": "5", "method": "sink", "at": now_local()})
    assert response.status_code == 422
    assert b"requires a witness" in response.content
    assert not LedgerLine.objects.filter(kind=Kind.WASTE).exists()


def test_a_move_and_its_reversal_from_the_pages(stocked, safe, cart, nurse):
    client = login(nurse)
    response = client.post(f"/stock/lots/{stocked.pk}/transfer/", {
        "source": safe.pk, "destination": cart.pk, "amount_mg": "200", "at": now_local()})
    assert response.status_code == 302, response.content.decode()[:3000]
    out = LedgerLine.objects.get(kind=Kind.TRANSFER_OUT)
    assert client.post(f"/stock/lines/{out.pk}/reverse/", {"reason": "Wrong cart"}).status_code == 302
    assert LedgerLine.objects.filter(kind=Kind.REVERSAL).count() == 2
    page = client.get(f"/stock/lots/{stocked.pk}/").content.decode()
    assert "reversed by line" in page and "Wrong cart" in page


def test_another_clinics_lot_is_not_found_and_the_attempt_is_audited(stocked, other_clinician):
    response = login(other_clinician).get(f"/stock/lots/{stocked.pk}/")
    assert response.status_code == 404
    assert AuditEntry.objects.filter(action="denied", object_type="lot",
                                     object_id=str(stocked.pk)).exists()


def test_the_admin_reads_the_lot_ledger_without_patient_mrns(stocked, safe, patient, nurse, clinic_admin):
    actions.draw_for_dose(lot=stocked, location=safe, patient=patient, session_id=1,
                          administration_id=1, dose_mg=35, by=nurse)
    page = login(clinic_admin).get(f"/stock/lots/{stocked.pk}/").content.decode()
    assert patient.mrn not in page and f"patient record {patient.pk}" in page
    assert patient.mrn in login(nurse).get(f"/stock/lots/{stocked.pk}/").content.decode()


def test_a_dose_given_without_a_lot_is_drawn_from_the_doses_to_draw_page(
        stocked, safe, patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    session = cleared(patient, prescriber, nurse, start=20)
    from kapclinic.treatment import actions as treatment

    given = treatment.record_administration(session, at=minutes_ago(1), by=nurse, dose_mg_per_kg=0.5)
    client = login(nurse)
    page = client.get("/stock/draws/").content.decode()
    assert patient.mrn in page and "35 mg Racemic ketamine, IV infusion" in page
    assert "1 dose not yet drawn" in client.get("/stock/").content.decode()
    response = client.post("/stock/draws/new/", {"patient": patient.pk, "administration": given.pk,
                                                 "lot": stocked.pk, "location": safe.pk})
    assert response.status_code == 302, response.content.decode()[:3000]
    line = LedgerLine.objects.get(kind=Kind.ADMINISTRATION)
    assert (line.administration_id, line.session_id, line.amount_mg) == (given.pk, session.pk, Decimal("-35"))
    assert "Every dose" in client.get("/stock/draws/").content.decode()


SETTINGS = {"retention_years": "2", "inventory_months": "24", "late_entry_days": "14",
            "witness_waste": "on"}


def test_the_admin_may_stop_requiring_a_witness_and_the_change_is_audited(clinic_admin, clinic_a):
    assert LedgerSettings.for_clinic(clinic_a.pk).witness_waste is True
    form = {**SETTINGS}
    del form["witness_waste"]  # an unticked box sends nothing
    assert login(clinic_admin).post("/stock/settings/", form).status_code == 302
    assert LedgerSettings.for_clinic(clinic_a.pk).witness_waste is False
    assert AuditEntry.objects.filter(action="update", object_type="ledger_settings",
                                     detail_json__contains="witness_waste").exists()


def test_a_prescriber_cannot_switch_off_the_witness_of_their_own_wastage(prescriber, clinic_a):
    assert login(prescriber).post("/stock/settings/", {"retention_years": "2"}).status_code == 403
    assert LedgerSettings.for_clinic(clinic_a.pk).witness_waste is True


def test_the_iowa_preset_sets_an_annual_inventory_and_exact_counts(clinic_admin, clinic_a):
    response = login(clinic_admin).post("/stock/settings/", {**SETTINGS, "preset": "iowa"})
    assert response.status_code == 302
    saved = LedgerSettings.for_clinic(clinic_a.pk)
    assert (saved.inventory_months, saved.exact_counts, saved.retention_years) == (12, True, 2)


def test_a_retention_below_the_federal_two_years_is_refused_naming_the_field(clinic_admin, clinic_a):
    response = login(clinic_admin).post("/stock/settings/", {**SETTINGS, "retention_years": "1"})
    assert response.status_code == 422 and b"greater than or equal to 2" in response.content
    assert LedgerSettings.for_clinic(clinic_a.pk).pk is None


def test_another_clinics_location_in_a_form_is_refused_and_audited(stocked, safe, nurse, clinic_b,
                                                                   other_clinician):
    theirs = actions.add_location(clinic=clinic_b, name="Their safe", by=other_clinician)
    response = login(nurse).post(f"/stock/lots/{stocked.pk}/transfer/", {
        "source": safe.pk, "destination": theirs.pk, "amount_mg": "1", "at": now_local()})
    assert response.status_code == 422
    assert AuditEntry.objects.filter(action="denied", object_type="form_choice",
                                     detail_json__contains="destination").exists()


def test_a_nurse_is_not_offered_to_reverse_a_receipt_and_is_refused_if_she_tries(stocked, nurse):
    receipt = LedgerLine.objects.get(kind=Kind.RECEIPT)
    page = login(nurse).get(f"/stock/lots/{stocked.pk}/").content.decode()
    assert f"/stock/lines/{receipt.pk}/reverse/" not in page
    response = login(nurse).post(f"/stock/lines/{receipt.pk}/reverse/", {"reason": "typo"})
    assert response.status_code == 422 and b"Only the clinic admin or a prescriber" in response.content
    assert not LedgerLine.objects.filter(kind=Kind.REVERSAL).exists()


def test_reading_a_lot_ledger_records_a_read_of_each_patient_it_names(stocked, drawn, patient, nurse):
    login(nurse).get(f"/stock/lots/{stocked.pk}/")
    assert AuditEntry.objects.filter(action="read", object_type="patient", patient_id=patient.pk,
                                     detail_json__contains="lot ledger").exists()


def test_a_long_lot_ledger_is_shown_a_page_at_a_time(stocked, safe, cart, nurse, monkeypatch):
    from kapclinic.inventory import stock

    monkeypatch.setattr(stock, "LINES_PER_PAGE", 3)
    for _ in range(4):
        actions.transfer(lot=stocked, source=safe, destination=cart, amount_mg=1, by=nurse)
    page = login(nurse).get(f"/stock/lots/{stocked.pk}/").content.decode()
    newest = LedgerLine.objects.order_by("-id").first()
    assert f'id="line-{newest.pk}"' in page and "Earlier lines" in page
    first = LedgerLine.objects.order_by("id").first()
    assert f'id="line-{first.pk}"' not in page


def test_a_dose_whose_rest_is_wasted_offers_neither_more_wastage_nor_its_reversal(
        stocked, drawn, nurse, prescriber):
    page = login(nurse).get(f"/stock/lots/{stocked.pk}/").content.decode()
    assert f"/stock/draws/{drawn.pk}/waste/" in page and f"/stock/lines/{drawn.pk}/reverse/" in page
    actions.waste(draw=drawn, amount_mg=165, method="sink", by=nurse, witness=prescriber,
                  witness_password=PASSWORD)
    page = login(nurse).get(f"/stock/lots/{stocked.pk}/").content.decode()
    assert f"/stock/draws/{drawn.pk}/waste/" not in page and f"/stock/lines/{drawn.pk}/reverse/" not in page
