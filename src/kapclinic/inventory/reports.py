"""The ledger's records for a period, as a DEA inspector reads them: the dispensing and
administering record (21 CFR 1304.22(c): /work/shared/reference/sessions.md section 4), the
inventory, destructions and returns (DEA Form 41 data), thefts and losses (DEA Form 106 data
and the notices due), and the reconciliation of the sessions' doses with the ledger's draws.

Reads only: nothing here writes to the ledger. Cost is bounded for a ledger of millions of
lines: a period is at most ``MAX_PERIOD_DAYS``; sums are SQL aggregates; lines are read
``BATCH`` at a time by keyset on (at, id) (a fixed number of queries per batch, no cursor held
open while rows stream), and the names a line points at (people, patients, disposals) are
fetched once per batch for the ones not seen yet. A report is a list of tables whose rows
come in batches; ``csv_lines`` and ``text_lines`` stream them and ``Reads`` writes the audit
entries (the report once, then a read of each patient named, before the rows naming them
leave). The pages are ``report_views``; the command is ``kapclinic ledger report``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import OuterRef, Subquery, Sum
from django.utils import timezone

from kapclinic.accounts.models import Clinic, User
from kapclinic.accounts.scoping import for_clinic
from kapclinic.audit import trail
from kapclinic.inventory import disposals, stock
from kapclinic.inventory.models import (
    ZERO,
    Balance,
    DeaNotice,
    Disposal,
    DisposalKind,
    Kind,
    LedgerLine,
    LedgerSettings,
    Location,
    Lot,
    NoticeStep,
    Product,
    StockCount,
)
from kapclinic.inventory.templatetags.ledger import qty
from kapclinic.patients.models import Patient
from kapclinic.platform import extensions as ext
from kapclinic.platform.spreadsheet import NUMBER, safe_cell, safe_row  # noqa: F401 (tests read them here)

# engineering bounds on one report's cost (not rules): two years, a leap day included (the
# federal retention), and the years records are kept in
MAX_PERIOD_DAYS = 731
YEARS = (2000, 2100)
BATCH = 2000          # lines per query while a report streams
PAGE_ROWS = 500       # lines per page of the record on screen
LISTED_ROWS = 5000    # rows of any other table on screen (the CSV has them all)
PATIENT_BATCH = 500   # patients per call for their doses

KINDS = {
    "dispensing": "Dispensing and administering record",
    "inventory": "Inventory",
    "destruction": "Destructions and returns",
    "loss": "Thefts and losses",
    "reconciliation": "Doses and stock reconciled",
}
KIND_HELP = {
    "dispensing": "Every milligram received, administered to a patient, wasted, moved, destroyed, "
                  "lost or returned in the period, with each lot's opening and closing balance "
                  "(the record 21 CFR 1304.22(c) asks for).",
    "inventory": "What each lot held at each location at the end of the period, with the last "
                 "count there and whether it was exact or estimated.",
    "destruction": "Stock destroyed (the DEA Form 41 details, with its two witnesses) and stock "
                   "returned to a reverse distributor in the period.",
    "loss": "Thefts and significant losses discovered in the period: what was lost, the written "
            "notice to the DEA due within one business day, and DEA Form 106.",
    "reconciliation": "Each dose given in a session in the period beside what was drawn from "
                      "stock for it, and each draw beside its dose: every difference in words.",
}
NOT_SET = "not set"

# The latest a line's "at" can be (a line is never dated in the future: actions._when). A
# range needs both ends for SQLite's planner to read it by an index: with one end it guesses
# a quarter of the table and reads the whole table in another order instead.
END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)
START_OF_TIME = datetime(1900, 1, 1, tzinfo=UTC)  # before any ledger's first line (the same reason)


class PeriodError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def check_period(start: date, end: date) -> None:
    """The period's days, first and last included: refused naming the field."""
    for name, day in (("from", start), ("to", end)):
        if not YEARS[0] <= day.year <= YEARS[1]:
            raise PeriodError(name, f"the year must be from {YEARS[0]} to {YEARS[1]}")
    if end < start:
        raise PeriodError("to", f"is before the first day ({start.isoformat()})")
    days = (end - start).days + 1
    if days > MAX_PERIOD_DAYS:
        raise PeriodError("to", f"the period is {days} days; a report covers at most "
                                f"{MAX_PERIOD_DAYS} days (two years): make two reports")


@dataclass(frozen=True)
class Period:
    clinic: Clinic
    start: date
    end: date

    def __post_init__(self) -> None:
        check_period(self.start, self.end)

    @property
    def first(self) -> datetime:
        """The period's first moment, in the clinic's zone."""
        return datetime.combine(self.start, time.min, tzinfo=self.clinic.zone)

    @property
    def after(self) -> datetime:
        """The moment after its last day."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=self.clinic.zone)

    @property
    def words(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


# ---- what a report is ----------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    patient_ids: tuple[int, ...] = ()
    css: str = ""  # the page's hint: "is-reversed", "kind-reversal", "is-problem"


Batches = Callable[[int, "int | None"], Iterator[list[Row]]]


@dataclass
class Table:
    key: str
    title: str
    columns: tuple[str, ...]
    batches: Batches                 # (offset, limit) -> the rows, a batch at a time
    intro: str = ""
    empty: str = "None in this period."
    numeric: frozenset[str] = frozenset()
    count: Callable[[], int] | None = None   # a paged table's row count (the record's lines)

    def rows(self, offset: int = 0, limit: int | None = None) -> list[Row]:
        return [row for batch in self.batches(offset, limit) for row in batch]


@dataclass
class Report:
    kind: str
    title: str
    period: Period
    facts: list[tuple[str, str]]
    tables: list[Table]
    notes: list[str] = field(default_factory=list)


def _listed(make: Callable[[], list[Row]]) -> Batches:
    """Batches of a bounded list made when first read."""
    def batches(offset: int = 0, limit: int | None = None) -> Iterator[list[Row]]:
        rows = make()
        rows = rows[offset:] if limit is None else rows[offset:offset + limit]
        for start in range(0, len(rows), BATCH):
            yield rows[start:start + BATCH]
    return batches


# ---- words and numbers ---------------------------------------------------------------------

def mg(value: Any) -> str:
    """An amount as the ledger writes it: 1.5 not 1.500, 800 not 8E+2. Also a column read raw
    (``_raw``): SQLite gives a stored decimal of at most three places as an int or a float."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = f"{value.normalize():f}"
    elif isinstance(value, int):
        return str(value)
    elif isinstance(value, float):
        text = f"{value:.3f}".rstrip("0").rstrip(".")
    else:
        return qty(value)
    return "0" if text == "-0" else text


