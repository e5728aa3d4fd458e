"""What an outside review of the ledger found, each pinned: wastage follows a dose and fits
its opened containers, only the right people correct lines, the settings are the admin's, a
dose is drawn only from a lot that fits it, and impossible numbers and dates are refused."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from kapclinic.inventory import actions
from kapclinic.inventory.errors import FieldError
from kapclinic.inventory.models import Kind, LedgerLine, LedgerSettings, StockCount
from tests.conftest import PASSWORD
from tests.inventory.conftest import add_lot

pytestmark = pytest.mark.django_db


def test_wastage_is_bounded_by_what_the_opened_vial_had_left(drawn, nurse, prescriber):
    actions.waste(draw=drawn, amount_mg=100, method="sink", by=nurse, witness=prescriber,
                  witness_password=PASSWORD)
    with pytest.raises(FieldError, match="at most 65 mg .6.5 mL. is left"):
        actions.waste(draw=drawn, amount_mg=66, method="sink", by=nurse, witness=prescriber,
                      witness_password=PASSWORD)
    assert LedgerLine.objects.filter(kind=Kind.WASTE).count() == 1


def test_wastage_is_taken_from_where_the_dose_was_drawn(drawn, safe, nurse, prescriber):
    line = actions.waste(draw=drawn, amount_mg=165, method="sink", by=nurse, witness=prescriber,
                         witness_password=PASSWORD)
    assert (line.lot, line.location, line.related, line.patient) == (drawn.lot, safe, drawn, drawn.patient)


def test_a_reversed_draw_has_nothing_to_waste_and_a_draw_with_wastage_is_not_reversed_first(
        drawn, nurse, prescriber):
    actions.waste(draw=drawn, amount_mg=10, method="sink", by=nurse, witness=prescriber,
                  witness_password=PASSWORD)
    with pytest.raises(FieldError, match="reverse the wastage first"):
        actions.reverse(line=drawn, reason="wrong lot", by=nurse, role="nurse")


def test_a_nasal_device_is_used_whole_so_nothing_is_wasted(clinic_a, prescriber, safe, patient, nurse):
    spravato = actions.add_product(clinic=clinic_a, ndc="50458-028", name="Spravato 28 mg",
                                   drug="esketamine", form="nasal_device",
                                   concentration_mg_per_ml="140", container_ml="0.2", by=prescriber)
    lot = add_lot(spravato, prescriber, number="S1")
    actions.receive(lot=lot, location=safe, containers=3, by=nurse)
    draw = actions.draw_for_dose(lot=lot, location=safe, patient=patient, session_id=1,
                                 administration_id=1, dose_mg=56, by=nurse)
    with pytest.raises(FieldError, match="nothing is left to waste"):
        actions.waste(draw=draw, amount_mg=1, method="x", by=nurse, witness=prescriber,
                      witness_password=PASSWORD)


def test_a_nurse_reverses_only_their_own_draw_or_move(stocked, drawn, safe, cart, nurse, prescriber):
    receipt = LedgerLine.objects.get(kind=Kind.RECEIPT)
    with pytest.raises(FieldError, match="only the clinic admin or a prescriber"):
        actions.reverse(line=receipt, reason="wrong count", by=nurse, role="nurse")
    moved, _ = actions.transfer(lot=stocked, source=safe, destination=cart, amount_mg=10, by=prescriber)
    with pytest.raises(FieldError, match="someone else recorded"):
        actions.reverse(line=moved, reason="wrong cart", by=nurse, role="nurse")
    assert len(actions.reverse(line=drawn, reason="wrong lot", by=nurse, role="nurse")) == 1
    assert LedgerLine.objects.filter(kind=Kind.REVERSAL).count() == 1


def test_a_refused_reversal_is_audited(stocked, nurse):
    from kapclinic.audit.models import AuditEntry

    with pytest.raises(FieldError):
        actions.reverse(line=LedgerLine.objects.get(kind=Kind.RECEIPT), reason="x", by=nurse, role="nurse")
    assert AuditEntry.objects.filter(action="denied", object_type="ledger_line").exists()


def test_the_prescriber_corrects_a_receipt_with_a_witness_and_the_clinic_is_alerted(
        stocked, safe, prescriber, nurse):
    from kapclinic.alerts.models import Alert
    from kapclinic.inventory.errors import WitnessRefused

    receipt = LedgerLine.objects.get(kind=Kind.RECEIPT)
    with pytest.raises(WitnessRefused):  # one person's word alone takes 400 mg off the record
        actions.reverse(line=receipt, reason="typed 2, was 1", by=prescriber, role="prescriber")
    [undo] = actions.reverse(line=receipt, reason="typed 2, was 1", by=prescriber, role="prescriber",
                             witness=nurse, witness_password=PASSWORD)
    assert (undo.amount_mg, undo.witness) == (Decimal("-400"), nurse)
    alert = Alert.objects.get(source="inventory", kind="line_corrected")
    assert f"line {receipt.pk}" in alert.label


def test_undoing_a_witnessed_wastage_needs_another_witness(drawn, nurse, prescriber, clinic_admin):
    from kapclinic.inventory.errors import WitnessRefused

    wasted = actions.waste(draw=drawn, amount_mg=165, method="sink", by=nurse, witness=prescriber,
                           witness_password=PASSWORD)
    with pytest.raises(WitnessRefused):
        actions.reverse(line=wasted, reason="not wasted after all", by=prescriber, role="prescriber")
    assert not LedgerLine.objects.filter(kind=Kind.REVERSAL).exists()


def test_settings_change_only_what_is_given_and_keep_federal_minimums(clinic_a, clinic_admin):
    actions.save_settings(clinic=clinic_a, by=clinic_admin, retention_years=5, registrant_dea="ab1234567")
    saved = LedgerSettings.for_clinic(clinic_a.pk)
    assert (saved.retention_years, saved.registrant_dea, saved.witness_waste) == (5, "AB1234567", True)
    with pytest.raises(FieldError, match="retention_years: must be a whole number from 2 to 50"):
        actions.save_settings(clinic=clinic_a, by=clinic_admin, retention_years=1)
    with pytest.raises(FieldError, match="inventory_months"):
        actions.save_settings(clinic=clinic_a, by=clinic_admin, inventory_months=36)
    with pytest.raises(FieldError, match="registrant_dea"):
        actions.save_settings(clinic=clinic_a, by=clinic_admin, registrant_dea="12")


def test_the_prescriber_may_not_switch_off_the_witness_rule():
    from kapclinic.accounts.permissions import Action, role_can

    assert role_can("admin", Action.STOCK_SETTINGS)
    assert not role_can("prescriber", Action.STOCK_SETTINGS)
    assert not role_can("nurse", Action.STOCK_SETTINGS)


def test_a_dose_is_not_drawn_from_a_lot_of_another_drug_form_or_concentration(stocked, safe, patient, nurse):
    for fields, why in (({"drug": "esketamine"}, "the dose was esketamine"),
                        ({"route": "intranasal"}, "not what intranasal doses are drawn from"),
                        ({"concentration": "100"}, "the dose recorded 100 mg/mL")):
        with pytest.raises(FieldError, match=why):
            actions.draw_for_dose(lot=stocked, location=safe, patient=patient, session_id=1,
                                  administration_id=1, dose_mg=35, by=nurse, **fields)
    assert not LedgerLine.objects.filter(kind=Kind.ADMINISTRATION).exists()


def test_an_expired_lot_is_drawn_only_when_the_nurse_confirms_it(product, safe, patient, nurse, prescriber):
    old = actions.add_lot(product=product, lot_number="OLD",
                          expires_on=timezone.localdate() - timedelta(days=2),
                          supplier_name="S", supplier_address="A", supplier_dea="RE0000001",
                          invoice="I", by=prescriber)
    actions.receive(lot=old, location=safe, containers=1, at=timezone.now() - timedelta(days=3), by=nurse)
    with pytest.raises(FieldError, match="expired on"):
        actions.draw_for_dose(lot=old, location=safe, patient=patient, session_id=1,
                              administration_id=1, dose_mg=35, by=nurse)
    line = actions.draw_for_dose(lot=old, location=safe, patient=patient, session_id=1,
                                 administration_id=1, dose_mg=35, by=nurse, expired_confirmed=True)
    assert line.amount_mg == Decimal("-35")


def test_a_movement_cannot_be_back_dated_beyond_the_late_entry_allowance(lot, safe, nurse):
    with pytest.raises(FieldError, match="more than 14 days ago"):
        actions.receive(lot=lot, location=safe, containers=1,
                        at=timezone.now() - timedelta(days=15), by=nurse)
    assert not LedgerLine.objects.exists()


@pytest.mark.parametrize("counted", ["1E+20", "NaN", "Infinity", "-1", "abc"])
def test_an_impossible_count_is_refused_naming_the_field(stocked, safe, nurse, counted):
    with pytest.raises(FieldError) as refused:
        actions.record_count(lot=stocked, location=safe, kind="shift", counted_mg=counted, by=nurse)
    assert refused.value.field == "counted_mg"
    assert not StockCount.objects.exists()


def test_a_count_of_minus_zero_is_a_count_of_zero(stocked, safe, nurse):
    count = actions.record_count(lot=stocked, location=safe, kind="shift", counted_mg="-0", by=nurse)
    assert str(count.counted_mg) in ("0", "0.000") and count.difference_mg == Decimal("-400")


def test_a_lot_expiring_in_year_one_or_9999_is_refused(product, prescriber):
    from datetime import date

    for year in (1, 9999):
        with pytest.raises(FieldError, match="expires_on"):
            actions.add_lot(product=product, lot_number=f"Y{year}", expires_on=date(year, 1, 1),
                            supplier_name="S", supplier_address="A", supplier_dea="RE0000001",
                            invoice="I", by=prescriber)


def test_the_dea_notice_is_noted_in_the_clinics_time(stocked, safe, nurse):
    from kapclinic.alerts.models import Alert
    from kapclinic.inventory import disposals

    lost = disposals.dispose(lot=stocked, location=safe, kind="loss", amount_mg=1, happened_at=None,
                             by=nurse, description="missing")
    disposals.record_notice(disposal=lost, step="written_notice", done_at=None, by=nurse)
    note = Alert.objects.get(source="inventory", record_id=lost.pk).acknowledgement_note
    local = timezone.localtime(timezone.now(), stocked.clinic.zone).strftime("%Y-%m-%d")
    assert local in note and "(America/New_York)" in note and "UTC" not in note
