"""The ledger hears of each dose given (platform.extensions.DoseHook), inside the transaction
that recorded it, and draws it from stock only when there is no doubt where it came from: the
lot recorded with the dose (and its product's NDC, if given) is of the dose's drug, in the
container its route uses, at the concentration recorded, not expired on the day, and is kept
at one location only, which holds enough of it. Anything less certain draws nothing: the dose
is never refused for the ledger's sake, and it waits on the stock page's "Doses to draw" list,
where the nurse says which lot and location it came from."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from kapclinic.accounts.models import User
from kapclinic.inventory import actions
from kapclinic.inventory.errors import FieldError
from kapclinic.inventory.models import Balance, Lot


def lot_of_dose(clinic_id: int, dose) -> Lot | None:
    lot_number = (getattr(dose, "lot", "") or "").strip()
    if not lot_number:
        return None
    lots = Lot.objects.filter(clinic_id=clinic_id, lot_number=lot_number).select_related("product")
    ndc = (getattr(dose, "product_ndc", "") or "").strip()
    if ndc:
        lots = lots.filter(product__ndc=ndc)
    found = list(lots[:2])
    return found[0] if len(found) == 1 else None


def dose_given(patient, dose) -> None:
    if getattr(dose, "administration_id", None) is None:
        return
    lot = lot_of_dose(patient.clinic_id, dose)
    if lot is None or actions.misfits(lot, drug=dose.drug, route=dose.route,
                                      concentration=dose.concentration_mg_per_ml):
        return
    if actions.expired_on(lot, dose.given_at):
        return  # an expired lot is drawn by a person who confirms it
    holding = list(Balance.objects.filter(lot=lot, quantity_mg__gt=0).select_related("location")[:2])
    mg = Decimal(str(dose.dose_mg)).quantize(actions.QUANTUM)
    if len(holding) != 1 or holding[0].quantity_mg < mg:
        return  # kept in two places, or not enough where it is: the nurse says which
    by = User.objects.filter(pk=getattr(dose, "given_by_id", None)).first()
    try:
        with transaction.atomic():
            actions.draw_for_dose(lot=lot, location=holding[0].location, patient=patient,
                                  session_id=dose.session_id,
                                  administration_id=dose.administration_id, dose_mg=mg,
                                  at=dose.given_at, by=by, drug=dose.drug, route=dose.route,
                                  concentration=dose.concentration_mg_per_ml)
    except FieldError:
        return  # drawn from or moved a moment ago: it waits on the "Doses to draw" list
