"""The controlled-substance ledger at 1,000,000 lines (issue 14).

Builds one clinic's ledger over several years: four products (ketamine 10, 50 and 100 mg/mL
vials, esketamine nasal devices), a few hundred lots received in shipments into the safe,
moved ten containers at a time to three room carts, a dose drawn for each session and the
rest of its vial wasted with a witness, now and then a draw reversed and drawn again, and the
last of a used-up lot destroyed (DEA Form 41, two witnesses). Lines are bulk-inserted in
batches with their balances (``balance_after_mg``, and each lot's Balance row at the end)
computed as the app computes them; ``stock.mismatches`` then checks every balance against
the replay of its lines. Then it times:

- a lot's balance read (its Balance rows, as the stock and lot pages read them), p95 over
  random lots (target < 10 ms), and the replay of one lot at one location (SUM of its lines);
- a year's dispensing record (``reports.dispensing`` of the last 365 days, written out as CSV
  with each patient's audited read, as the download and ``kapclinic ledger report`` do), and
  its first page on screen (target < 2 s);
- ``kapclinic ledger verify`` (every balance against its lines).

Usage: python bench/bench_ledger.py [--database sqlite|postgres] [--postgres URL]
       [--lines 1000000] [--years 10] [--data-dir DIR]
--database postgres uses postgresql://postgres@127.0.0.1:5432/kapclinic_bench_ledger (made if
missing) unless --postgres names another scratch database. With --data-dir (SQLite) or a
PostgreSQL database that already holds the bench clinic, the ledger is timed again without
building it. Share the machine? The load average is printed with the figures.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

parser = argparse.ArgumentParser()
parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
parser.add_argument("--postgres", help="a PostgreSQL URL for a scratch database (implies --database "
                                       "postgres)")
parser.add_argument("--lines", type=int, default=1_000_000)
parser.add_argument("--years", type=int, default=10, help="the ledger's lines spread over this many years")
parser.add_argument("--patients", type=int, default=2_000)
parser.add_argument("--data-dir", help="keep the SQLite data here, and reuse it when it holds the bench")
args = parser.parse_args()
if args.postgres:
    args.database = "postgres"
PG_URL = args.postgres or "postgresql://postgres@127.0.0.1:5432/kapclinic_bench_ledger"

import benchdb  # noqa: E402  (bench/, on the path when run as a script)

benchdb.use(args.database, postgres_url=PG_URL, prefix="ledger", data_dir=args.data_dir)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.management.color import no_style  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.utils import timezone  # noqa: E402

from kapclinic.accounts import staff  # noqa: E402
from kapclinic.accounts.models import Clinic  # noqa: E402
from kapclinic.accounts.roles import Role  # noqa: E402
from kapclinic.audit import context, trail  # noqa: E402
from kapclinic.audit.actions import action  # noqa: E402
from kapclinic.inventory import reports, stock  # noqa: E402
from kapclinic.inventory.models import (  # noqa: E402
    Balance,
    Disposal,
    DisposalKind,
    Kind,
    LedgerLine,
    Location,
    Lot,
    Product,
)
from kapclinic.patients import actions as patients  # noqa: E402
from kapclinic.patients.models import Patient  # noqa: E402

SLUG = "bench-ledger"
BATCH = 20_000
Q = Decimal("0.001")
rng = random.Random(14)

# name, NDC, drug, form, mg/mL, mL per container, share of sessions, doses (mg), containers a shipment
PRODUCTS = (
    ("Ketalar 10 mg/mL", "42023-113", "ketamine", "vial", "10", "20", 0.50, (35, 50, 70, 100), 50),
    ("Ketamine HCl 50 mg/mL", "42023-114", "ketamine", "vial", "50", "10", 0.15, (50, 100, 150), 25),
    ("Ketamine HCl 100 mg/mL", "0409-2051", "ketamine", "vial", "100", "5", 0.10, (100, 200), 25),
    ("Spravato 28 mg", "50458-028", "esketamine", "nasal_device", "140", "0.2", 0.25, (56, 84), 100),
)
LOCATIONS = ("Locked safe", "Cart, room 1", "Cart, room 2", "Cart, room 3")
LOTS_PER_PRODUCT = 90     # a few hundred lots in all
MOVE_CONTAINERS = 10      # containers moved from the safe to a cart at a time
REVERSE_EVERY = 400       # about one draw in 400 reversed (the wrong lot) and drawn again


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] * 1000


class Ledger:
    """Lines as the app writes them, with each lot and location's running balance."""

    def __init__(self, clinic: Clinic, people: dict[str, list]) -> None:
        self.clinic, self.people = clinic, people
        self.balance: dict[tuple[int, int], Decimal] = {}
        self.count: dict[tuple[int, int], int] = {}
        self.pending: list[LedgerLine] = []
        self.disposals: list[Disposal] = []
        self.next_id = (LedgerLine.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        self.next_disposal = (Disposal.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        self.written = 0

    def line(self, lot: Lot, location_id: int, kind: str, mg: Decimal, at, by, **fields) -> int:
        key = (lot.pk, location_id)
        after = (self.balance.get(key, Decimal(0)) + mg).quantize(Q)
        assert after >= 0, (lot.lot_number, location_id, kind, mg)
        self.balance[key] = after
        self.count[key] = self.count.get(key, 0) + 1
        ml = (abs(mg) / lot.product.concentration_mg_per_ml).quantize(Q) * (1 if mg > 0 else -1)
        pk = self.next_id
        self.next_id += 1
        self.pending.append(LedgerLine(
            id=pk, clinic_id=self.clinic.pk, lot_id=lot.pk, location_id=location_id, kind=kind,
            amount_mg=mg, amount_ml=ml, balance_after_mg=after, at=at, recorded_at=at, recorded_by=by,
            **fields))
        if len(self.pending) >= BATCH:
            self.flush()
        return pk

    def disposal(self, **fields) -> int:
        pk = self.next_disposal
        self.next_disposal += 1
        self.disposals.append(Disposal(id=pk, clinic_id=self.clinic.pk, **fields))
        return pk

    def flush(self) -> None:
        if self.pending:
            write_lines(lines=self.pending, disposals=self.disposals, by=None)
            self.written += len(self.pending)
            self.pending, self.disposals = [], []
            print(f"  {self.written:,} lines written", end="\r", flush=True)


@action
def write_lines(*, lines: list[LedgerLine], disposals: list[Disposal], by) -> None:
    """One batch of lines (and the disposal records they name), one audit entry for it."""
    Disposal.objects.bulk_create(disposals)
    LedgerLine.objects.bulk_create(lines, batch_size=2_000)
    trail.record("create", object_type="ledger_line", detail={"bench_lines": len(lines)})


@action
def write_balances(*, ledger: Ledger, by) -> None:
    Balance.objects.bulk_create([Balance(clinic_id=ledger.clinic.pk, lot_id=lot_id, location_id=location_id,
                                         quantity_mg=quantity, lines=ledger.count[(lot_id, location_id)])
                                 for (lot_id, location_id), quantity in ledger.balance.items()])
    trail.record("create", object_type="balance", detail={"bench_balances": len(ledger.balance)})
    # the ids were given here: the sequences continue after them
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [LedgerLine, Disposal, Balance]):
            cursor.execute(sql)


@action
def setup_stock(*, clinic: Clinic, by) -> tuple[list[Product], list[Location]]:
    products = [Product.objects.create(clinic=clinic, ndc=ndc, name=name, drug=drug, form=form,
                                       concentration_mg_per_ml=Decimal(conc), container_ml=Decimal(ml),
                                       created_by=by)
                for name, ndc, drug, form, conc, ml, *_ in PRODUCTS]
    locations = [Location.objects.create(clinic=clinic, name=name, created_by=by) for name in LOCATIONS]
    trail.record("create", object_type="product", detail={"bench": True})
    return products, locations


@action
def new_lot(*, product: Product, number: int, received_on: date, by) -> Lot:
    lot = Lot.objects.create(clinic_id=product.clinic_id, product=product,
                             lot_number=f"{product.ndc[:5]}-L{number:04d}",
                             expires_on=received_on + timedelta(days=730), supplier_name="Example Supply",
                             supplier_address="1 Example Way, Columbus, OH 43004", supplier_dea="RE0000001",
                             invoice=f"INV-{product.pk}-{number}", created_by=by)
    trail.record("create", object_type="lot", object_id=lot.pk)
    return lot


def build(clinic: Clinic) -> None:
    nurses = [staff.grant_role(clinic=clinic, username=f"ledger-nurse{n}", role=Role.NURSE, by=None,
                               first_name="Nurse", last_name=f"Number {n}").user for n in range(6)]
    prescribers = [staff.grant_role(clinic=clinic, username=f"ledger-prescriber{n}", role=Role.PRESCRIBER,
                                    by=None, first_name="Prescriber", last_name=f"Number {n}").user
                   for n in range(2)]
    admin = staff.grant_role(clinic=clinic, username="ledger-admin", role=Role.ADMIN, by=None).user
    records = [patients.NewPatient(data={
        "mrn": f"L-{n:06d}", "given_name": f"Given{n}", "family_name": f"Family{n}",
        "date_of_birth": date(1960, 1, 1) + timedelta(days=n % 15_000), "sex_at_birth": "female",
        "status": "in_treatment", "address": f"{n} Harbour Road\nSpringfield, MA 01101"})
        for n in range(args.patients)]
    patients.bulk_create_patients(clinic=clinic, records=records, by=None, batch_size=1_000)
    patient_ids = list(Patient.objects.filter(clinic=clinic).values_list("pk", flat=True))
    products, locations = setup_stock(clinic=clinic, by=admin)
    safe, carts = locations[0].pk, [loc.pk for loc in locations[1:]]
    ledger = Ledger(clinic, {"nurses": nurses})

    # each product: its current lot, how many containers of it are still to come, what is in the safe
    shares = [spec[6] for spec in PRODUCTS]
    # lines per session: a vial dose and its wastage, or one device dose; plus moves and receipts
    per_session = sum(share * (2 if spec[3] == "vial" else 1)
                      for share, spec in zip(shares, PRODUCTS, strict=True))
    sessions = int(args.lines / (per_session * 1.18))  # moves, receipts and the rest: about 18% more
    start = timezone.now() - timedelta(days=365 * args.years)
    step = (timezone.now() - timedelta(hours=2) - start) / sessions
    per_lot = {p.pk: 0 for p in products}
    current: dict[int, Lot] = {}
    lot_numbers = {p.pk: 0 for p in products}
    # containers of the product each lot holds in all (a lot arrives over several shipments)
    lot_size = {p.pk: max(200, int(sessions * share * (3 if spec[3] == "nasal_device" else 1)
                                   / LOTS_PER_PRODUCT))
                for p, share, spec in zip(products, shares, PRODUCTS, strict=True)}
    for n in range(sessions):
        at = start + step * n
        spec_index = rng.choices(range(len(products)), weights=shares)[0]
        product, spec = products[spec_index], PRODUCTS[spec_index]
        dose = Decimal(rng.choice(spec[7]))
        cart = carts[n % len(carts)]
        nurse, witness = rng.sample(nurses, 2)
        opened = (dose / product.mg_per_container).to_integral_value(rounding=ROUND_CEILING)
        needed = opened * product.mg_per_container
        lot = current.get(product.pk)
        if lot is None or ledger.balance.get((lot.pk, cart), Decimal(0)) < needed:
            lot = restock(ledger, product, lot, cart, safe, at - timedelta(seconds=2), nurse, admin,
                          prescribers, current, per_lot, lot_numbers, lot_size, needed, spec[8])
        administration = n + 1
        patient_id = patient_ids[n % len(patient_ids)]
        draw = ledger.line(lot, cart, Kind.ADMINISTRATION, -dose, at, nurse, patient_id=patient_id,
                           session_id=administration, administration_id=administration, draw_number=1)
        if administration % REVERSE_EVERY == 0:  # drawn from the wrong cart: reversed, drawn again
            ledger.line(lot, cart, Kind.REVERSAL, dose, at + timedelta(minutes=5), nurse, reverses_id=draw,
                        reason="Drawn from the wrong lot", patient_id=patient_id, session_id=administration)
            draw = ledger.line(lot, cart, Kind.ADMINISTRATION, -dose, at + timedelta(minutes=6), nurse,
                               patient_id=patient_id, session_id=administration,
                               administration_id=administration, draw_number=2)
        rest = needed - dose
        if rest > 0:
            ledger.line(lot, cart, Kind.WASTE, -rest, at + timedelta(minutes=50), nurse,
                        method="Emptied into the drug waste container", witness=witness,
                        witnessed_at=at + timedelta(minutes=50), related_id=draw, patient_id=patient_id,
                        session_id=administration)
    ledger.flush()
    print()
    write_balances(ledger=ledger, by=None)


def restock(ledger: Ledger, product: Product, lot: Lot | None, cart: int, safe: int, at, nurse, admin,
            prescribers, current, per_lot, lot_numbers, lot_size, needed: Decimal, shipment: int) -> Lot:
    """Enough of the product on the cart for a dose: containers moved from the safe (ten at a
    time), a shipment of the lot received when the safe has none left, and once the lot is
    used up its last opened containers destroyed (two witnesses) and a new lot started."""
    container = product.mg_per_container
    while lot is None or ledger.balance.get((lot.pk, cart), Decimal(0)) < needed:
        in_safe = Decimal(0) if lot is None else ledger.balance.get((lot.pk, safe), Decimal(0))
        if lot is not None and in_safe >= container:
            moved = min(container * MOVE_CONTAINERS, in_safe)
            out = ledger.line(lot, safe, Kind.TRANSFER_OUT, -moved, at, nurse, reason="Restocking the cart")
            ledger.line(lot, cart, Kind.TRANSFER_IN, moved, at, nurse, reason="Restocking the cart",
                        related_id=out)
            continue
        if lot is None or per_lot[product.pk] >= lot_size[product.pk]:
            if lot is not None:  # used up: what is left of it anywhere is destroyed
                for location in sorted({loc for lot_id, loc in ledger.balance if lot_id == lot.pk}):
                    left = ledger.balance[(lot.pk, location)]
                    if left > 0:
                        disposal = ledger.disposal(
                            kind=DisposalKind.DESTRUCTION, happened_at=at,
                            method="Rendered non-retrievable in a denaturing kit", place="Clinic back office",
                            witness=prescribers[0], witnessed_at=at, second_witness=prescribers[1],
                            second_witnessed_at=at, recorded_at=at, recorded_by=admin)
                        ledger.line(lot, location, Kind.DESTRUCTION, -left, at, admin, disposal_id=disposal)
            lot_numbers[product.pk] += 1
            lot = new_lot(product=product, number=lot_numbers[product.pk], received_on=at.date(), by=admin)
            current[product.pk] = lot
            per_lot[product.pk] = 0
        per_lot[product.pk] += shipment
        ledger.line(lot, safe, Kind.RECEIPT, container * shipment, at, admin, containers=shipment)
    return lot


def timed(function, repeats: int) -> list[float]:
    samples = []
    for n in range(repeats):
        started = time.perf_counter()
        function(n)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    call_command("migrate", verbosity=0)
    context.set_system_actor("bench")
    clinic = Clinic.objects.filter(slug=SLUG).first()
    started = time.perf_counter()
    built = False
    if clinic is None:
        clinic = staff.create_clinic(slug=SLUG, name="Bench Ledger Clinic", time_zone="America/New_York",
                                     by=None)
        build(clinic)
        built = True
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # what autovacuum does soon after a bulk import
            cursor.execute("ANALYZE")
    elif built:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.execute("ANALYZE")
    took = time.perf_counter() - started
    lines = LedgerLine.objects.filter(clinic=clinic).count()
    lots = list(Lot.objects.filter(clinic=clinic).values_list("pk", flat=True))
    print(f"database {connection.vendor}; {lines:,} ledger lines, {len(lots)} lots, "
          f"{Balance.objects.filter(clinic=clinic).count()} balances, "
          f"{Patient.objects.filter(clinic=clinic).count():,} patients "
          f"({'built' if built else 'reused'} in {took:.0f} s); {os.cpu_count()} cores, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    started = time.perf_counter()
    problems = stock.mismatches(clinic.pk)
    verify_clinic = time.perf_counter() - started
    assert not problems, problems[:3]
    started = time.perf_counter()
    assert not stock.mismatches()
    verify_all = time.perf_counter() - started

    picks = [rng.choice(lots) for _ in range(300)]

    def read_balance(n: int) -> None:
        rows = list(Balance.objects.filter(lot_id=picks[n]).select_related("location"))
        assert rows

    balances = list(Balance.objects.filter(clinic=clinic).order_by("?")[:300])

    def replay(n: int) -> None:
        stock.replay(balances[n % len(balances)])

    read_balance(0)
    balance_ms = p95(timed(read_balance, 300))
    replay_ms = p95(timed(replay, 100))

    today = timezone.localdate(timezone.now(), clinic.zone)
    last_year = reports.Period(clinic, today - timedelta(days=364), today)
    # the year halfway through the ledger: its opening balances add up the most lines
    middle = today - timedelta(days=365 * args.years // 2)
    mid_year = reports.Period(clinic, middle - timedelta(days=364), middle)
    figures = []
    for name, period in (("the last year", last_year), ("a year mid-ledger", mid_year)):
        year_lines = reports._moves(period, count=True)
        runs, written = [], 0
        for _ in range(3):
            started, cpu = time.perf_counter(), time.process_time()
            report = reports.dispensing(period)
            reads = reports.Reads(report, "csv")
            reads.start()
            written = sum(len(chunk) for chunk in reports.csv_lines(report, reads))
            runs.append((time.perf_counter() - started, time.process_time() - cpu))

        def first_page(_: int, period=period) -> None:
            report = reports.dispensing(period)
            for table in report.tables:
                if table.key == "lines":
                    table.count()
                    table.rows(0, reports.PAGE_ROWS)
                else:
                    table.rows(0, reports.LISTED_ROWS + 1)

        figures.append((name, year_lines, runs, written, p95(timed(first_page, 10))))

    print(f"a lot's balance read (its Balance rows)        p95 {balance_ms:7.2f} ms  (target < 10 ms, n=300)")
    print(f"a lot at a location replayed (SUM of lines)    p95 {replay_ms:7.2f} ms  (n=100)")
    for name, year_lines, runs, written, page_ms in figures:
        wall, cpu = min(runs)
        print(f"dispensing record of {name + ',':18s} CSV   best {wall:5.2f} s wall, {cpu:.2f} s CPU here "
              f"(target < 2 s; {year_lines:,} lines, {year_lines / wall:,.0f} lines/s, "
              f"{written / 1e6:.0f} MB, each patient's read audited)")
        print(f"dispensing record of {name + ',':18s} first page p95 {page_ms:5.0f} ms (n=10)")
    print(f"ledger verify, this clinic / every clinic          {verify_clinic:6.2f} s / {verify_all:.2f} s")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
