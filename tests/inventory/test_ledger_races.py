"""Two nurses drawing from the last of a vial at the same moment: one draw is recorded, the
other is told what is left, and the balance never goes below zero (PostgreSQL, real
concurrent transactions)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from kapclinic.inventory import actions
from kapclinic.inventory.errors import NotEnoughStock
from kapclinic.inventory.models import Balance, Kind, LedgerLine


def race(draws) -> list[str]:
    barrier = threading.Barrier(len(draws))
    outcomes: list[str] = []

    def take(draw) -> None:
        try:
            barrier.wait()
            draw()
            outcomes.append("drawn")
        except NotEnoughStock:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=(draw,)) for draw in draws]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return sorted(outcomes)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_draws_racing_for_the_last_of_a_vial_never_overdraw_it(stocked, safe, patient, nurse, prescriber):
    # 400 mg on hand; each draw takes 300 mg: only one can be recorded
    draws = [lambda by=by, n=n: actions.draw_for_dose(
        lot=stocked, location=safe, patient=patient, session_id=n, administration_id=n,
        dose_mg=300, by=by) for n, by in ((1, nurse), (2, prescriber))]
    assert race(draws) == ["drawn", "refused"]
    assert Balance.objects.get(lot=stocked, location=safe).quantity_mg == Decimal("100")
    assert LedgerLine.objects.filter(kind=Kind.ADMINISTRATION).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_small_racing_draws_add_up_exactly(stocked, safe, patient, nurse):
    draws = [lambda n=n: actions.draw_for_dose(
        lot=stocked, location=safe, patient=patient, session_id=n, administration_id=n,
        dose_mg=50, by=nurse) for n in range(1, 7)]
    assert race(draws) == ["drawn"] * 6
    assert Balance.objects.get(lot=stocked, location=safe).quantity_mg == Decimal("100")
    assert LedgerLine.objects.filter(kind=Kind.ADMINISTRATION).count() == 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_dose_drawn_twice_at_once_is_drawn_once(stocked, safe, patient, nurse, prescriber):
    draws = [lambda by=by: actions.draw_for_dose(
        lot=stocked, location=safe, patient=patient, session_id=1, administration_id=1,
        dose_mg=35, by=by) for by in (nurse, prescriber)]
    assert race(draws) == ["drawn", "drawn"]
    assert LedgerLine.objects.filter(kind=Kind.ADMINISTRATION).count() == 1
    assert Balance.objects.get(lot=stocked, location=safe).quantity_mg == Decimal("365")
