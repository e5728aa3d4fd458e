"""Property: whatever sequence of receipts, draws, wastage, losses, moves and reversals is recorded
(refusals included), every balance equals the replay of its lines and an independent model
of the stock, never goes below zero, and no dose's wastage is more than its opened vials held."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from kapclinic.inventory import actions, disposals
from kapclinic.inventory.errors import FieldError, NotEnoughStock
from kapclinic.inventory.models import Balance, Kind, LedgerLine
from tests.conftest import PASSWORD
from tests.inventory.conftest import add_lot

pytestmark = pytest.mark.django_db

LOTS = itertools.count(1)
AMOUNTS = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("450"), places=3)
VIAL_MG = Decimal("200")  # the Ketalar fixture: 10 mg/mL x 20 mL


def remainder(drawn_mg: Decimal) -> Decimal:
    """What the vials opened for a dose held beyond it (counted here, not by the app)."""
    return math.ceil(drawn_mg / VIAL_MG) * VIAL_MG - drawn_mg


def test_every_balance_equals_the_replay_of_its_lines_after_any_movements(
        clinic_a, product, nurse, prescriber, patient):
    actions.save_settings(clinic=clinic_a, witness_waste=False, by=nurse)
    places = [actions.add_location(clinic=clinic_a, name=f"Place {i}", by=nurse) for i in range(3)]
    doses = itertools.count(1)

    class Ledger(RuleBasedStateMachine):
        @initialize()
        def new_lot(self):
            self.lot = add_lot(product, nurse, number=f"P{next(LOTS)}")
            self.model = {place.pk: Decimal("0") for place in places}
            self.wasted: dict[int, Decimal] = {}  # standing wastage after each draw

        def _try(self, changes: dict[int, Decimal], write, *, refused_because: str = "") -> bool:
            goes_negative = any(self.model[pk] + mg < 0 for pk, mg in changes.items())
            try:
                write()
            except NotEnoughStock:
                assert goes_negative, "refused although the stock was there"
                return False
            except FieldError as exc:
                assert refused_because and refused_because in str(exc), exc
                return False
            assert not refused_because, f"recorded although {refused_because}"
            assert not goes_negative, "recorded although it leaves less than nothing"
            for pk, mg in changes.items():
                self.model[pk] += mg
            return True

        @rule(where=st.sampled_from(places), containers=st.integers(1, 3))
        def receive(self, where, containers):
            self._try({where.pk: Decimal(200 * containers)}, lambda: actions.receive(
                lot=self.lot, location=where, containers=containers, by=nurse))

        @rule(where=st.sampled_from(places), mg=AMOUNTS)
        def draw(self, where, mg):
            self._try({where.pk: -mg}, lambda: actions.draw_for_dose(
                lot=self.lot, location=where, patient=patient, session_id=1,
                administration_id=next(doses), dose_mg=mg, by=nurse))

        @rule(data=st.data(), mg=AMOUNTS)
        def waste(self, data, mg):
            draws = list(LedgerLine.objects.filter(lot=self.lot, kind=Kind.ADMINISTRATION,
                                                   reversed_by__isnull=True).order_by("id"))
            if not draws:
                return
            draw = data.draw(st.sampled_from(draws))
            left = remainder(-draw.amount_mg) - self.wasted.get(draw.pk, Decimal("0"))
            if self._try({draw.location_id: -mg}, lambda: actions.waste(
                    draw=draw, amount_mg=mg, method="sink", by=nurse),
                    refused_because="left" if mg > left else ""):
                self.wasted[draw.pk] = self.wasted.get(draw.pk, Decimal("0")) + mg

        @rule(where=st.sampled_from(places), mg=AMOUNTS)
        def lose(self, where, mg):
            self._try({where.pk: -mg}, lambda: disposals.dispose(
                lot=self.lot, location=where, kind="loss", amount_mg=mg, happened_at=None,
                by=nurse, description="missing at the count"))

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
            wasted_after = line.kind == Kind.ADMINISTRATION and self.wasted.get(line.pk, 0) > 0
            done = self._try(changes, lambda: actions.reverse(
                line=line, reason="mistake", by=nurse, role="prescriber", witness=prescriber,
                witness_password=PASSWORD),
                             refused_because="reverse the wastage first" if wasted_after else "")
            if done and line.kind == Kind.WASTE:
                self.wasted[line.related_id] += line.amount_mg

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
