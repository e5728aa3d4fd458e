"""What the ledger shows and checks: the stock on hand, a lot's lines, the doses not yet
drawn from stock, and that every balance equals the replay of its lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Sum

from kapclinic.accounts.scoping import for_clinic
from kapclinic.inventory.models import ZERO, Balance, Kind, LedgerLine
from kapclinic.patients.models import Patient
from kapclinic.platform import extensions as ext

# [policy: labelled default] a lot is flagged this many days before it expires
EXPIRY_WARNING_DAYS = 60
# the "Doses to draw" list looks this far back
UNDRAWN_DAYS = 14


@dataclass(frozen=True)
class StockRow:
    balance: Balance
    expired: bool
    expiring: bool

    @property
    def quantity_ml(self) -> Decimal:
        return self.balance.quantity_ml

    @property
    def containers(self) -> Decimal:
        product = self.balance.lot.product
        return (self.balance.quantity_mg / product.mg_per_container).quantize(Decimal("0.01"))


def stock(clinic_id: int, today: date, *, include_empty: bool = False) -> list[StockRow]:
    """Each lot's balance at each location, by product then expiry."""
    balances = for_clinic(Balance, clinic_id).select_related("lot__product", "location") \
        .order_by("lot__product__name", "lot__expires_on", "lot__lot_number", "location__name")
    if not include_empty:
        balances = balances.filter(quantity_mg__gt=0)
    soon = today + timedelta(days=EXPIRY_WARNING_DAYS)
    return [StockRow(b, b.lot.expires_on < today, today <= b.lot.expires_on <= soon)
            for b in balances]


def expired_with_stock(clinic_id: int, today: date) -> int:
    """Lots past their expiry that still hold stock (the menu's badge)."""
    return (for_clinic(Balance, clinic_id).filter(quantity_mg__gt=0, lot__expires_on__lt=today)
            .values("lot").distinct().count())


# a lot's page shows this many lines at a time (a busy multi-dose lot has thousands)
LINES_PER_PAGE = 200


def lines_of(lot) -> list[LedgerLine]:
    return list(LedgerLine.objects.filter(lot=lot)
                .select_related("location", "recorded_by", "witness", "patient", "reverses")
                .prefetch_related("reversed_by").order_by("id"))


@dataclass(frozen=True)
class LinesPage:
    lines: list[LedgerLine]   # oldest first
    older_than: int | None    # the id to ask for the page before this one (None: no more)
    is_newest: bool


def lines_page(lot, *, before: int | None = None) -> LinesPage:
    """The newest ``LINES_PER_PAGE`` lines of a lot (or those before line ``before``)."""
    found = LedgerLine.objects.filter(lot=lot)
    if before is not None:
        found = found.filter(id__lt=before)
    newest_first = list(found.select_related("location", "recorded_by", "witness", "patient",
                                             "reverses")
                        .prefetch_related("reversed_by").order_by("-id")[:LINES_PER_PAGE + 1])
    more = len(newest_first) > LINES_PER_PAGE
    lines = list(reversed(newest_first[:LINES_PER_PAGE]))
    return LinesPage(lines, lines[0].pk if more and lines else None, before is None)


def replay(balance: Balance) -> tuple[Decimal, int]:
    """The balance its lines add up to, and how many lines there are."""
    found = LedgerLine.objects.filter(lot_id=balance.lot_id, location_id=balance.location_id) \
        .aggregate(total=Sum("amount_mg"), lines=Count("id"))
    return exact(found["total"]), found["lines"]


def exact(total) -> Decimal:
    """A SQL sum of decimals, to the ledger's 0.001 mg: SQLite sums them as binary floats
    (0.1 x 8 - 0.8 comes back as -1e-16), far inside the 0.0005 mg a rounding absorbs."""
    return Decimal(total or 0).quantize(Decimal("0.001")) + 0  # + 0: never "-0"


def mismatches(clinic_id: int | None = None) -> list[str]:
    """Each balance that is not the sum of its lines, in words (empty: all agree)."""
    balances = Balance.objects.select_related("lot", "location").order_by("id")
    if clinic_id is not None:
        balances = for_clinic(balances, clinic_id)
    sums = {(row["lot_id"], row["location_id"]): (exact(row["total"]), row["n"]) for row in
            LedgerLine.objects.values("lot_id", "location_id")
            .annotate(total=Sum("amount_mg"), n=Count("id"))}
    found = []
    for balance in balances:
        total, count = sums.get((balance.lot_id, balance.location_id), (ZERO, 0))
        if total != balance.quantity_mg or count != balance.lines:
            lines = f"its {count} line adds" if count == 1 else f"its {count} lines add"
            found.append(f"lot {balance.lot.lot_number} at {balance.location.name}: balance "
                         f"{_mg(balance.quantity_mg)} mg, but {lines} up to {_mg(total)} mg")
    return found


def _mg(value) -> str:
    return f"{Decimal(value).quantize(Decimal('0.001')).normalize():f}"


@dataclass(frozen=True)
class Undrawn:
    dose: ext.Dose
    patient: Patient


def undrawn_doses(clinic_id: int, since) -> list[Undrawn]:
    """Doses given since ``since`` (from whichever app records them) with no standing draw."""
    patients = {p.pk: p for p in for_clinic(Patient, clinic_id)}
    doses = [d for found in ext.doses_of(patients).values() for d in found
             if d.given_at >= since and d.administration_id is not None]
    drawn = set(LedgerLine.objects.filter(
        kind=Kind.ADMINISTRATION, administration_id__in=[d.administration_id for d in doses],
        reversed_by__isnull=True).values_list("administration_id", flat=True))
    return [Undrawn(d, patients[d.patient_id]) for d in sorted(doses, key=lambda d: d.given_at)
            if d.administration_id not in drawn]



def wasted_after_draws(draw_ids: list[int]) -> dict[int, Decimal]:
    """How much standing wastage follows each of these draws (only draws with some)."""
    rows = (LedgerLine.objects.filter(kind=Kind.WASTE, related_id__in=draw_ids, reversed_by__isnull=True)
            .values("related_id").annotate(total=Sum("amount_mg")))
    return {row["related_id"]: -exact(row["total"]) for row in rows}


def left_to_waste(lines: list[LedgerLine], wasted: dict[int, Decimal]) -> dict[int, Decimal]:
    """For each standing draw among ``lines``: what its opened containers still hold."""
    from kapclinic.inventory.actions import remainder_of

    return {line.pk: remainder_of(line) - wasted.get(line.pk, ZERO) for line in lines
            if line.kind == Kind.ADMINISTRATION and not hasattr(line, "reversed_by")}


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has no such day)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


@dataclass(frozen=True)
class InventoryDue:
    last: date | None   # the clinic's day of the last initial or periodic inventory
    due: date | None    # when the next is due (None: no initial inventory yet)
    overdue: bool


def inventory_due(clinic_id: int, today: date, zone) -> InventoryDue:
    """When the next inventory is due: the last initial or biennial/annual inventory plus the
    clinic's interval (21 CFR 1304.11; annual in Iowa and Puerto Rico)."""
    from django.utils import timezone

    from kapclinic.inventory.models import CountKind, LedgerSettings, StockCount

    last = (for_clinic(StockCount, clinic_id)
            .filter(kind__in=(CountKind.INITIAL, CountKind.INVENTORY))
            .order_by("-counted_at").values_list("counted_at", flat=True).first())
    if last is None:
        return InventoryDue(None, None, False)
    day = timezone.localdate(last, zone)
    due = add_months(day, LedgerSettings.for_clinic(clinic_id).inventory_months)
    return InventoryDue(day, due, due < today)
