"""A dose given in a session is drawn from stock in the dose's own transaction when it names
a lot the ledger can place; otherwise it waits on the "Doses to draw" list."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kapclinic.inventory import actions, stock
from kapclinic.inventory.models import Balance, Kind, LedgerLine
from kapclinic.treatment import actions as treatment
from tests.treatment.helpers import cleared, eligible_and_consented, minutes_ago

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    return cleared(patient, prescriber, nurse, start=20)


def give(session, nurse, **fields):
    return treatment.record_administration(session, at=minutes_ago(1), by=nurse,
                                           dose_mg_per_kg=0.5, **fields)


def test_a_dose_recorded_with_a_stocked_lot_is_drawn_from_it(ready, stocked, safe, nurse, patient):
    given = give(ready, nurse, lot="K123", product_ndc="42023-113")
    line = LedgerLine.objects.get(kind=Kind.ADMINISTRATION)
    assert (line.administration_id, line.session_id, line.patient, line.recorded_by) == (
        given.pk, ready.pk, patient, nurse)
    assert (line.amount_mg, line.amount_ml) == (Decimal("-35"), Decimal("-3.5"))
    assert Balance.objects.get(lot=stocked, location=safe).quantity_mg == Decimal("365")
    assert stock.undrawn_doses(patient.clinic_id, minutes_ago(60)) == []


def test_a_dose_without_a_lot_is_given_and_waits_to_be_drawn(ready, stocked, nurse, patient):
    given = give(ready, nurse)
    assert not LedgerLine.objects.filter(kind=Kind.ADMINISTRATION).exists()
    [waiting] = stock.undrawn_doses(patient.clinic_id, minutes_ago(60))
    assert (waiting.dose.administration_id, waiting.patient) == (given.pk, patient)


def test_a_dose_is_never_refused_for_the_ledger_even_with_too_little_stock(ready, lot, safe, nurse, patient):
    actions.receive(lot=lot, location=safe, containers=1, at=minutes_ago(30), by=nurse)
    actions.draw_for_dose(lot=lot, location=safe, patient=patient, session_id=1,
                          administration_id=999, dose_mg=180, by=nurse)  # 20 mg left
    given = give(ready, nurse, lot="K123")
    assert given.pk and not LedgerLine.objects.filter(administration_id=given.pk).exists()


def test_a_lot_held_in_two_locations_waits_for_the_nurse_to_say_which(ready, stocked, safe, cart, nurse):
    actions.transfer(lot=stocked, source=safe, destination=cart, amount_mg=200, by=nurse)
    given = give(ready, nurse, lot="K123")
    assert not LedgerLine.objects.filter(administration_id=given.pk).exists()
