"""Stock made the way the app makes it, for the ledger tests."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from kapclinic.inventory import actions


def add_ketalar(clinic, by, *, ndc="42023-113"):
    return actions.add_product(clinic=clinic, ndc=ndc, name="Ketalar 10 mg/mL", drug="ketamine",
                               form="vial", concentration_mg_per_ml="10", container_ml="20", by=by)


def add_lot(product, by, number="K123"):
    return actions.add_lot(product=product, lot_number=number,
                           expires_on=date.today() + timedelta(days=365),
                           supplier_name="Example Supply", supplier_address="1 Example Way",
                           supplier_dea="RE0000001", invoice="INV-1", by=by)


@pytest.fixture
def product(clinic_a, prescriber):
    return add_ketalar(clinic_a, prescriber)


@pytest.fixture
def lot(product, prescriber):
    return add_lot(product, prescriber)


@pytest.fixture
def safe(clinic_a, prescriber):
    return actions.add_location(clinic=clinic_a, name="Locked safe", by=prescriber)


@pytest.fixture
def cart(clinic_a, prescriber):
    return actions.add_location(clinic=clinic_a, name="Room cart", by=prescriber)


@pytest.fixture
def stocked(lot, safe, nurse):
    """Two 200 mg vials of the lot received into the safe an hour ago."""
    actions.receive(lot=lot, location=safe, containers=2,
                    at=timezone.now() - timedelta(hours=1), by=nurse)
    return lot


@pytest.fixture
def drawn(stocked, safe, patient, nurse):
    """A 35 mg dose drawn by the nurse from the safe's stock (a 200 mg vial opened: 165 mg
    of it is the remainder that may be wasted)."""
    return actions.draw_for_dose(lot=stocked, location=safe, patient=patient, session_id=7,
                                 administration_id=70, dose_mg=35, by=nurse)
