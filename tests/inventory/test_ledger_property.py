"""Property: whatever sequence of receipts, draws, wastage, moves and reversals is recorded
(refusals included), every balance equals the replay of its lines and an independent model
of the stock, and never goes below zero."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from kapclinic.inventory import actions
from kapclinic.inventory.errors import NotEnoughStock
from kapclinic.inventory.models import Balance, Kind, LedgerLine
from tests.inventory.conftest import add_lot

pytestmark = pytest.mark.django_db

LOTS = itertools.count(1)
AMOUNTS = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("450"), places=3)


def test_every_balance_equals_the_replay_of_its_lines_after_any_movements(
        clinic_a, product, nurse, patient):
    actions.save_settings(clinic=clinic_a, witness_waste=False, by=nurse)
    places = [actions.add_location(clinic=clinic_a, name=f"Place {i}", by=nurse) for i in range(3)]
    doses = itertools.count(1)

    class Ledger(RuleBasedStateMachine):
        @initialize()
        def new_lot(self):
            self.lot = add_lot(product, nurse, number=f"P{next(LOTS)}")
            self.model = {place.pk: Decimal("0") for place in places}

        def _try(self, changes: dict[int, Decimal], write) -> None:
            goes_negative = any(self.model[pk] + mg < 0 for pk, mg in changes.items())
            try:
                write()
            except NotEnoughStock:
                assert goes_negative, "refused although the stock was there"
                return
            assert not goes_negative, "recorded although it leaves less than nothing"
            for pk, mg in changes.items():
                self.model[pk] += mg

        @rule(where=st.sampled_from(places), containers=st.integers(1, 3))
        def receive(self, where, containers):
            self._try({where.pk: Decimal(200 * containers)}, lambda: actions.receive(
                lot=self.lot, location=where, containers=containers, by=nurse))

        @rule(where=st.sampled_from(places), mg=AMOUNTS)
        def draw(self, where, mg):
            self._try({where.pk: -mg}, lambda: actions.draw_for_dose(
                lot=self.lot, location=where, patient=patient, session_id=1,
                administration_id=next(doses), dose_mg=mg, by=nurse))

        @rule(where=st.sampled_from(places), mg=AMOUNTS)
        def waste(self, where, mg):
            self._try({where.pk: -mg}, lambda: actions.waste(
                lot=self.lot, location=where, amount_mg=mg, method="sink", by=nurse))

        @rule(pair=st.permutations(places), mg=AMOUNTS)
        def move(self, pair, mg):
            source, destination = pair[0], pair[1]
            self._try({source.pk: -mg, destination.pk: mg}, lambda: actions.transfer(
                lot=self.lot, source=source, destination=destination, amount_mg=mg, by=nurse))

        @rule(data=st.data())
        def reverse(self, data):
            open_lines = list(LedgerLine.objects.filter(lot=self.lot, reversed_by__isnull=True)
                              .exclude(kind=Kind.REVERSAL).order_by("id"))
            if not open_lines:
                return
            line = data.draw(st.sampled_from(open_lines))
            legs = [line] + ([partner] if (partner := actions.transfer_partner(line)) else [])
            changes: dict[int, Decimal] = {}
            for leg in legs:
                changes[leg.location_id] = changes.get(leg.location_id, Decimal("0")) - leg.amount_mg
            self._try(changes, lambda: actions.reverse(line=line, reason="mistake", by=nurse))

        @invariant()
        def balances_agree(self):
            for place in places:
                row = Balance.objects.filter(lot=self.lot, location=place).first()
                stored = row.quantity_mg if row else Decimal("0")
                lines = LedgerLine.objects.filter(lot=self.lot, location=place)
                replayed = sum((line.amount_mg for line in lines), Decimal("0"))
                assert stored == replayed == self.model[place.pk]
                assert stored >= 0
                assert row is None or row.lines == lines.count()

    run_state_machine_as_test(Ledger, settings=settings(
        max_examples=30, stateful_step_count=15, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
