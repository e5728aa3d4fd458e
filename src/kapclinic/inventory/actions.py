"""Every write of the ledger: products, lots, locations, and the lines that move stock.

Each line is written with its balance in one transaction: the balance row of the lot at the
location is locked (select_for_update; SQLite's writer lock does the same there) and changed
by a conditional UPDATE that cannot take it below zero, so two draws from one vial at once
cannot overdraw it: the second is refused naming what is left. Lines are never changed or
deleted; ``reverse`` writes the opposite line with a reason.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from kapclinic.accounts.models import Clinic, User
from kapclinic.accounts.permissions import Action
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.inventory import alerting
from kapclinic.inventory import witness as witnesses
from kapclinic.inventory.errors import FieldError, NotEnoughStock
from kapclinic.inventory.models import (
    OUTGOING,
    ZERO,
    Balance,
    CountKind,
    CountResolution,
    Drug,
    Form,
    Kind,
    LedgerLine,
    LedgerSettings,
    Location,
    Lot,
    Product,
    StockCount,
)
from kapclinic.platform import labels

MAX_TEXT = 2000
QUANTUM = Decimal("0.001")
# engineering bounds (not clinical): no product holds more than this in one container
MAX_CONTAINER_ML = Decimal("1000")
MAX_CONCENTRATION = Decimal("1000")
MAX_CONTAINERS = 10000
MAX_MG = Decimal("1000000000")  # an engineering bound: more than any clinic's stock (1 tonne)
CLOCK_SKEW = timedelta(minutes=5)


# ---- input checks --------------------------------------------------------------------------

def clean_text(field: str, value: str, *, required: bool = False, max_length: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise FieldError(field, "is required")
    if len(value) > max_length:
        raise FieldError(field, f"is longer than {max_length} characters")
    return value


def _number(field: str, value, *, maximum: Decimal = MAX_MG) -> Decimal:
    """A finite decimal to 0.001, at most ``maximum`` ("-0" is 0)."""
    try:
        number = Decimal(str(value).strip())
        if not number.is_finite() or abs(number) > maximum:
            raise FieldError(field, f"must be a number no larger than {maximum.normalize():f}")
        return number.quantize(QUANTUM) + 0
    except (InvalidOperation, ValueError) as exc:
        raise FieldError(field, "must be a number") from exc


def _amount(field: str, value, *, maximum: Decimal = MAX_MG) -> Decimal:
    number = _number(field, value, maximum=maximum)
    if number <= 0:
        raise FieldError(field, "must be above zero")
    return number


def moment(at: datetime | None, clinic_id: int, field: str = "at") -> datetime:
    """When a movement happened: not in the future, and not further back than the clinic's
    late-entry allowance (older movements are found by a count, not back-dated)."""
    now = timezone.now()
    if at is None:
        return now
    if timezone.is_naive(at):
        raise FieldError(field, "needs a time zone")
    if at > now + CLOCK_SKEW:
        raise FieldError(field, "is in the future: record a movement once it has happened")
    days = LedgerSettings.for_clinic(clinic_id).late_entry_days
    if at < now - timedelta(days=days):
        raise FieldError(field, f"is more than {days} days ago: record what is there now by a "
                                "count, and the clinic admin resolves the difference")
    return at


def _same_clinic(field: str, row, clinic_id: int) -> None:
    if row.clinic_id != clinic_id:
        raise FieldError(field, "is not one of this clinic's")


def mg_from(product: Product, *, amount_mg=None, amount_ml=None, field: str = "amount_mg") -> Decimal:
    """The amount in mg, given in mg or in mL (mL x the product's concentration)."""
    if amount_mg in (None, "") and amount_ml in (None, ""):
        raise FieldError(field, "give the amount in mg or in mL")
    if amount_mg not in (None, ""):
        return _amount(field, amount_mg)
    ml = _amount(field.replace("_mg", "_ml"), amount_ml)
    return _amount(field, ml * product.concentration_mg_per_ml)


# ---- products, locations, lots -------------------------------------------------------------

@action
def add_product(*, clinic: Clinic, ndc: str, name: str, drug: str, form: str,
                concentration_mg_per_ml, container_ml, by: User | None) -> Product:
    ndc = clean_text("ndc", ndc, required=True, max_length=20)
    if not all(part.isdigit() for part in ndc.split("-")) or sum(c.isdigit() for c in ndc) < 8:
        raise FieldError("ndc", "is the product's National Drug Code: digits in groups "
                                "separated by hyphens, as on the label (e.g. 42023-113)")
    if drug not in Drug.values:
        raise FieldError("drug", f"must be one of: {', '.join(Drug.values)}")
    if form not in Form.values:
        raise FieldError("form", f"must be one of: {', '.join(Form.values)}")
    if Product.objects.filter(clinic=clinic, ndc=ndc).exists():
        raise FieldError("ndc", f"the clinic already stocks a product with NDC {ndc}")
    product = Product.objects.create(
        clinic=clinic, ndc=ndc, name=clean_text("name", name, required=True, max_length=120),
        drug=drug, form=form,
        concentration_mg_per_ml=_amount("concentration_mg_per_ml", concentration_mg_per_ml,
                                        maximum=MAX_CONCENTRATION),
        container_ml=_amount("container_ml", container_ml, maximum=MAX_CONTAINER_ML),
        created_by=by)
    trail.record("create", object_type="product", object_id=product.pk,
                 detail={"ndc": ndc, "drug": drug})
    return product


@action
def add_location(*, clinic: Clinic, name: str, by: User | None) -> Location:
    name = clean_text("name", name, required=True, max_length=80)
    if Location.objects.filter(clinic=clinic, name__iexact=name).exists():
        raise FieldError("name", f"the clinic already has a location called {name}")
    location = Location.objects.create(clinic=clinic, name=name, created_by=by)
    trail.record("create", object_type="location", object_id=location.pk)
    return location


@action
def add_lot(*, product: Product, lot_number: str, expires_on: date, supplier_name: str,
            supplier_address: str, supplier_dea: str, invoice: str, by: User | None) -> Lot:
    lot_number = clean_text("lot_number", lot_number, required=True, max_length=60)
    dea = dea_number("supplier_dea", supplier_dea)
    if not isinstance(expires_on, date):
        raise FieldError("expires_on", "must be a date")
    if not 2000 <= expires_on.year <= 2100:  # engineering bounds: a mistyped year, not a lot
        raise FieldError("expires_on", "must be a date from 2000 to 2100: check the year")
    if Lot.objects.filter(product=product, lot_number=lot_number).exists():
        raise FieldError("lot_number", f"lot {lot_number} of {product.name} is already recorded")
    lot = Lot.objects.create(
        clinic_id=product.clinic_id, product=product, lot_number=lot_number,
        expires_on=expires_on,
        supplier_name=clean_text("supplier_name", supplier_name, required=True, max_length=120),
        supplier_address=clean_text("supplier_address", supplier_address, required=True, max_length=300),
        supplier_dea=dea, invoice=clean_text("invoice", invoice, required=True, max_length=60),
        created_by=by)
    trail.record("create", object_type="lot", object_id=lot.pk,
                 detail={"product": product.pk, "lot_number": lot_number})
    return lot


def dea_number(field: str, value: str, *, required: bool = True) -> str:
    """A DEA registration number: two letters and seven digits."""
    dea = clean_text(field, value, required=required, max_length=20).upper()
    if dea and (len(dea) != 9 or not dea[:2].isalpha() or not dea[2:].isdigit()):
        raise FieldError(field, "is a DEA registration number: two letters and seven digits")
    return dea


SETTING_BOUNDS = {"retention_years": (2, 50), "inventory_months": (1, 24), "late_entry_days": (1, 90)}


@action
def save_settings(*, clinic: Clinic, by: User | None, **wanted) -> LedgerSettings:
    """The clinic's record settings; only the fields given change. Retention is at least the
    federal 2 years and the inventory at least biennial (sessions.md 4)."""
    current = LedgerSettings.for_clinic(clinic.pk)
    clean: dict = {}
    for field, value in wanted.items():
        if field in SETTING_BOUNDS:
            low, high = SETTING_BOUNDS[field]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise FieldError(field, f"must be a whole number from {low} to {high}")
            clean[field] = value
        elif field in ("witness_waste", "exact_counts"):
            clean[field] = bool(value)
        elif field == "registrant_dea":
            clean[field] = dea_number(field, value, required=False)
        elif field in ("registrant_name", "registrant_address"):
            clean[field] = clean_text(field, value, max_length=300 if field.endswith("address") else 200)
        else:
            raise FieldError(field, "is not a record setting")
    changed = {f: v for f, v in clean.items() if getattr(current, f) != v}
    if not changed and current.pk is not None:
        return current
    before = {f: getattr(current, f) for f in changed}
    if current.pk is None:
        for field, value in changed.items():
            setattr(current, field, value)
        current.save()
    else:
        LedgerSettings.objects.filter(pk=current.pk).update(**changed, version=F("version") + 1)
    trail.record("update", object_type="ledger_settings", object_id=clinic.pk,
                 detail={"changed": {f: [before[f], changed[f]] for f in changed}})
    return LedgerSettings.for_clinic(clinic.pk)


# ---- the one way stock moves ---------------------------------------------------------------

def _locked_balance(lot: Lot, location: Location) -> Balance:
    """The balance row, locked until the transaction ends (created at zero the first time)."""
    try:
        with transaction.atomic():
            balance, _ = Balance.objects.select_for_update().get_or_create(
                lot=lot, location=location, defaults={"clinic_id": lot.clinic_id})
    except IntegrityError:  # created by another transaction a moment ago
        balance = Balance.objects.select_for_update().get(lot=lot, location=location)
    return balance


def move(*, lot: Lot, location: Location, kind: str, mg: Decimal, at: datetime,
          by: User | None, **fields) -> LedgerLine:
    """Write one line of ``mg`` (signed) and move the balance with it, never below zero.

    The new balance is computed here in exact decimals and stored by a compare-and-set on the
    balance's line count (an integer), never by arithmetic in SQL: SQLite adds decimals as
    binary floats, and eight 0.1 mg receipts would add up to 0.7999999 mg there."""
    _same_clinic("location", location, lot.clinic_id)
    balance = _locked_balance(lot, location)
    after = (balance.quantity_mg + mg).quantize(QUANTUM)
    moved = after >= 0 and Balance.objects.filter(pk=balance.pk, lines=balance.lines).update(
        quantity_mg=after, lines=balance.lines + 1)
    if not moved:
        left = Balance.objects.filter(pk=balance.pk).values_list("quantity_mg", flat=True).get()
        if after >= 0:  # another writer moved it between the read and the write: say so
            raise NotEnoughStock("amount_mg", f"lot {lot.lot_number} at {location.name} changed a "
                                              "moment ago: nothing was recorded, try again")
        raise NotEnoughStock(
            "amount_mg", f"only {left.normalize():f} mg ({lot.product.ml_for(left).normalize():f} mL) "
                         f"of lot {lot.lot_number} is at {location.name}: nothing was recorded")
    line = LedgerLine.objects.create(
        clinic_id=lot.clinic_id, lot=lot, location=location, kind=kind, amount_mg=mg,
        amount_ml=(lot.product.ml_for(abs(mg)) * (1 if mg > 0 else -1)), balance_after_mg=after,
        at=at, recorded_by=by, **fields)
    trail.record("create", object_type="ledger_line", object_id=line.pk,
                 patient_id=fields.get("patient").pk if fields.get("patient") else None,
                 detail={"kind": kind, "lot": lot.pk, "location": location.pk,
                         "amount_mg": str(mg), "balance_after_mg": str(after)})
    return line


@action
def receive(*, lot: Lot, location: Location, containers: int, at: datetime | None = None,
            by: User | None) -> LedgerLine:
    """Full containers of a lot received (the lot's invoice documents the order)."""
    if not isinstance(containers, int) or not 0 < containers <= MAX_CONTAINERS:
        raise FieldError("containers", f"must be a whole number from 1 to {MAX_CONTAINERS}")
    mg = (lot.product.mg_per_container * containers).quantize(QUANTUM)
    return move(lot=lot, location=location, kind=Kind.RECEIPT, mg=mg,
                 at=moment(at, lot.clinic_id), by=by, containers=containers)


def draws_of(administration_id: int) -> list[LedgerLine]:
    return list(LedgerLine.objects.filter(kind=Kind.ADMINISTRATION,
                                          administration_id=administration_id).order_by("id"))


def standing_draw(administration_id: int) -> LedgerLine | None:
    """The dose's draw that stands (not reversed), if any."""
    return (LedgerLine.objects.filter(kind=Kind.ADMINISTRATION, administration_id=administration_id,
                                      reversed_by__isnull=True).order_by("-id").first())


# the container a route's dose is drawn from (a sublingual dose has no stocked form here)
ROUTE_FORMS = {"iv-bolus": Form.VIAL, "iv-infusion": Form.VIAL, "im": Form.VIAL,
               "intranasal": Form.NASAL_DEVICE}


def misfits(lot: Lot, *, drug: str = "", route: str = "", concentration=None) -> list[str]:
    """Why the lot cannot be the one a dose was drawn from (empty: it can)."""
    product = lot.product
    found = []
    if drug and product.drug != drug:
        found.append(f"lot {lot.lot_number} is {product.get_drug_display().lower()}; the dose was "
                     f"{Drug(drug).label.lower() if drug in Drug.values else drug}")
    if route and ROUTE_FORMS.get(route) != product.form:
        found.append(f"lot {lot.lot_number} is a {product.get_form_display().lower()}, not what "
                     f"{labels.route_in_sentence(route) or route} doses are drawn from")
    if concentration not in (None, "") and \
            Decimal(str(concentration)).quantize(QUANTUM) != product.concentration_mg_per_ml:
        found.append(f"lot {lot.lot_number} is {product.concentration_mg_per_ml.normalize():f} mg/mL; "
                     f"the dose recorded {Decimal(str(concentration)).normalize():f} mg/mL")
    return found


def expired_on(lot: Lot, when: datetime) -> bool:
    """Whether the lot had expired on the day of ``when`` (the clinic's day)."""
    return lot.expires_on < timezone.localdate(when, lot.clinic.zone)


@action
def draw_for_dose(*, lot: Lot, location: Location, patient, session_id: int,
                  administration_id: int, dose_mg, at: datetime | None = None, by: User | None,
                  drug: str = "", route: str = "", concentration=None,
                  expired_confirmed: bool = False) -> LedgerLine:
    """The dose given in a session, drawn from a lot at a location. The lot must be the dose's
    drug, in the container its route uses, at the concentration recorded with the dose; an
    expired lot is drawn only when the person confirms that it was. A dose is drawn once:
    asked again (a retry) it returns the standing draw and writes nothing."""
    _same_clinic("patient", patient, lot.clinic_id)
    mg = _amount("dose_mg", dose_mg)
    _same_clinic("location", location, lot.clinic_id)
    problems = misfits(lot, drug=drug, route=route, concentration=concentration)
    if problems:
        raise FieldError("lot", "; ".join(problems) + ": nothing was drawn")
    when = moment(at, lot.clinic_id)
    if expired_on(lot, when) and not expired_confirmed:
        raise FieldError("expired_confirmed", f"lot {lot.lot_number} expired on "
                                              f"{lot.expires_on:%-d %b %Y}, before the dose: tick "
                                              "the box only if the dose was drawn from it")
    # under the balance's lock, a draw of the same dose by another request has committed
    list(Balance.objects.select_for_update().filter(lot=lot, location=location))
    standing = standing_draw(administration_id)
    if standing is not None:
        return standing
    number = len(draws_of(administration_id)) + 1
    try:
        with transaction.atomic():
            return move(lot=lot, location=location, kind=Kind.ADMINISTRATION, mg=-mg,
                         at=when, by=by, patient=patient, session_id=session_id,
                         administration_id=administration_id, draw_number=number)
    except IntegrityError:
        standing = standing_draw(administration_id)
        if standing is None:
            raise
        # drawn a moment ago by another request (from another lot or location)
        trail.record("read", object_type="ledger_line", object_id=standing.pk,
                     detail={"already_drawn": administration_id})
        return standing


def wasted_after(draw: LedgerLine) -> Decimal:
    """What has been wasted so far of the remainder after ``draw`` (standing lines only)."""
    lines = LedgerLine.objects.filter(kind=Kind.WASTE, related=draw, reversed_by__isnull=True)
    return -sum((line.amount_mg for line in lines), ZERO)


def remainder_of(draw: LedgerLine) -> Decimal:
    """What is left in the containers opened for the dose: the most that can be wasted after
    it (a 35 mg dose from a 200 mg vial leaves 165 mg; a nasal device is used whole)."""
    product = draw.lot.product
    if product.form == Form.NASAL_DEVICE:
        return ZERO
    drawn = -draw.amount_mg
    opened = (drawn / product.mg_per_container).to_integral_value(rounding=ROUND_CEILING)
    return (opened * product.mg_per_container - drawn).quantize(QUANTUM)


@action
def waste(*, draw: LedgerLine, amount_mg=None, amount_ml=None, method: str,
          at: datetime | None = None, by: User | None, witness: User | None = None,
          witness_password: str = "", witness_code: str = "") -> LedgerLine:
    """The remainder of a dose wasted, from the lot and location the dose was drawn from,
    no more than its opened containers held, how, and (when the clinic requires one, by
    default) witnessed by a second person who authenticates now. Stock wasted other than after
    a dose is a destruction (Form 41) or a loss (Form 106)."""
    draw = LedgerLine.objects.select_related("lot__product", "location", "patient").get(pk=draw.pk)
    if draw.kind != Kind.ADMINISTRATION:
        raise FieldError("draw", "wastage follows a dose drawn from stock: choose the dose")
    if LedgerLine.objects.filter(reverses=draw).exists():
        raise FieldError("draw", "that draw was reversed: nothing of it is left to waste")
    lot, location = draw.lot, draw.location
    mg = mg_from(lot.product, amount_mg=amount_mg, amount_ml=amount_ml)
    method = clean_text("method", method, required=True, max_length=200)
    # under the balance's lock, so two wastage records of one remainder cannot both fit
    list(Balance.objects.select_for_update().filter(lot=lot, location=location))
    left = remainder_of(draw) - wasted_after(draw)
    if mg > left:
        raise FieldError("amount_mg", f"at most {left.normalize():f} mg "
                                      f"({lot.product.ml_for(left).normalize():f} mL) is left of "
                                      "the containers opened for this dose: nothing was recorded"
                         if left > 0 else "nothing is left to waste of this dose (a nasal device "
                                          "is used whole; a vial's remainder is already wasted)")
    when = moment(at, lot.clinic_id)
    if when < draw.at.replace(second=0, microsecond=0):  # a form gives whole minutes
        raise FieldError("at", "is before the dose was drawn")
    required = LedgerSettings.for_clinic(lot.clinic_id).witness_waste
    witnessed_at = None
    if required or witness is not None:
        witnesses.confirm_witness(lot, by=by, witness=witness, password=witness_password,
                                  code=witness_code)
        witnessed_at = timezone.now()
    return move(lot=lot, location=location, kind=Kind.WASTE, mg=-mg, at=when, by=by,
                 method=method, witness=witness if witnessed_at else None,
                 witnessed_at=witnessed_at, related=draw, patient=draw.patient,
                 session_id=draw.session_id)


@action
def transfer(*, lot: Lot, source: Location, destination: Location, amount_mg=None,
             amount_ml=None, at: datetime | None = None, reason: str = "",
             by: User | None) -> tuple[LedgerLine, LedgerLine]:
    """Stock of a lot moved from one location to another: a line out and a line in."""
    if source.pk == destination.pk:
        raise FieldError("destination", "must be another location than where it is now")
    _same_clinic("destination", destination, lot.clinic_id)
    mg = mg_from(lot.product, amount_mg=amount_mg, amount_ml=amount_ml)
    when = moment(at, lot.clinic_id)
    reason = clean_text("reason", reason)
    out = move(lot=lot, location=source, kind=Kind.TRANSFER_OUT, mg=-mg, at=when, by=by,
                reason=reason)
    into = move(lot=lot, location=destination, kind=Kind.TRANSFER_IN, mg=mg, at=when, by=by,
                 reason=reason, related=out)
    return out, into


def transfer_partner(line: LedgerLine) -> LedgerLine | None:
    if line.kind == Kind.TRANSFER_IN:
        return line.related
    if line.kind == Kind.TRANSFER_OUT:
        return LedgerLine.objects.filter(related=line, kind=Kind.TRANSFER_IN).first()
    return None


# a nurse may reverse their own draw or move; anything else is a correction (the admin's or
# the prescriber's): a receipt, a wastage, an adjustment, a disposal, another person's line
SELF_REVERSIBLE = (Kind.ADMINISTRATION, Kind.TRANSFER_OUT, Kind.TRANSFER_IN)


def is_correction(line: LedgerLine, user: User | None) -> bool:
    """Whether reversing ``line`` corrects the record rather than undoing one's own draw or
    move: a receipt, a wastage, an adjustment, a disposal, or another person's line."""
    own = user is not None and line.recorded_by_id == user.pk
    return not (own and line.kind in SELF_REVERSIBLE)


def may_reverse(line: LedgerLine, user: User | None, role: str | None) -> bool:
    from kapclinic.accounts.permissions import Action, role_can

    if role_can(role, Action.STOCK_SETUP):  # those who keep the stock records
        return True
    return role_can(role, Action.STOCK_REVERSE) and not is_correction(line, user)


@action
def reverse(*, line: LedgerLine, reason: str, by: User | None, role: str | None,
            witness: User | None = None, witness_password: str = "",
            witness_code: str = "") -> list[LedgerLine]:
    """A mistaken line undone by the opposite line, with a reason (a transfer: both legs). A
    correction (see ``is_correction``) puts stock back or takes it away on one person's word
    otherwise, so a second person authenticates in that moment, and the clinic is alerted."""
    if not may_reverse(line, by, role):
        trail.record("denied", object_type="ledger_line", object_id=line.pk,
                     detail={"reason": "reversal needs the admin or the prescriber"})
        raise FieldError("line", "only the clinic admin or a prescriber corrects this line (a "
                                 "receipt, a wastage, a count's adjustment, a disposal, or a line "
                                 "someone else recorded)")
    reason = clean_text("reason", reason, required=True)
    if line.kind == Kind.REVERSAL:
        raise FieldError("line", "a reversal is not reversed: record the movement again instead")
    if line.kind == Kind.ADMINISTRATION and LedgerLine.objects.filter(
            kind=Kind.WASTE, related=line, reversed_by__isnull=True).exists():
        raise FieldError("line", "the wastage after this dose stands: reverse the wastage first")
    correction = is_correction(line, by)
    if correction:
        witnesses.confirm_witness(line.lot, by=by, witness=witness, password=witness_password,
                                  code=witness_code, may=Action.STOCK_VIEW,
                                  roles_said="an admin, prescriber or nurse")
    legs = [line]
    partner = transfer_partner(line)
    if partner is not None:
        # the leg that adds stock is taken back first, so a transfer whose stock has already
        # been used at the destination is refused before anything changes
        legs = sorted([line, partner], key=lambda leg: leg.kind != Kind.TRANSFER_IN)
    done = []
    for leg in legs:
        if LedgerLine.objects.filter(reverses=leg).exists():
            raise FieldError("line", f"line {leg.pk} was already reversed")
        try:
            with transaction.atomic():
                done.append(move(lot=leg.lot, location=leg.location, kind=Kind.REVERSAL,
                                  mg=-leg.amount_mg, at=timezone.now(), by=by, reverses=leg,
                                  reason=reason, patient=leg.patient, session_id=leg.session_id,
                                  witness=witness if correction else None,
                                  witnessed_at=timezone.now() if correction else None))
        except IntegrityError as exc:
            raise FieldError("line", f"line {leg.pk} was already reversed") from exc
    trail.record("reverse", object_type="ledger_line", object_id=line.pk,
                 detail={"reversals": [row.pk for row in done], "correction": correction})
    if correction:
        alerting.corrected(line, done[0], by)
    return done


def is_outgoing(kind: str) -> bool:
    return kind in OUTGOING


# ---- counts and discrepancies --------------------------------------------------------------

@action
def record_count(*, lot: Lot, location: Location, kind: str, counted_mg=None, counted_ml=None,
                 estimated: bool = False, note: str = "", by: User | None) -> StockCount:
    """What was counted, beside the ledger's balance at that moment (read under its lock, so
    no draw slips between the two). Counted zero is a count too."""
    _same_clinic("location", location, lot.clinic_id)
    if kind not in CountKind.values:
        raise FieldError("kind", f"must be one of: {', '.join(CountKind.values)}")
    if counted_mg in (None, "") and counted_ml in (None, ""):
        raise FieldError("counted_mg", "give what was counted in mg or in mL (0 if none is left)")
    if counted_mg not in (None, ""):
        counted = _number("counted_mg", counted_mg)
    else:
        counted = _number("counted_mg", _number("counted_ml", counted_ml)
                          * lot.product.concentration_mg_per_ml)
    if counted < 0:
        raise FieldError("counted_mg", "must be zero or more")
    if estimated and LedgerSettings.for_clinic(lot.clinic_id).exact_counts:
        raise FieldError("estimated", "this clinic counts exactly: an estimate is not accepted")
    balance = Balance.objects.select_for_update().filter(lot=lot, location=location).first()
    count = StockCount.objects.create(
        clinic_id=lot.clinic_id, lot=lot, location=location, kind=kind, counted_mg=counted,
        balance_mg=balance.quantity_mg if balance else Decimal("0"), estimated=estimated,
        counted_by=by, note=clean_text("note", note))
    trail.record("create", object_type="stock_count", object_id=count.pk,
                 detail={"lot": lot.pk, "location": location.pk, "counted_mg": str(counted),
                         "balance_mg": str(count.balance_mg)})
    if count.difference_mg:
        alerting.count_differs(count, by)
    return count


def open_discrepancies(clinic_id: int):
    """Counts that differ from the ledger and no admin has resolved, oldest first."""
    return (StockCount.objects.filter(clinic_id=clinic_id, resolution__isnull=True)
            .exclude(counted_mg=F("balance_mg"))
            .select_related("lot__product", "location", "counted_by").order_by("counted_at", "id"))


@action
def resolve(*, count: StockCount, reason: str, adjust: bool, by: User | None) -> CountResolution:
    """An admin's reason for a discrepancy; ``adjust`` also sets the balance to the count by an
    adjustment line (the difference since the count), never below zero."""
    reason = clean_text("reason", reason, required=True)
    if count.counted_mg == count.balance_mg:
        raise FieldError("count", "this count agrees with the ledger: there is nothing to resolve")
    if CountResolution.objects.filter(count=count).exists():
        raise FieldError("count", "this discrepancy is already resolved")
    line = None
    if adjust:
        line = move(lot=count.lot, location=count.location, kind=Kind.ADJUSTMENT,
                     mg=count.difference_mg, at=timezone.now(), by=by,
                     reason=f"Count {count.pk}: {reason}")
    try:
        with transaction.atomic():
            resolution = CountResolution.objects.create(count=count, clinic_id=count.clinic_id,
                                                        reason=reason, adjustment=line,
                                                        resolved_by=by)
    except IntegrityError as exc:
        raise FieldError("count", "this discrepancy is already resolved") from exc
    trail.record("create", object_type="count_resolution", object_id=resolution.pk,
                 detail={"count": count.pk, "adjusted": line is not None})
    alerting.answered(alerting.COUNT, count.pk, note=f"Resolved: {reason}", by=by)
    return resolution
