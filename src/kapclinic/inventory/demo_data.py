"""The demo clinic's stock: two products (numbers from their FDA labels), a safe and a cart,
a lot of each (fictional lot numbers, supplier and invoice) received a week ago, and one
vial moved to the cart, so the stock page is not empty; a shift-change count of the cart
that differs from the ledger waits for the admin. Once the sessions are loaded, the nurse
draws the doses of the last days from stock, as from the "Doses to draw" page, leaving the
latest for the page to show."""

from __future__ import annotations

from datetime import timedelta

from kapclinic.accounts.roles import Role
from kapclinic.inventory import actions, disposals, stock
from kapclinic.inventory.errors import NotEnoughStock
from kapclinic.inventory.models import Balance, DisposalKind, Drug, Location, Lot, NoticeStep
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
        # the initial inventory, taken as the stock was first handled (21 CFR 1304.11)
        actions.record_count(lot=lot, location=safe, kind="initial",
                             counted_mg=product.mg_per_container * containers, by=nurse)
        if i == 0:
            actions.transfer(lot=lot, source=safe, destination=cart,
                             amount_mg=product.mg_per_container, at=received + timedelta(hours=1),
                             reason="A vial for the day's sessions", by=nurse)
            # a vial found missing from the safe two days ago, its written notice sent the
            # next morning; DEA Form 106 not filed yet
            found = run.now - timedelta(days=2)
            lost = disposals.dispose(lot=lot, location=safe, kind=DisposalKind.LOSS,
                                     amount_mg=product.mg_per_container, happened_at=found,
                                     by=nurse, description="One sealed vial missing at the "
                                                           "evening count; the safe was locked (demo)")
            disposals.record_notice(disposal=lost, step=NoticeStep.WRITTEN_NOTICE,
                                    done_at=found + timedelta(hours=15), by=prescriber)


def draw_doses(run: DemoRun) -> None:
    """The demo's doses of the last week drawn from stock (Ketalar from the cart's vial while
    it lasts, then the safe; Spravato from the safe), all but the latest."""
    nurse = run.staff[Role.NURSE]
    lots = {lot.product.drug: lot for lot in Lot.objects.filter(clinic=run.clinic).select_related("product")}
    places = {place.name: place for place in Location.objects.filter(clinic=run.clinic)}
    waiting = stock.undrawn_doses(run.clinic.pk, run.now - timedelta(days=7))
    for item in waiting[:-1]:
        dose, lot = item.dose, lots.get(item.dose.drug)
        if lot is None:
            continue
        for place in ("Dosing room cart", "Locked safe") if dose.drug == Drug.KETAMINE else ("Locked safe",):
            try:
                actions.draw_for_dose(lot=lot, location=places[place], patient=item.patient,
                                      session_id=dose.session_id,
                                      administration_id=dose.administration_id,
                                      dose_mg=dose.dose_mg, at=dose.given_at, by=nurse,
                                      drug=dose.drug, route=dose.route)
                break
            except NotEnoughStock:
                continue
    # the cart's opened vial, estimated at shift change a little short of the ledger: a
    # discrepancy for the clinic admin to resolve. Counted now, after the week's doses (drawn at
    # their sessions' times), so the balance the count compares with is the ledger's now
    cart = places.get("Dosing room cart")
    ketamine = lots.get(Drug.KETAMINE)
    if cart is not None and ketamine is not None:
        balance = Balance.objects.filter(lot=ketamine, location=cart).first()
        if balance is not None and balance.quantity_mg > 5:
            actions.record_count(lot=ketamine, location=cart, kind="shift",
                                 counted_mg=balance.quantity_mg - 5, estimated=True,
                                 note="Estimated from the vial's markings", by=nurse)
