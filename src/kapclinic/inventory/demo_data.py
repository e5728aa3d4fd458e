"""The demo clinic's stock: two products (numbers from their FDA labels), a safe and a cart,
a lot of each (fictional lot numbers, supplier and invoice) received a week ago, and one
vial moved to the cart, so the stock page is not empty; a shift-change count of the cart
that differs from the ledger waits for the admin."""

from __future__ import annotations

from datetime import timedelta

from kapclinic.accounts.roles import Role
from kapclinic.inventory import actions
from kapclinic.platform.extensions import DemoRun

# clinical.md 6.2: Ketalar 10 mg/mL (NDC 42023-113, 20 mL vials); Spravato 28 mg/0.2 mL device
PRODUCTS = (
    {"ndc": "42023-113", "name": "Ketalar (ketamine HCl) 10 mg/mL", "drug": "ketamine",
     "form": "vial", "concentration_mg_per_ml": "10", "container_ml": "20", "received": 10},
    {"ndc": "50458-028", "name": "Spravato (esketamine HCl) 28 mg nasal device",
     "drug": "esketamine", "form": "nasal_device", "concentration_mg_per_ml": "140",
     "container_ml": "0.2", "received": 12},
)


def load(run: DemoRun) -> None:
    prescriber, nurse = run.staff[Role.PRESCRIBER], run.staff[Role.NURSE]
    safe = actions.add_location(clinic=run.clinic, name="Locked safe", by=prescriber)
    cart = actions.add_location(clinic=run.clinic, name="Dosing room cart", by=prescriber)
    received = run.now - timedelta(days=7)
    for i, spec in enumerate(PRODUCTS):
        spec = dict(spec)
        containers = spec.pop("received")
        product = actions.add_product(clinic=run.clinic, by=prescriber, **spec)
        lot = actions.add_lot(
            product=product, lot_number=f"DEMO{run.rng.randint(10000, 99999)}",
            expires_on=(run.now + timedelta(days=300 + 90 * i)).date(),
            supplier_name="Example Medical Supply (fictional)",
            supplier_address="100 Example Way, Springfield, ST 00000",
            supplier_dea="RE0000001", invoice=f"INV-{run.rng.randint(100000, 999999)}",
            by=prescriber)
        actions.receive(lot=lot, location=safe, containers=containers, at=received, by=nurse)
        if i == 0:
            actions.transfer(lot=lot, source=safe, destination=cart,
                             amount_mg=product.mg_per_container, at=received + timedelta(hours=1),
                             reason="A vial for the day's sessions", by=nurse)
            # the cart's opened vial, estimated at shift change a little short of the ledger:
            # a discrepancy for the clinic admin to resolve
            actions.record_count(lot=lot, location=cart, kind="shift",
                                 counted_mg=product.mg_per_container - 5, estimated=True,
                                 note="Estimated from the vial's markings", by=nurse)