def as_moment(value: Any) -> datetime | None:
    """A date and time read raw (``_raw``): SQLite gives UTC as text, PostgreSQL a datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _ml(product: Product, amount_mg: Decimal) -> Decimal:
    return (amount_mg / product.concentration_mg_per_ml).quantize(Decimal("0.001"))


class LocalTime:
    """A moment (raw or not) as the clinic's wall clock reads it, "YYYY-MM-DD HH:MM": the same
    as ``astimezone(zone)``, with the zone's offset looked up once per quarter hour of UTC (a
    zone's offset changes only on a quarter hour in the years records are kept), which makes
    a long report's dates several times cheaper."""

    def __init__(self, zone) -> None:
        self.zone = zone
        self.offsets: dict[tuple[int, int, int, int, int], timedelta] = {}

    def __call__(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        key = (value.year, value.month, value.day, value.hour, value.minute // 15)
        offset = self.offsets.get(key)
        if offset is None:
            offset = self.offsets[key] = value.replace(tzinfo=UTC).astimezone(self.zone).utcoffset()
        return (value + offset).isoformat(" ", "minutes")


def _when(value: Any, zone) -> str:
    at = as_moment(value)
    return "" if at is None else f"{at.astimezone(zone):%Y-%m-%d %H:%M}"


def _day(value: Any, zone) -> str:
    at = as_moment(value)
    return "" if at is None else f"{at.astimezone(zone):%Y-%m-%d}"


def one_line(text: str) -> str:
    """An address or note on one line (a CSV cell, a table cell)."""
    return ", ".join(part.strip() for part in re.split(r"[\r\n]+", text or "") if part.strip())


def person(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


def container_words(product: Product) -> str:
    """Units per container as the label reads them: '20 mL vial (200 mg)'."""
    return (f"{qty(product.container_ml)} mL {product.container_word} "
            f"({qty(product.mg_per_container)} mg)")


def product_words(product: Product) -> str:
    return f"{product.name} (NDC {product.ndc})"


def _registrant(period: Period, **more: str) -> list[tuple[str, str]]:
    settings = LedgerSettings.for_clinic(period.clinic.pk)
    return [("Registrant", settings.registrant_name or NOT_SET),
            ("Registrant's address", one_line(settings.registrant_address) or NOT_SET),
            ("Registrant's DEA number", settings.registrant_dea or NOT_SET),
            ("Period", f"{period.words}, clinic time ({period.clinic.time_zone})"),
            *more.items(),
            ("Made", f"{_when(timezone.now(), period.clinic.zone)} from the clinic's "
                     "controlled-substance ledger")]


def _registrant_note(facts: list[tuple[str, str]]) -> list[str]:
    if any(value == NOT_SET for _, value in facts):
        return ["The registrant's name, address or DEA number is not set: the clinic admin "
                "enters them under Stock, Record settings."]
    return []


# ---- reading many lines --------------------------------------------------------------------

def _raw(queryset) -> list[tuple]:
    """The rows of a values_list() queryset as the database gives them, without Django's
    per-value conversions (a third of a long report's time on SQLite): dates and times go
    through ``as_moment`` and amounts through ``mg`` instead."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _after(queryset, at: datetime, pk: int):
    """The lines after (at, id) in (at, id) order, as a row comparison both databases read
    from the (clinic, at, id) index in order, stopping at the batch's end (an OR of the two
    columns has PostgreSQL sort the rest of the period for every batch). at >= the last at is
    said plainly too: SQLite's planner starts its index range there."""
    table = connection.ops.quote_name(LedgerLine._meta.db_table)
    at_column, id_column = (f"{table}.{connection.ops.quote_name(c)}" for c in ("at", "id"))
    # the SQL names two columns of the model; the values are parameters
    return queryset.filter(at__gte=at).extra(  # noqa: S610
        where=[f"({at_column}, {id_column}) > (%s, %s)"],
        params=[connection.ops.adapt_datetimefield_value(at), pk])


def _keyset(queryset, offset: int, limit: int | None) -> Iterator[list[tuple]]:
    """The rows of ``queryset`` (values_list() starting with id then at, ordered by at then
    id), read raw ``BATCH`` at a time: the first batch by offset, the next ones after the last
    (at, id) seen (each batch one bounded query: no cursor stays open while rows stream)."""
    taken, last = 0, None
    while limit is None or taken < limit:
        size = BATCH if limit is None else min(BATCH, limit - taken)
        batch = _raw(queryset[offset:offset + size] if last is None else _after(queryset, *last)[:size])
        if not batch:
            return
        yield batch
        taken += len(batch)
        last = (as_moment(batch[-1][1]), batch[-1][0])
        if len(batch) < size:
            return


LINE_FIELDS = ("id", "at", "kind", "amount_mg", "amount_ml", "containers", "method", "reason",
               "session_id", "lot_id", "location_id", "recorded_by_id", "witness_id",
               "witnessed_at", "patient_id", "reverses_id", "related_id", "disposal_id")


class Names:
    """The people, patients, disposals and lines that a batch of lines points at, each read
    once for the whole report (one query per kind per batch, for the new ones only)."""

    def __init__(self, clinic: Clinic) -> None:
        self.clinic_id = clinic.pk
        self.lots = {lot.pk: lot for lot in for_clinic(Lot, clinic.pk).select_related("product")}
        self.locations = dict(for_clinic(Location, clinic.pk).values_list("pk", "name"))
        self.users: dict[int, str] = {}
        self.patients: dict[int, tuple[str, str, str]] = {}
        self.disposals: dict[int, dict] = {}

    def users_of(self, ids: Iterable[int | None]) -> None:
        new = {i for i in ids if i is not None and i not in self.users}
        if new:
            for pk, first, last, username in User.objects.filter(pk__in=new).values_list(
                    "pk", "first_name", "last_name", "username"):
                self.users[pk] = person(first, last, username)

    def user(self, pk: int | None) -> str:
        return "" if pk is None else self.users.get(pk, f"user {pk}")

    def patients_of(self, ids: Iterable[int | None]) -> None:
        new = {i for i in ids if i is not None and i not in self.patients}
        if new:
            for pk, given, family, address, mrn in for_clinic(Patient, self.clinic_id).filter(
                    pk__in=new).values_list("pk", "given_name", "family_name", "address", "mrn"):
                self.patients[pk] = (f"{given} {family}".strip(), one_line(address), mrn)

    def patient(self, pk: int | None) -> tuple[str, str, str]:
        return ("", "", "") if pk is None else self.patients.get(pk, (f"patient record {pk}", "", ""))

    def disposals_of(self, ids: Iterable[int | None]) -> None:
        new = {i for i in ids if i is not None and i not in self.disposals}
        if new:
            for row in for_clinic(Disposal, self.clinic_id).filter(pk__in=new).values(
                    "pk", "kind", "happened_at", "method", "place", "description", "recipient_name",
                    "recipient_address", "recipient_dea", "witness_id", "witnessed_at",
                    "second_witness_id", "second_witnessed_at"):
                self.disposals[row["pk"]] = row


# what a line of the record reads from the ledger (no join: reversals are few, read apart)
MOVE_FIELDS = ("id", "at", "kind", "amount_mg", "amount_ml", "containers", "method", "reason",
               "session_id", "lot_id", "location_id", "recorded_by_id", "witness_id", "witnessed_at",
               "patient_id", "reverses_id", "related_id", "disposal_id")


class LineRows:
    """Ledger lines (``MOVE_FIELDS`` tuples) as rows of the record: the names they point at
    come from ``Names``; a lot's words are made once."""

    COLUMNS = ("Date and time", "Product", "Lot", "Location", "What happened", "Containers", "mg",
               "mL", "Patient", "Patient's address", "Session", "Given or recorded by", "Witness",
               "Manner, method or reason", "Supplier or recipient", "Line", "Reversal")
    NUMERIC = frozenset({"Containers", "mg", "mL", "Line"})

    def __init__(self, period: Period) -> None:
        self.period = period
        self.zone = period.clinic.zone
        self.clock = LocalTime(self.zone)
        self.names = Names(period.clinic)
        self.lots = {pk: (lot.product.name, lot.lot_number, lot.product.container_word,
                          f"{lot.supplier_name}, {one_line(lot.supplier_address)}; DEA {lot.supplier_dea}")
                     for pk, lot in self.names.lots.items()}
        self._reversals: tuple[dict[int, tuple], dict[int, tuple]] | None = None

    @property
    def reversals(self) -> tuple[dict[int, tuple], dict[int, tuple]]:
        """Which lines were reversed (by which line, when) and what each reversal undid (the
        line's kind and when): every reversal from the period's start on, in one query (a
        reversal is written after the line it undoes, so none of the period's is earlier)."""
        if self._reversals is None:
            reversed_by, undid = {}, {}
            for pk, at, undone, kind, undone_at in LedgerLine.objects.filter(
                    clinic_id=self.period.clinic.pk, kind=Kind.REVERSAL,
                    at__gte=self.period.first - timedelta(days=1), at__lt=END_OF_TIME).values_list(
                    "id", "at", "reverses_id", "reverses__kind", "reverses__at"):
                reversed_by[undone] = (pk, at)
                undid[pk] = (kind, undone_at)
            self._reversals = reversed_by, undid
        return self._reversals

    def _disposal(self, disposal_id: int) -> tuple[str, str, str]:
        """A destruction's manner, a return's recipient, a theft or loss's account, and the
        witnesses of a destruction."""
        disposal = self.names.disposals.get(disposal_id)
        if disposal is None:
            return "", "", ""
        manner = other = ""
        if disposal["kind"] == DisposalKind.DESTRUCTION:
            manner = "; ".join(p for p in (disposal["method"],
                                           disposal["place"] and f"at {disposal['place']}") if p)
        elif disposal["kind"] == DisposalKind.RETURN:
            other = "; ".join(p for p in (disposal["recipient_name"], one_line(disposal["recipient_address"]),
                                          disposal["recipient_dea"] and f"DEA {disposal['recipient_dea']}")
                              if p)
        else:
            manner = one_line(disposal["description"])
        witnesses = " and ".join(self.names.user(w) for w in (disposal["witness_id"],
                                                              disposal["second_witness_id"]) if w)
        return manner, other, witnesses

    def rows(self, batch: list[tuple]) -> list[Row]:
        names = self.names
        names.users_of(u for line in batch for u in (line[11], line[12]))
        names.patients_of(line[14] for line in batch)
        names.disposals_of(line[17] for line in batch)
        names.users_of(w for line in batch if line[17] in names.disposals
                       for w in (names.disposals[line[17]]["witness_id"],
                                 names.disposals[line[17]]["second_witness_id"]))
        zone, labels, lots, locations = self.zone, KIND_WORDS, self.lots, names.locations
        users, patient, clock = names.users, names.patient, self.clock
        reversed_by, undid = self.reversals
        found = []
        for (pk, at, kind, amount_mg, amount_ml, containers, method, reason, session_id, lot_id,
             location_id, recorded_by_id, witness_id, witnessed_at, patient_id, reverses_id, related_id,
             disposal_id) in batch:
            product, lot_number, container_word, supplier = lots[lot_id]
            what, manner, other, witness = labels.get(kind, kind), method, "", ""
            if kind == "receipt":
                what = f"Received {containers} {container_word}{'' if containers == 1 else 's'}"
                other = supplier
            elif kind == "waste" and related_id:
                what = f"Wasted: the rest of the dose of line {related_id}"
            elif kind == "reversal":
                undone_kind, undone_at = undid.get(pk, ("", None))
                what = (f"Reversal of line {reverses_id} "
                        f"({labels.get(undone_kind, undone_kind).lower()}, {_day(undone_at, zone)})")
            if disposal_id:
                manner, other, witness = self._disposal(disposal_id)
            if reason:
                manner = f"{manner}; {one_line(reason)}" if manner else one_line(reason)
            if witness_id:
                witness = f"{users.get(witness_id, '')} ({clock(witnessed_at)})"
            name, address, _mrn = patient(patient_id)
            if pk in reversed_by:
                reversed_by_id, reversed_at = reversed_by[pk]
                reversal = f"Reversed by line {reversed_by_id} on {_day(reversed_at, zone)}"
                css = "is-reversed"
            elif kind == "reversal":
                reversal, css = f"Reverses line {reverses_id}", "kind-reversal"
            else:
                reversal, css = "", f"kind-{kind}"
            found.append(Row((
                clock(at), product, lot_number, locations.get(location_id, ""),
                what, str(containers or ""), mg(amount_mg), mg(amount_ml), name, address,
                str(session_id or ""), users.get(recorded_by_id, ""), witness, manner, other, str(pk),
                reversal),
                patient_ids=(patient_id,) if patient_id else (), css=css))
        return found


KIND_WORDS = {str(value): str(label) for value, label in Kind.choices}


def _moves(period: Period, lot_ids: list[int] | None = None, *, count: bool = False, **filters: Any):
    """The period's lines as ``MOVE_FIELDS`` in time order (or, ``count``, how many)."""
    lines = LedgerLine.objects.filter(clinic_id=period.clinic.pk, at__gte=period.first,
                                      at__lt=period.after, **filters)
    if lot_ids is not None:
        lines = lines.filter(lot_id__in=lot_ids)
    if count:
        return lines.count()
    return lines.order_by("at", "id").values_list(*MOVE_FIELDS)


# ---- balances at a moment ------------------------------------------------------------------

def balances_at(clinic_id: int, moment: datetime) -> dict[tuple[int, int], Decimal]:
    """Each lot's balance at each location just before ``moment``, adding up as few lines as
    can be: a lot and location whose lines all came before it holds its balance now (which
    ``kapclinic ledger verify`` checks against its lines), one whose lines all came after held
    nothing, and only one with lines on both sides (a lot in use then) has its earlier lines
    added. Its first and last lines are found by the (lot, location, at) index: a few reads
    per lot, whatever the ledger's size."""
    lines = LedgerLine.objects.filter(lot_id=OuterRef("lot_id"), location_id=OuterRef("location_id"))
    spans = for_clinic(Balance, clinic_id).annotate(
        first=Subquery(lines.order_by("at").values("at")[:1]),
        last=Subquery(lines.order_by("-at").values("at")[:1])).values_list(
        "lot_id", "location_id", "quantity_mg", "first", "last")
    held: dict[tuple[int, int], Decimal] = {}
    in_use: set[int] = set()
    for lot_id, location_id, quantity, first, last in spans:
        if first is None or first >= moment:
            continue
        if last < moment:
            held[(lot_id, location_id)] = quantity
        else:
            in_use.add(lot_id)
    if in_use:
        for lot_id, location_id, total in LedgerLine.objects.filter(
                lot_id__in=in_use, at__gte=START_OF_TIME, at__lt=moment).values(
                "lot_id", "location_id").annotate(total=Sum("amount_mg")).order_by().values_list(
                "lot_id", "location_id", "total"):
            held[(lot_id, location_id)] = stock.exact(total)
    return held


def period_sums(period: Period) -> tuple[dict[int, Decimal], dict[tuple[int, str], Decimal]]:
    """Each lot's balance at the start of the period (``balances_at``), and what each kind of
    line moved of it during the period (one pass over the period's lines)."""
    opening: dict[int, Decimal] = {}
    for (lot_id, _), quantity in balances_at(period.clinic.pk, period.first).items():
        opening[lot_id] = opening.get(lot_id, ZERO) + quantity
    moved = {(lot_id, kind): stock.exact(total) for lot_id, kind, total in LedgerLine.objects.filter(
        clinic_id=period.clinic.pk, at__gte=period.first, at__lt=period.after).values(
        "lot_id", "kind").annotate(total=Sum("amount_mg")).order_by().values_list("lot_id", "kind", "total")}
    return opening, moved


# ---- the dispensing and administering record -----------------------------------------------

SUMMED = (("Received (mg)", (Kind.RECEIPT,)), ("Administered (mg)", (Kind.ADMINISTRATION,)),
          ("Wasted (mg)", (Kind.WASTE,)),
          ("Destroyed, lost or returned (mg)", (Kind.DESTRUCTION, Kind.LOSS, Kind.RETURN)),
          ("Reversals (mg)", (Kind.REVERSAL,)), ("Adjusted to counts (mg)", (Kind.ADJUSTMENT,)))


def dispensing(period: Period, *, product_id: int | None = None) -> Report:
    """The record of 21 CFR 1304.22(c) for the period: per product, its form and strength; each
    lot's opening and closing balance; the containers received with the supplier; and every
    line of the period (administered to whom and by whom, wasted how and witnessed by whom,
    moved, destroyed, lost, returned, reversed)."""
    clinic_id = period.clinic.pk
    products = list(for_clinic(Product, clinic_id).order_by("name", "pk"))
    if product_id is not None:
        products = [p for p in products if p.pk == product_id]
    wanted = {p.pk for p in products}
    lots = [lot for lot in for_clinic(Lot, clinic_id).select_related("product")
            .order_by("product__name", "expires_on", "lot_number") if lot.product_id in wanted]
    lot_ids = None if product_id is None else [lot.pk for lot in lots]

    def product_rows() -> list[Row]:
        return [Row((p.get_drug_display(), p.name, p.ndc, p.get_form_display(), p.strength,
                     container_words(p), "Schedule III")) for p in products]

    def balance_rows() -> list[Row]:
        opening, moved = period_sums(period)
        net: dict[int, Decimal] = {}
        for (lot_id, _), total in moved.items():
            if total:
                net[lot_id] = net.get(lot_id, ZERO) + total
        rows = []
        for lot in lots:
            sums = [sum((moved.get((lot.pk, k), ZERO) for k in kinds), ZERO) for _, kinds in SUMMED]
            start = opening.get(lot.pk, ZERO)
            end = start + net.get(lot.pk, ZERO)
            if not start and not end and lot.pk not in net:
                continue
            product = lot.product
            rows.append(Row((product_words(product), lot.lot_number, f"{lot.expires_on:%Y-%m-%d}",
                             mg(start), *(mg(s) for s in sums), mg(end), mg(_ml(product, end)),
                             f"{(end / product.mg_per_container).quantize(Decimal('0.01')):f}")))
        return rows

    lines = LineRows(period)
    names, zone = lines.names, period.clinic.zone

    def receipts(offset: int, limit: int | None) -> Iterator[list[Row]]:
        for batch in _keyset(_moves(period, lot_ids, kind=Kind.RECEIPT), offset, limit):
            names.users_of(line[11] for line in batch)
            reversed_by, _ = lines.reversals
            rows = []
            for line in batch:
                lot = names.lots[line[9]]
                by = reversed_by.get(line[0])
                undone = f"Reversed by line {by[0]} on {_day(by[1], zone)}" if by else ""
                rows.append(Row((
                    _day(line[1], zone), product_words(lot.product), lot.lot_number, str(line[5] or ""),
                    container_words(lot.product), mg(line[3]), lot.supplier_name,
                    one_line(lot.supplier_address), lot.supplier_dea, lot.invoice,
                    names.locations.get(line[10], ""), names.user(line[11]), str(line[0]), undone),
                    css="is-reversed" if undone else ""))
            yield rows

    def movements(offset: int, limit: int | None) -> Iterator[list[Row]]:
        for batch in _keyset(_moves(period, lot_ids), offset, limit):
            yield lines.rows(batch)

    facts = _registrant(period, **({"Product": product_words(products[0])} if product_id and products
                                   else {}))
    tables = [
        Table("products", "Substances and products", ("Substance", "Product", "NDC", "Finished form",
                                                      "Strength", "Units per container", "Schedule"),
              _listed(product_rows), empty="No products recorded."),
        Table("balances", "Each lot's opening and closing balance",
              ("Product", "Lot", "Expires", "Opening (mg)", *(label for label, _ in SUMMED),
               "Closing (mg)", "Closing (mL)", "Closing (containers)"),
              _listed(balance_rows), numeric=frozenset({"Opening (mg)", "Closing (mg)", "Closing (mL)",
                                                        "Closing (containers)",
                                                        *(label for label, _ in SUMMED)}),
              intro="Opening: at the start of the first day; closing: at the end of the last day. "
                    "Amounts out of stock are negative.", empty="No stock in this period."),
        Table("receipts", "Containers received",
              ("Date received", "Product", "Lot", "Containers", "Each container", "mg", "Supplier",
               "Supplier's address", "Supplier's DEA number", "Invoice", "Received into",
               "Received by", "Line", "Reversal"), receipts,
              numeric=frozenset({"Containers", "mg", "Line"}),
              intro="Schedule III orders are documented by the supplier's invoice (no DEA Form 222).",
              count=lambda: _moves(period, lot_ids, kind=Kind.RECEIPT, count=True)),
        Table("lines", "Every movement of stock", LineRows.COLUMNS, movements, numeric=LineRows.NUMERIC,
              intro="Oldest first, in clinic time (each product's NDC, form and strength are in the "
                    "first table). Administered: to whom (name and address), in mg "
                    "and mL, and who gave it. Wasted: the rest of a dose, how, and who witnessed "
                    "it. A mistake is never erased: the line stays, marked reversed, and its "
                    "reversal is listed too.",
              count=lambda: _moves(period, lot_ids, count=True)),
    ]
    return Report("dispensing", KINDS["dispensing"], period, facts, tables, _registrant_note(facts))


# ---- the inventory -------------------------------------------------------------------------

def inventory(period: Period) -> Report:
    """What each lot held at each location at the end of the period (now, if the period runs
    to today), with the last count there by then."""
    clinic_id = period.clinic.pk
    zone = period.clinic.zone
    moment = min(period.after, timezone.now())

    def rows() -> list[Row]:
        names = Names(period.clinic)
        held = balances_at(clinic_id, moment) if moment < timezone.now() else {
                (b["lot_id"], b["location_id"]): b["quantity_mg"]
                for b in for_clinic(Balance, clinic_id).values("lot_id", "location_id", "quantity_mg")}
        latest = StockCount.objects.filter(lot_id=OuterRef("lot_id"), location_id=OuterRef("location_id"),
                                           counted_at__lt=moment).order_by("-counted_at", "-id")
        last_count = {(b["lot_id"], b["location_id"]): b["count_id"] for b in
                      for_clinic(Balance, clinic_id).annotate(count_id=Subquery(latest.values("id")[:1]))
                      .values("lot_id", "location_id", "count_id")}
        counts = {c["id"]: c for c in StockCount.objects.filter(
            id__in=[c for c in last_count.values() if c]).values(
            "id", "counted_at", "counted_mg", "balance_mg", "estimated", "counted_by_id", "kind",
            "resolution__id")}
        names.users_of(c["counted_by_id"] for c in counts.values())
        found = []
        for (lot_id, location_id), quantity in held.items():
            count = counts.get(last_count.get((lot_id, location_id)) or 0)
            if not quantity and (count is None or not count["counted_mg"]):
                continue
            lot = names.lots[lot_id]
            product = lot.product
            full = int(quantity // product.mg_per_container)
            opened_ml = _ml(product, quantity - full * product.mg_per_container)
            counted = ("", "", "", "", "")
            if count is not None:
                difference = count["counted_mg"] - count["balance_mg"]
                counted = (_when(count["counted_at"], zone), mg(count["counted_mg"]),
                           "estimated" if count["estimated"] else "exact",
                           names.user(count["counted_by_id"]),
                           "agreed with the ledger" if not difference else
                           f"{mg(difference)} mg against the ledger; "
                           + ("resolved" if count["resolution__id"] else "not resolved"))
            found.append((product.name, lot.expires_on, lot.lot_number,
                          names.locations.get(location_id, ""), Row((
                              product.get_drug_display(), product_words(product), product.strength,
                              container_words(product), lot.lot_number, f"{lot.expires_on:%Y-%m-%d}",
                              names.locations.get(location_id, ""), mg(quantity), mg(_ml(product, quantity)),
                              str(full), mg(opened_ml) if opened_ml else "", *counted))))
        found.sort(key=lambda item: item[:4])
        return [item[-1] for item in found]

    due = stock.inventory_due(clinic_id, timezone.localdate(timezone.now(), zone), zone)
    facts = _registrant(period, **{
        "Inventory as of": f"{_when(moment, zone)} (the end of the period, or now)",
        "Last initial or periodic inventory": f"{due.last:%Y-%m-%d}" if due.last else "none recorded",
        "Next inventory due": (f"{due.due:%Y-%m-%d}" + (" (overdue)" if due.overdue else "")) if due.due
        else "record the initial inventory (a count of each lot, kind: initial inventory)"})
    settings = LedgerSettings.for_clinic(clinic_id)
    table = Table("inventory", "Stock on hand by lot and location",
                  ("Substance", "Product", "Strength", "Each container", "Lot", "Expires", "Location",
                   "On hand (mg)", "On hand (mL)", "Full containers", "Opened container (mL left)",
                   "Last count", "Counted (mg)", "Exact or estimated", "Counted by",
                   "Count against the ledger"),
                  _listed(rows), numeric=frozenset({"On hand (mg)", "On hand (mL)", "Full containers",
                                                    "Opened container (mL left)", "Counted (mg)"}),
                  intro=f"From the ledger's lines up to that moment. This clinic counts "
                        f"{'exactly' if settings.exact_counts else 'opened containers by estimate'} "
                        f"and takes an inventory every {settings.inventory_months} months.",
                  empty="No stock held at that moment.")
    return Report("inventory", KINDS["inventory"], period, facts, [table], _registrant_note(facts))


# ---- destructions and returns (DEA Form 41 data) -------------------------------------------

def _disposal_lines(period: Period, kinds: Iterable[str]) -> list[dict]:
    disposals = for_clinic(Disposal, period.clinic.pk).filter(
        kind__in=list(kinds), happened_at__gte=period.first, happened_at__lt=period.after)
    return list(LedgerLine.objects.filter(disposal__in=disposals)
                .order_by("disposal__happened_at", "disposal_id", "id")
                .values(*LINE_FIELDS, "reversed_by__id"))


def _packages(product: Product, amount_mg: Decimal) -> tuple[str, str]:
    """Full containers, and the partial one's mL (Form 41's full packages and partial count)."""
    amount = abs(amount_mg)
    full = int(amount // product.mg_per_container)
    partial = _ml(product, amount - full * product.mg_per_container)
    return str(full), mg(partial) if partial else "0"


def destruction(period: Period) -> Report:
    """Stock destroyed in the period, with what DEA Form 41 asks for, and stock returned."""
    zone = period.clinic.zone

    def rows_of(kind: str) -> list[Row]:
        names = Names(period.clinic)
        lines = _disposal_lines(period, (kind,))
        names.disposals_of(line["disposal_id"] for line in lines)
        names.users_of(u for line in lines for u in (
            line["recorded_by_id"], names.disposals[line["disposal_id"]]["witness_id"],
            names.disposals[line["disposal_id"]]["second_witness_id"]))
        found = []
        for line in lines:
            disposal = names.disposals[line["disposal_id"]]
            lot = names.lots[line["lot_id"]]
            product = lot.product
            full, partial = _packages(product, line["amount_mg"])
            reversed_note = f"Reversed by line {line['reversed_by__id']}" if line["reversed_by__id"] else ""
            common = (_day(disposal["happened_at"], zone), product.ndc, lot.lot_number, product.name,
                      product.strength, product.get_form_display(), container_words(product), full,
                      partial, mg(abs(line["amount_mg"])), mg(abs(line["amount_ml"])))
            if kind == DisposalKind.DESTRUCTION:
                cells = (*common, one_line(disposal["method"]), one_line(disposal["place"]),
                         f"{names.user(disposal['witness_id'])} ({_when(disposal['witnessed_at'], zone)})"
                         if disposal["witness_id"] else "",
                         f"{names.user(disposal['second_witness_id'])} "
                         f"({_when(disposal['second_witnessed_at'], zone)})"
                         if disposal["second_witness_id"] else "",
                         names.user(line["recorded_by_id"]), str(line["id"]), reversed_note)
            else:
                cells = (*common, disposal["recipient_name"], one_line(disposal["recipient_address"]),
                         disposal["recipient_dea"], names.user(line["recorded_by_id"]), str(line["id"]),
                         reversed_note)
            found.append(Row(cells, css="is-reversed" if reversed_note else ""))
        return found

    form41 = ("Destroyed on", "NDC", "Lot (batch)", "Name", "Strength", "Form", "Package quantity",
              "Full packages", "Partial package (mL)", "Total destroyed (mg)", "Total destroyed (mL)",
              "Method of destruction", "Place", "First witness", "Second witness", "Recorded by", "Line",
              "Reversal")
    returned = ("Returned on", "NDC", "Lot (batch)", "Name", "Strength", "Form", "Package quantity",
                "Full packages", "Partial package (mL)", "Total returned (mg)", "Total returned (mL)",
                "Returned to", "Their address", "Their DEA number", "Recorded by", "Line", "Reversal")
    numbers = frozenset({"Full packages", "Partial package (mL)", "Total destroyed (mg)",
                         "Total destroyed (mL)", "Total returned (mg)", "Total returned (mL)", "Line"})
    facts = _registrant(period)
    tables = [
        Table("destroyed", "Destroyed (DEA Form 41)", form41,
              _listed(lambda: rows_of(DisposalKind.DESTRUCTION)),
              numeric=numbers, intro="Inventory destroyed, witnessed by two authorised employees. "
                                     "The rest of a dose wasted after it was given is not a "
                                     "destruction: it is in the dispensing record."),
        Table("returned", "Returned to a reverse distributor", returned,
              _listed(lambda: rows_of(DisposalKind.RETURN)), numeric=numbers),
    ]
    return Report("destruction", KINDS["destruction"], period, facts, tables, _registrant_note(facts))


# ---- thefts and losses (DEA Form 106 data) -------------------------------------------------

FORM_106_DAYS = 45  # sessions.md 4, tagged [secondary]: summaries of the 2023 rule


def notice_status(due: datetime, done: datetime | None, zone, now: datetime) -> str:
    """The written notice to the DEA, due at ``due`` (``disposals.notice_due``: the end of the
    business day after discovery), in words: sent (late?), not sent yet, or overdue."""
    due_words = f"due by the end of {_day(due, zone)}"
    if done is not None:
        late = " (late)" if done > due else ""
        return f"Sent {_when(done, zone)}{late}"
    if now >= due:
        return f"OVERDUE: was {due_words}"
    return f"Not sent yet: {due_words}"


def form_106_status(discovered: datetime, filed: datetime | None, reference: str, zone,
                    now: datetime) -> str:
    if filed is not None:
        return f"Filed {_day(filed, zone)}" + (f", number {reference}" if reference else "")
    by = discovered + timedelta(days=FORM_106_DAYS)
    return (f"Not filed: expected within {FORM_106_DAYS} days of discovery, by {_day(by, zone)}"
            + (" (past)" if now >= by else ""))


def losses(period: Period) -> Report:
    """Thefts and significant losses discovered in the period: the Form 106 details the ledger
    holds, and whether the written notice and Form 106 are done."""
    zone = period.clinic.zone

    def rows() -> list[Row]:
        names = Names(period.clinic)
        lines = _disposal_lines(period, (DisposalKind.THEFT, DisposalKind.LOSS))
        names.disposals_of(line["disposal_id"] for line in lines)
        names.users_of(line["recorded_by_id"] for line in lines)
        notices = {(n["disposal_id"], n["step"]): n for n in DeaNotice.objects.filter(
            disposal_id__in=names.disposals).values("disposal_id", "step", "done_at", "reference")}
        now = timezone.now()
        labels = dict(DisposalKind.choices)
        found = []
        for line in lines:
            disposal = names.disposals[line["disposal_id"]]
            lot = names.lots[line["lot_id"]]
            product = lot.product
            written = notices.get((disposal["pk"], NoticeStep.WRITTEN_NOTICE))
            form = notices.get((disposal["pk"], NoticeStep.FORM_106))
            due = disposals.notice_due(Disposal(clinic=period.clinic, happened_at=disposal["happened_at"]))
            status = notice_status(due, written and written["done_at"], zone, now)
            full, partial = _packages(product, line["amount_mg"])
            found.append(Row((
                _when(disposal["happened_at"], zone), labels.get(disposal["kind"], disposal["kind"]),
                one_line(disposal["description"]), product_words(product), product.strength, lot.lot_number,
                names.locations.get(line["location_id"], ""), mg(abs(line["amount_mg"])),
                mg(abs(line["amount_ml"])), full, partial, status,
                form_106_status(disposal["happened_at"], form and form["done_at"],
                                (form or {}).get("reference", ""), zone, now),
                names.user(line["recorded_by_id"]), str(line["id"]),
                f"Reversed by line {line['reversed_by__id']}" if line["reversed_by__id"] else ""),
                css="is-problem" if status.startswith("OVERDUE") else ""))
        return found

    facts = _registrant(period)
    table = Table("losses", "Thefts and significant losses (DEA Form 106)",
                  ("Discovered", "Theft or loss", "What happened", "Product", "Strength", "Lot",
                   "Location", "Lost (mg)", "Lost (mL)", "Full containers", "Partial container (mL)",
                   "Written notice to the DEA field division", "DEA Form 106", "Recorded by", "Line",
                   "Reversal"),
                  _listed(rows), numeric=frozenset({"Lost (mg)", "Lost (mL)", "Full containers",
                                                    "Partial container (mL)", "Line"}),
                  intro="Written notice to the DEA field division is due within one business day of "
                        "discovery (weekends skipped; public holidays are not known to kapclinic, so "
                        "a due date on a holiday is earlier than the rule's). DEA Form 106 is filed "
                        f"electronically, within {FORM_106_DAYS} days per summaries of the 2023 rule.",
                  empty="No theft or loss discovered in this period.")
    return Report("loss", KINDS["loss"], period, facts, [table], _registrant_note(facts))


# ---- doses and draws reconciled ------------------------------------------------------------

@dataclass(frozen=True)
class Mismatch:
    at: datetime
    patient_id: int | None
    session_id: int | None
    dose_mg: Decimal | None
    drawn_mg: Decimal | None
    lot: str
    line_id: int | None
    problem: str
    fix: str


def _doses_in(period: Period) -> tuple[list[ext.Dose], set[int]]:
    """The period's doses (entered in error left out by whoever records them) and the
    administration ids of every dose the clinic's patients still have on record."""
    ids = list(for_clinic(Patient, period.clinic.pk).order_by("pk").values_list("pk", flat=True))
    in_period, recorded = [], set()
    for start in range(0, len(ids), PATIENT_BATCH):
        for doses in ext.doses_of(ids[start:start + PATIENT_BATCH]).values():
            for dose in doses:
                if dose.administration_id is None:
                    continue
                recorded.add(dose.administration_id)
                if period.first <= dose.given_at < period.after:
                    in_period.append(dose)
    in_period.sort(key=lambda d: (d.given_at, d.administration_id))
    return in_period, recorded


def mismatches(period: Period) -> list[Mismatch]:
    """Every dose of the period without a standing draw, every standing draw of the period
    whose dose is no longer recorded, and every draw that differs from its dose."""
    clinic_id = period.clinic.pk
    doses, recorded = _doses_in(period)
    draws = LedgerLine.objects.filter(clinic_id=clinic_id, kind=Kind.ADMINISTRATION)
    fields = ("id", "at", "administration_id", "session_id", "patient_id", "amount_mg", "lot__lot_number")
    standing: dict[int, dict] = {}
    wanted = [d.administration_id for d in doses]
    for start in range(0, len(wanted), BATCH):
        for row in draws.filter(administration_id__in=wanted[start:start + BATCH],
                                reversed_by__isnull=True).values(*fields):
            standing[row["administration_id"]] = row
    in_period = list(draws.filter(at__gte=period.first, at__lt=period.after,
                                  reversed_by__isnull=True).order_by("at", "id").values(*fields))
    reversed_ids = set()
    for start in range(0, len(wanted), BATCH):
        reversed_ids |= set(draws.filter(administration_id__in=wanted[start:start + BATCH],
                                         reversed_by__isnull=False)
                            .values_list("administration_id", flat=True))
    found = []
    for dose in doses:
        given = Decimal(str(dose.dose_mg)).quantize(Decimal("0.001"))
        draw = standing.get(dose.administration_id)  # type: ignore[arg-type]
        if draw is None:
            again = " (its draw was reversed and it was not drawn again)" \
                if dose.administration_id in reversed_ids else ""
            found.append(Mismatch(dose.given_at, dose.patient_id, dose.session_id, given, None, "", None,
                                  f"Dose given but not drawn from stock{again}.",
                                  "Say which lot it came from on the stock page's Doses to draw "
                                  "list; past the late-entry days, count the lot and the clinic "
                                  "admin resolves the difference."))
            continue
        drawn = -draw["amount_mg"]
        if draw["patient_id"] != dose.patient_id:
            found.append(Mismatch(dose.given_at, dose.patient_id, dose.session_id, given, drawn,
                                  draw["lot__lot_number"], draw["id"],
                                  "Drawn from stock for another patient than the one the dose "
                                  "was given to.",
                                  "Reverse the draw, then draw the dose for the right patient."))
        elif drawn != given:
            found.append(Mismatch(dose.given_at, dose.patient_id, dose.session_id, given, drawn,
                                  draw["lot__lot_number"], draw["id"],
                                  f"Drawn amount ({mg(drawn)} mg) differs from the dose recorded "
                                  f"({mg(given)} mg).",
                                  "Reverse the draw and draw the dose recorded, or correct the "
                                  "dose in the session if the draw is right."))
    for draw in in_period:
        if draw["administration_id"] not in recorded:
            found.append(Mismatch(draw["at"], draw["patient_id"], draw["session_id"], None,
                                  -draw["amount_mg"], draw["lot__lot_number"], draw["id"],
                                  "Drawn from stock for a dose that is no longer recorded (marked "
                                  "entered in error, or never recorded in the session).",
                                  "Reverse the draw if the dose was not given; if it was, record "
                                  "the dose again in the session and draw it."))
    found.sort(key=lambda m: (m.at, m.line_id or 0))
    return found


def reconciliation(period: Period) -> Report:
    zone = period.clinic.zone

    def rows() -> list[Row]:
        names = Names(period.clinic)
        found = mismatches(period)
        names.patients_of(m.patient_id for m in found)
        return [Row((_when(m.at, zone), names.patient(m.patient_id)[0], names.patient(m.patient_id)[2],
                     str(m.session_id or ""), mg(m.dose_mg), mg(m.drawn_mg), m.lot,
                     str(m.line_id or ""), m.problem, m.fix),
                    patient_ids=(m.patient_id,) if m.patient_id else (), css="is-problem")
                for m in found]

    facts = _registrant(period)
    table = Table("mismatches", "Differences between the sessions' doses and the stock drawn",
                  ("Given or drawn", "Patient", "MRN", "Session", "Dose recorded (mg)",
                   "Drawn from stock (mg)", "Lot", "Line", "What is wrong", "What to do"),
                  _listed(rows), numeric=frozenset({"Dose recorded (mg)", "Drawn from stock (mg)", "Line"}),
                  intro="Each dose given in the period must have one draw from stock that stands "
                        "(not reversed), of the same amount, for the same patient; each draw of the "
                        "period must have its dose still on record.",
                  empty="Every dose of the period has its draw, and every draw its dose.")
    return Report("reconciliation", KINDS["reconciliation"], period, facts, [table],
                  _registrant_note(facts))


def build(kind: str, period: Period, **options: Any) -> Report:
    makers: dict[str, Callable[..., Report]] = {
        "dispensing": dispensing, "inventory": inventory, "destruction": destruction,
        "loss": losses, "reconciliation": reconciliation}
    if kind not in makers:
        raise PeriodError("kind", f"must be one of: {', '.join(makers)}")
    return makers[kind](period, **options) if kind == "dispensing" else makers[kind](period)


# ---- the audit of what a report shows ------------------------------------------------------

class Reads:
    """A report's audit entries: the report once (``start``), then, batch by batch before the
    rows leave, a read of each patient the rows name, once per report."""

    def __init__(self, report: Report, shown_as: str) -> None:
        self.report, self.shown_as = report, shown_as
        self.seen: set[int] = set()

    @property
    def _detail(self) -> dict:
        period = self.report.period
        return {"report": self.report.kind, "from": period.start.isoformat(),
                "to": period.end.isoformat(), "as": self.shown_as}

    def start(self, **detail: Any) -> None:
        # a CSV or the command line takes the record away: an export; a page only shows it
        trail.record("list" if self.shown_as == "page" else "export", object_type="stock",
                     object_id=self.report.kind,
                     clinic_id=self.report.period.clinic.pk, detail={**self._detail, **detail})

    def rows(self, rows: Iterable[Row]) -> None:
        new = [pid for row in rows for pid in row.patient_ids if pid not in self.seen]
        new = list(dict.fromkeys(new))
        if new:
            self.seen.update(new)
            trail.record_many([trail.Event("read", "patient", pid, patient_id=pid,
                                           detail=self._detail, clinic_id=self.report.period.clinic.pk)
                               for pid in new])


# ---- CSV and text --------------------------------------------------------------------------

def csv_lines(report: Report, reads: Reads | None = None) -> Iterator[str]:
    """The report as CSV, a batch at a time: its title and facts, then each table (its title,
    its header, its rows), a blank line between."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush(rows: Iterable[Iterable[object]]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(safe_row(row) for row in rows)
        return buffer.getvalue()

    yield flush([[report.title], *([label, value] for label, value in report.facts),
                 *([note] for note in report.notes)])
    for table in report.tables:
        yield flush([[], [table.title], table.columns])
        empty = True
        for batch in table.batches(0, None):
            if reads is not None:
                reads.rows(batch)
            empty = empty and not batch
            yield flush(row.cells for row in batch)
        if empty:
            yield flush([[table.empty]])


def text_lines(report: Report, reads: Reads | None = None) -> Iterator[str]:
    """The report as text for a terminal: each row on one line, "Column: value" for the cells
    that have one."""
    yield f"{report.title}\n"
    for label, value in report.facts:
        yield f"{label}: {value}\n"
    for note in report.notes:
        yield f"Note: {note}\n"
    for table in report.tables:
        yield f"\n{table.title}\n{'-' * len(table.title)}\n"
        empty = True
        for batch in table.batches(0, None):
            if reads is not None:
                reads.rows(batch)
            empty = empty and not batch
            yield "".join("; ".join(f"{name}: {cell}" for name, cell in zip(table.columns, row.cells,
                                                                             strict=True) if cell)
                          + "\n" for row in batch)
        if empty:
            yield f"{table.empty}\n"
