"""Stock that leaves other than by a dose: a destruction witnessed by two, a theft or loss
with its one-business-day notice to the DEA, a return to a reverse distributor."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from kapclinic.inventory import disposals
from kapclinic.inventory.errors import FieldError, WitnessRefused
from kapclinic.inventory.models import Balance, DeaNotice, Disposal, Kind, LedgerLine
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db


def destroy(lot, safe, by, **fields):
    return disposals.dispose(lot=lot, location=safe, kind="destruction", amount_mg=200,
                             happened_at=None, by=by, method="Sent for incineration",
                             place="Clinic pharmacy room", **fields)


def test_a_destruction_witnessed_by_two_takes_the_vial_out_of_stock(stocked, safe, nurse, prescriber,
                                                                    clinic_admin):
    record = destroy(stocked, safe, clinic_admin, witness=nurse, witness_password=PASSWORD,
                     second_witness=prescriber, second_witness_password=PASSWORD)
    [line] = LedgerLine.objects.filter(disposal=record)
    assert (line.kind, line.amount_mg, line.method) == (Kind.DESTRUCTION, Decimal("-200"),
                                                        "Sent for incineration")
    assert (record.witness, record.second_witness, record.place) == (nurse, prescriber,
                                                                     "Clinic pharmacy room")
    assert Balance.objects.get(lot=stocked, location=safe).quantity_mg == Decimal("200")


def test_a_destruction_needs_two_different_witnesses_who_authenticate(stocked, safe, nurse, prescriber,
                                                                      clinic_admin):
    with pytest.raises(FieldError, match="two different people"):
        destroy(stocked, safe, clinic_admin, witness=nurse, witness_password=PASSWORD,
                second_witness=nurse, second_witness_password=PASSWORD)
    with pytest.raises(WitnessRefused) as refused:
        destroy(stocked, safe, clinic_admin, witness=nurse, witness_password=PASSWORD,
                second_witness=prescriber, second_witness_password="wrong")
    assert refused.value.field == "second_witness_password"
    with pytest.raises(WitnessRefused):
        destroy(stocked, safe, clinic_admin, witness=nurse, witness_password=PASSWORD)
    assert not Disposal.objects.exists()
    assert Balance.objects.get(lot=stocked, location=safe).quantity_mg == Decimal("400")


def test_a_loss_discovered_on_a_friday_is_due_to_the_dea_by_the_end_of_monday(stocked, safe, nurse):
    record = disposals.dispose(lot=stocked, location=safe, kind="loss", amount_mg=200,
                               happened_at=None, by=nurse, description="Vial missing at the count")
    # the rule on the record as if discovered on Friday afternoon (clinic A: New York)
    record.happened_at = datetime(2026, 11, 27, 16, 0, tzinfo=ZoneInfo("America/New_York"))
    due = disposals.notice_due(record)
    local = due.astimezone(ZoneInfo("America/New_York"))
    assert local.strftime("%a %Y-%m-%d %H:%M") == "Mon 2026-11-30 23:59"


def test_a_theft_waits_for_its_written_notice_and_the_notice_is_recorded_once(stocked, safe, nurse):
    record = disposals.dispose(lot=stocked, location=safe, kind="theft", amount_mg=200,
                               happened_at=timezone.now() - timedelta(days=3), by=nurse,
                               description="Safe found open")
    assert list(disposals.awaiting_notice(stocked.clinic_id)) == [record]
    assert disposals.overdue(stocked.clinic_id) == [record]
    first = disposals.record_notice(disposal=record, step="written_notice", done_at=None, by=nurse)
    again = disposals.record_notice(disposal=record, step="written_notice", done_at=None, by=nurse)
    assert first == again and DeaNotice.objects.count() == 1
    assert list(disposals.awaiting_notice(stocked.clinic_id)) == []


def test_a_theft_or_loss_needs_what_happened(stocked, safe, nurse):
    with pytest.raises(FieldError, match="description: is required"):
        disposals.dispose(lot=stocked, location=safe, kind="loss", amount_mg=1, happened_at=None,
                          by=nurse, description=" ")


def test_a_return_names_the_reverse_distributor_and_its_dea_number(stocked, safe, prescriber):
    with pytest.raises(FieldError, match="recipient_dea"):
        disposals.dispose(lot=stocked, location=safe, kind="return", amount_mg=200, happened_at=None,
                          by=prescriber, recipient_name="Returns Inc", recipient_address="2 Way",
                          recipient_dea="x")
    record = disposals.dispose(lot=stocked, location=safe, kind="return", amount_mg=200,
                               happened_at=None, by=prescriber, recipient_name="Returns Inc",
                               recipient_address="2 Way", recipient_dea="rr1234567")
    assert record.recipient_dea == "RR1234567"
    assert LedgerLine.objects.get(disposal=record).kind == Kind.RETURN


def test_more_than_is_there_cannot_be_destroyed(stocked, safe, nurse, prescriber, clinic_admin):
    from kapclinic.inventory.errors import NotEnoughStock

    with pytest.raises(NotEnoughStock):
        disposals.dispose(lot=stocked, location=safe, kind="loss", amount_mg=401, happened_at=None,
                          by=nurse, description="x")
    assert not Disposal.objects.exists()


def test_a_nurse_reports_a_loss_from_the_page_and_sees_when_the_notice_is_due(stocked, safe, nurse):
    client = login(nurse)
    now = timezone.now().astimezone(stocked.clinic.zone).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/stock/lots/{stocked.pk}/loss/", {
        "kind": "loss", "location": safe.pk, "amount_ml": "20", "happened_at": now,
        "description": "One vial missing at the evening count"})
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get("/stock/losses/").content.decode()
    assert "One vial missing" in page and "due by" in page and "200 mg" in page
    assert client.get(f"/stock/lots/{stocked.pk}/destroy/").status_code == 403  # not a nurse's


def test_the_admin_records_a_destruction_from_the_page_with_two_witnesses(stocked, safe, nurse,
                                                                          prescriber, clinic_admin):
    now = timezone.now().astimezone(stocked.clinic.zone).strftime("%Y-%m-%dT%H:%M")
    response = login(clinic_admin).post(f"/stock/lots/{stocked.pk}/destroy/", {
        "kind": "destruction", "location": safe.pk, "amount_mg": "200", "happened_at": now,
        "method": "Incinerated by a licensed vendor", "place": "Vendor site",
        "witness": nurse.username, "witness_password": PASSWORD,
        "second_witness": prescriber.username, "second_witness_password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]
    page = login(clinic_admin).get(f"/stock/lots/{stocked.pk}/").content.decode()
    assert "Destroyed (DEA Form 41)" in page
