"""Counts: one that differs from the ledger is a discrepancy until the clinic admin resolves
it with a reason, optionally setting the balance to the count."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kapclinic.inventory import actions, stock
from kapclinic.inventory.errors import FieldError
from kapclinic.inventory.models import Balance, Kind, LedgerLine
from tests.conftest import login

pytestmark = pytest.mark.django_db


def test_a_count_that_agrees_opens_no_discrepancy(stocked, safe, nurse):
    counted = actions.record_count(lot=stocked, location=safe, kind="shift", counted_ml="40", by=nurse)
    assert (counted.counted_mg, counted.balance_mg, counted.difference_mg) == (
        Decimal("400"), Decimal("400"), Decimal("0"))
    assert not actions.open_discrepancies(stocked.clinic_id).exists()


def test_a_short_count_is_a_discrepancy_the_admin_resolves_and_may_adjust(
        stocked, safe, nurse, clinic_admin):
    counted = actions.record_count(lot=stocked, location=safe, kind="shift", counted_mg="390",
                                   estimated=True, by=nurse)
    assert list(actions.open_discrepancies(stocked.clinic_id)) == [counted]
    resolution = actions.resolve(count=counted, reason="A 10 mg wastage was not recorded",
                                 adjust=True, by=clinic_admin)
    assert resolution.adjustment.kind == Kind.ADJUSTMENT
    assert resolution.adjustment.amount_mg == Decimal("-10")
    assert Balance.objects.get(lot=stocked, location=safe).quantity_mg == Decimal("390")
    assert not actions.open_discrepancies(stocked.clinic_id).exists()
    assert stock.mismatches() == []
    with pytest.raises(FieldError, match="already resolved"):
        actions.resolve(count=counted, reason="again", adjust=False, by=clinic_admin)


def test_a_resolution_needs_a_reason_and_a_count_that_differs(stocked, safe, nurse, clinic_admin):
    short = actions.record_count(lot=stocked, location=safe, kind="shift", counted_mg="1", by=nurse)
    with pytest.raises(FieldError, match="required"):
        actions.resolve(count=short, reason="", adjust=False, by=clinic_admin)
    agrees = actions.record_count(lot=stocked, location=safe, kind="shift", counted_mg="400", by=nurse)
    with pytest.raises(FieldError, match="nothing to resolve"):
        actions.resolve(count=agrees, reason="x", adjust=False, by=clinic_admin)


def test_a_clinic_that_counts_exactly_refuses_an_estimate(stocked, safe, nurse, clinic_a):
    from kapclinic.inventory.models import LedgerSettings

    LedgerSettings.objects.create(clinic=clinic_a, exact_counts=True)
    with pytest.raises(FieldError, match="counts exactly"):
        actions.record_count(lot=stocked, location=safe, kind="inventory", counted_mg="400",
                             estimated=True, by=nurse)


def test_a_nurse_counts_at_shift_change_and_the_admin_resolves_from_the_pages(
        stocked, safe, nurse, clinic_admin):
    response = login(nurse).post(f"/stock/lots/{stocked.pk}/count/", {
        "location": safe.pk, "kind": "shift", "counted_mg": "380"})
    assert response.status_code == 302
    assert "1 count differs from the ledger" in login(nurse).get("/stock/").content.decode()
    admin = login(clinic_admin)
    page = admin.get("/stock/discrepancies/").content.decode()
    assert "380" in page and "−20" not in page and "-20" in page
    counted = actions.open_discrepancies(stocked.clinic_id).get()
    assert admin.post(f"/stock/counts/{counted.pk}/resolve/", {"reason": "Vial cracked; reported",
                                                               "adjust": "on"}).status_code == 302
    assert LedgerLine.objects.filter(kind=Kind.ADJUSTMENT).count() == 1
    assert "No open discrepancies" in admin.get("/stock/discrepancies/").content.decode()
    assert login(nurse).get(f"/stock/counts/{counted.pk}/resolve/").status_code == 403


def test_a_count_that_differs_raises_an_urgent_alert_that_resolving_acknowledges(
        stocked, safe, nurse, clinic_admin):
    from kapclinic.alerts.models import Alert

    count = actions.record_count(lot=stocked, location=safe, kind="shift", counted_mg=380, by=nurse)
    alert = Alert.objects.get(source="inventory", record_id=count.pk)
    assert (alert.priority, alert.acknowledged_at) == ("urgent", None)
    assert "20 mg less than the ledger" in alert.label
    actions.resolve(count=count, reason="A vial was broken and not recorded", adjust=True, by=clinic_admin)
    alert.refresh_from_db()
    assert alert.acknowledged_by == clinic_admin and "broken" in alert.acknowledgement_note


def test_the_admin_lands_on_the_discrepancies_while_one_is_unresolved(stocked, safe, nurse, clinic_admin):
    from tests.conftest import login

    client = login(clinic_admin)
    assert client.get("/")["Location"] != "/stock/discrepancies/"
    actions.record_count(lot=stocked, location=safe, kind="shift", counted_mg=380, by=nurse)
    assert client.get("/")["Location"] == "/stock/discrepancies/"
    assert ">K123</a>" in client.get("/stock/discrepancies/").content.decode()


def test_the_next_inventory_is_due_the_clinics_interval_after_the_last(stocked, safe, nurse, clinic_a,
                                                                       clinic_admin):
    from datetime import date

    from kapclinic.inventory import stock

    zone = clinic_a.zone
    assert stock.inventory_due(clinic_a.pk, date(2026, 12, 1), zone).due is None
    actions.record_count(lot=stocked, location=safe, kind="initial", counted_mg=400, by=nurse)
    day = stock.inventory_due(clinic_a.pk, date(2026, 12, 1), zone).last
    assert stock.inventory_due(clinic_a.pk, day, zone).due == stock.add_months(day, 24)
    actions.save_settings(clinic=clinic_a, by=clinic_admin, inventory_months=12)  # Iowa
    later = stock.add_months(day, 13)
    found = stock.inventory_due(clinic_a.pk, later, zone)
    assert found.due == stock.add_months(day, 12) and found.overdue


def test_a_month_without_the_day_ends_on_its_last_day():
    from datetime import date

    from kapclinic.inventory.stock import add_months

    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2026, 12, 15), 24) == date(2028, 12, 15)


def test_a_count_above_the_ledger_says_how_much_more_in_words(stocked, safe, nurse):
    from kapclinic.alerts.models import Alert

    count = actions.record_count(lot=stocked, location=safe, kind="shift", counted_mg=412.5, by=nurse)
    assert Alert.objects.get(source="inventory", record_id=count.pk).label.endswith(
        ": 12.5 mg more than the ledger")


def test_the_alerts_page_links_a_discrepancy_only_for_roles_that_may_open_it(stocked, safe, nurse,
                                                                               therapist):
    """An outside review: the therapist's alerts page linked to the discrepancies, a page their
    role is refused."""
    from tests.conftest import login

    actions.record_count(lot=stocked, location=safe, kind="shift", counted_mg=380, by=nurse)
    for user, linked in ((nurse, True), (therapist, False)):
        page = login(user).get("/alerts/")
        assert page.status_code == 200 and "20 mg less than the ledger" in page.content.decode()
        assert ('href="/stock/discrepancies/"' in page.content.decode()) is linked
        if linked:
            assert login(user).get("/stock/discrepancies/").status_code == 200
        else:
            assert login(user).get("/stock/discrepancies/").status_code == 403
