"""The ledger: stock received, drawn, wasted, moved and reversed, always adding up, never
below zero, never edited."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from kapclinic.audit.actions import writing_directly
from kapclinic.audit.models import AuditEntry, ImmutableError
from kapclinic.inventory import actions, stock
from kapclinic.inventory.errors import FieldError, NotEnoughStock, WitnessRefused
from kapclinic.inventory.models import Balance, Kind, LedgerLine
from tests.conftest import PASSWORD, make_user
from tests.inventory.conftest import add_ketalar, add_lot

pytestmark = pytest.mark.django_db


def on_hand(lot, location) -> Decimal:
    return Balance.objects.get(lot=lot, location=location).quantity_mg


def test_receiving_two_20_ml_vials_of_10_mg_per_ml_puts_400_mg_and_40_ml_in_the_safe(stocked, safe):
    [line] = LedgerLine.objects.filter(lot=stocked)
    assert (line.kind, line.amount_mg, line.amount_ml, line.containers) == (
        Kind.RECEIPT, Decimal("400"), Decimal("40"), 2)
    assert on_hand(stocked, safe) == Decimal("400")
    assert Balance.objects.get(lot=stocked, location=safe).quantity_ml == Decimal("40")


def test_a_draw_for_a_dose_names_the_patient_and_session_and_lowers_the_balance(
        stocked, safe, patient, nurse):
    line = actions.draw_for_dose(lot=stocked, location=safe, patient=patient, session_id=7,
                                 administration_id=70, dose_mg=35, by=nurse)
    assert (line.kind, line.amount_mg, line.amount_ml, line.balance_after_mg) == (
        Kind.ADMINISTRATION, Decimal("-35"), Decimal("-3.5"), Decimal("365"))
    assert (line.patient, line.session_id, line.recorded_by) == (patient, 7, nurse)
    assert on_hand(stocked, safe) == Decimal("365")


def test_drawing_the_same_dose_again_returns_the_first_draw_and_takes_nothing_more(
        stocked, safe, patient, nurse):
    first = actions.draw_for_dose(lot=stocked, location=safe, patient=patient, session_id=7,
                                  administration_id=70, dose_mg=35, by=nurse)
    again = actions.draw_for_dose(lot=stocked, location=safe, patient=patient, session_id=7,
                                  administration_id=70, dose_mg=35, by=nurse)
    assert again == first and on_hand(stocked, safe) == Decimal("365")


def test_a_draw_larger_than_what_is_left_is_refused_naming_what_is_left(stocked, safe, patient, nurse):
    with pytest.raises(NotEnoughStock, match="only 400 mg .40 mL. of lot K123 is at Locked safe"):
        actions.draw_for_dose(lot=stocked, location=safe, patient=patient, session_id=7,
                              administration_id=70, dose_mg=401, by=nurse)
    assert on_hand(stocked, safe) == Decimal("400")
    assert LedgerLine.objects.filter(kind=Kind.ADMINISTRATION).count() == 0


def test_wastage_needs_a_witness_by_default(drawn, nurse):
    with pytest.raises(WitnessRefused) as refused:
        actions.waste(draw=drawn, amount_ml="1.5", method="sink", by=nurse)
    assert refused.value.field == "witness"


def test_a_witness_who_types_their_password_is_recorded_with_the_wastage(drawn, nurse, prescriber):
    line = actions.waste(draw=drawn, amount_ml="1.5", method="Emptied into the "
                         "waste container", by=nurse, witness=prescriber, witness_password=PASSWORD)
    assert (line.amount_mg, line.amount_ml, line.witness) == (Decimal("-15"), Decimal("-1.5"), prescriber)
    assert line.witnessed_at is not None
    assert AuditEntry.objects.filter(action="witnessed", actor_id=nurse.pk).exists()


def test_a_wrong_witness_password_records_nothing_and_the_refusal_is_kept(drawn, nurse, prescriber):
    with pytest.raises(WitnessRefused, match="not right"):
        actions.waste(draw=drawn, amount_mg=10, method="sink", by=nurse,
                      witness=prescriber, witness_password="wrong")
    assert not LedgerLine.objects.filter(kind=Kind.WASTE).exists()
    assert AuditEntry.objects.filter(action="denied", object_type="ledger_line",
                                     detail_json__contains="wrong password").exists()


def test_the_one_wasting_cannot_be_their_own_witness(drawn, nurse):
    with pytest.raises(WitnessRefused, match="someone other"):
        actions.waste(draw=drawn, amount_mg=10, method="sink", by=nurse,
                      witness=nurse, witness_password=PASSWORD)


def test_a_therapist_cannot_witness_a_wastage(drawn, nurse, therapist):
    with pytest.raises(WitnessRefused, match="prescriber or nurse"):
        actions.waste(draw=drawn, amount_mg=10, method="sink", by=nurse,
                      witness=therapist, witness_password=PASSWORD)


def test_a_clinic_that_does_not_require_a_witness_records_wastage_without_one(drawn, nurse, clinic_a):
    actions.save_settings(clinic=clinic_a, witness_waste=False, by=nurse)
    line = actions.waste(draw=drawn, amount_mg=10, method="sink", by=nurse)
    assert line.witness is None and on_hand(drawn.lot, drawn.location) == Decimal("355")


def test_a_transfer_moves_stock_with_a_line_out_and_a_line_in(stocked, safe, cart, nurse):
    out, into = actions.transfer(lot=stocked, source=safe, destination=cart, amount_mg=200, by=nurse)
    assert (out.amount_mg, into.amount_mg, into.related) == (Decimal("-200"), Decimal("200"), out)
    assert (on_hand(stocked, safe), on_hand(stocked, cart)) == (Decimal("200"), Decimal("200"))


def test_moving_to_the_same_location_is_refused(stocked, safe, nurse):
    with pytest.raises(FieldError, match="another location"):
        actions.transfer(lot=stocked, source=safe, destination=safe, amount_mg=1, by=nurse)


def test_a_reversal_undoes_a_line_with_its_reason_and_keeps_both(stocked, safe, patient, nurse):
    draw = actions.draw_for_dose(lot=stocked, location=safe, patient=patient, session_id=7,
                                 administration_id=70, dose_mg=35, by=nurse)
    [undo] = actions.reverse(line=draw, reason="Drawn from the wrong lot", by=nurse, role="nurse")
    assert (undo.kind, undo.amount_mg, undo.reverses, undo.patient) == (
        Kind.REVERSAL, Decimal("35"), draw, patient)
    assert on_hand(stocked, safe) == Decimal("400")
    assert actions.standing_draw(70) is None
    # the dose can be drawn again, now from the right lot
    again = actions.draw_for_dose(lot=stocked, location=safe, patient=patient, session_id=7,
                                  administration_id=70, dose_mg=35, by=nurse)
    assert again.draw_number == 2


def test_a_line_is_reversed_once_and_a_reversal_is_never_reversed(stocked, safe, nurse, prescriber):
    receipt = LedgerLine.objects.get(lot=stocked)
    witnessed = {"witness": prescriber, "witness_password": PASSWORD}
    [undo] = actions.reverse(line=receipt, reason="Typed the wrong count", by=nurse, role="admin",
                             **witnessed)
    with pytest.raises(FieldError, match="already reversed"):
        actions.reverse(line=receipt, reason="again", by=nurse, role="admin", **witnessed)
    with pytest.raises(FieldError, match="not reversed"):
        actions.reverse(line=undo, reason="undo the undo", by=nurse, role="admin")


def test_reversing_a_move_reverses_both_of_its_lines(stocked, safe, cart, nurse):
    out, _ = actions.transfer(lot=stocked, source=safe, destination=cart, amount_mg=200, by=nurse)
    assert len(actions.reverse(line=out, reason="Went to the wrong cart", by=nurse, role="nurse")) == 2
    assert (on_hand(stocked, safe), on_hand(stocked, cart)) == (Decimal("400"), Decimal("0"))


def test_a_reversal_that_would_leave_less_than_nothing_is_refused(stocked, safe, cart, patient, nurse):
    out, _ = actions.transfer(lot=stocked, source=safe, destination=cart, amount_mg=200, by=nurse)
    actions.draw_for_dose(lot=stocked, location=cart, patient=patient, session_id=7,
                          administration_id=70, dose_mg=35, by=nurse)
    with pytest.raises(NotEnoughStock):
        actions.reverse(line=out, reason="wrong cart", by=nurse, role="nurse")
    assert LedgerLine.objects.filter(kind=Kind.REVERSAL).count() == 0


def test_a_reversal_needs_a_reason(stocked, nurse):
    with pytest.raises(FieldError, match="required"):
        actions.reverse(line=LedgerLine.objects.get(lot=stocked), reason=" ", by=nurse, role="admin")


def test_ledger_lines_are_never_changed_or_deleted(stocked):
    line = LedgerLine.objects.get(lot=stocked)
    with writing_directly("test"):
        with pytest.raises(ImmutableError):
            line.save()
        with pytest.raises(ImmutableError):
            LedgerLine.objects.filter(pk=line.pk).update(reason="x")
        with pytest.raises(ImmutableError):
            line.delete()


@pytest.mark.postgres
def test_postgresql_refuses_sql_that_edits_or_deletes_a_ledger_line(stocked):
    from django.db import DatabaseError, transaction

    line = LedgerLine.objects.get(lot=stocked)
    for sql in ("UPDATE inventory_ledgerline SET amount_mg = 1 WHERE id = %s",
                "DELETE FROM inventory_ledgerline WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(sql, [line.pk])


def test_every_balance_equals_the_sum_of_its_lines(stocked, safe, cart, patient, nurse, prescriber):
    actions.transfer(lot=stocked, source=safe, destination=cart, amount_mg=200, by=nurse)
    draw = actions.draw_for_dose(lot=stocked, location=cart, patient=patient, session_id=7,
                                 administration_id=70, dose_mg=35, by=nurse)
    actions.waste(draw=draw, amount_mg=5, method="sink", by=nurse,
                  witness=prescriber, witness_password=PASSWORD)
    assert stock.mismatches() == []
    with writing_directly("test: a balance changed behind the ledger's back"):
        Balance.objects.filter(lot=stocked, location=cart).update(quantity_mg=Decimal("1"))
    [problem] = stock.mismatches()
    assert "lot K123 at Room cart" in problem


def test_the_same_ndc_or_lot_number_is_not_recorded_twice(clinic_a, product, lot, prescriber):
    with pytest.raises(FieldError, match="already stocks"):
        add_ketalar(clinic_a, prescriber)
    with pytest.raises(FieldError, match="already recorded"):
        add_lot(product, prescriber)


def test_a_lot_needs_the_suppliers_dea_number_as_two_letters_and_seven_digits(product, prescriber):
    with pytest.raises(FieldError, match="two letters and seven digits"):
        actions.add_lot(product=product, lot_number="X", expires_on=product.created_at.date(),
                        supplier_name="S", supplier_address="A", supplier_dea="12345",
                        invoice="I", by=prescriber)


def test_stock_cannot_be_moved_into_another_clinics_location(stocked, safe, clinic_b, other_clinician, nurse):
    elsewhere = actions.add_location(clinic=clinic_b, name="Their safe", by=other_clinician)
    with pytest.raises(FieldError, match="not one of this clinic"):
        actions.transfer(lot=stocked, source=safe, destination=elsewhere, amount_mg=1, by=nurse)


def test_a_user_of_another_clinic_is_no_witness(drawn, nurse, clinic_b):
    stranger = make_user("stranger", clinic_b, "nurse")
    with pytest.raises(WitnessRefused, match="prescriber or nurse of this clinic"):
        actions.waste(draw=drawn, amount_mg=1, method="sink", by=nurse,
                      witness=stranger, witness_password=PASSWORD)


def test_kapclinic_ledger_verify_exits_1_naming_a_balance_that_is_not_its_lines(stocked, safe, capsys):
    from kapclinic import cli

    assert cli.main(["ledger", "verify"]) == 0
    assert "Every balance equals" in capsys.readouterr().out
    with writing_directly("test: a balance changed behind the ledger's back"):
        Balance.objects.filter(lot=stocked, location=safe).update(quantity_mg=Decimal("7"))
    assert cli.main(["ledger", "verify"]) == 1
    assert "lot K123 at Locked safe: balance 7 mg, but its 1 line adds up to 400 mg" in \
        capsys.readouterr().err


def test_tenths_of_a_mg_add_up_exactly_so_the_last_drop_can_be_moved(clinic_a, prescriber, safe, cart,
                                                                      nurse):
    tiny = actions.add_product(clinic=clinic_a, ndc="00000-0001", name="Test 0.1 mg/mL", drug="ketamine",
                               form="vial", concentration_mg_per_ml="0.1", container_ml="1", by=prescriber)
    lot = add_lot(tiny, prescriber, number="T1")
    for _ in range(8):  # eight lines of 0.1 mg: as binary floats they add to 0.7999999
        actions.receive(lot=lot, location=safe, containers=1, by=nurse)
    assert on_hand(lot, safe) == Decimal("0.8")
    actions.transfer(lot=lot, source=safe, destination=cart, amount_mg="0.8", by=nurse)
    assert (on_hand(lot, safe), on_hand(lot, cart)) == (Decimal("0"), Decimal("0.8"))
    assert stock.mismatches() == []
