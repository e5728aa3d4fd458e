"""The DEA records of a period: the dispensing and administering record (21 CFR 1304.22(c)),
the inventory, destructions and returns, thefts and losses; on a page, as CSV and from the
command line."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from kapclinic import cli
from kapclinic.audit.models import AuditEntry
from kapclinic.inventory import actions, disposals, reports
from kapclinic.inventory.models import Disposal, NoticeStep
from tests.conftest import PASSWORD, login, new_patient
from tests.inventory.conftest import add_ketalar

pytestmark = pytest.mark.django_db

ADDRESS = "12 Harbour Road\nSpringfield, MA 01101"


def period_of(clinic, days_before: int = 1, days_after: int = 1) -> reports.Period:
    """A few days around today in the clinic's zone (so a line of an hour ago is in it)."""
    today = timezone.localdate(timezone.now(), clinic.zone)
    return reports.Period(clinic, today - timedelta(days=days_before), today + timedelta(days=days_after))


def table(report: reports.Report, key: str) -> list[dict[str, str]]:
    [found] = [t for t in report.tables if t.key == key]
    return [dict(zip(found.columns, row.cells, strict=True)) for row in found.rows()]


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def patient(clinic_a, prescriber):
    return new_patient(clinic_a, prescriber, prescriber=prescriber, address=ADDRESS)


@pytest.fixture
def wasted(drawn, nurse, prescriber):
    """The 35 mg dose's remainder (165 mg of the 200 mg vial) wasted, the prescriber witnessing."""
    return actions.waste(draw=drawn, amount_mg=165, method="Poured into the drug waste container",
                         by=nurse, witness=prescriber, witness_password=PASSWORD)


def test_the_record_names_the_registrant_or_says_it_is_not_set(clinic_a, stocked, clinic_admin):
    report = reports.dispensing(period_of(clinic_a))
    facts = dict(report.facts)
    assert facts["Registrant's DEA number"] == "not set"
    assert "Record settings" in report.notes[0]
    actions.save_settings(clinic=clinic_a, registrant_name="Harbor KAP Clinic",
                          registrant_address="1 Main St, Boston", registrant_dea="BH1234567",
                          by=clinic_admin)
    facts = dict(reports.dispensing(period_of(clinic_a)).facts)
    assert (facts["Registrant"], facts["Registrant's address"], facts["Registrant's DEA number"]) == (
        "Harbor KAP Clinic", "1 Main St, Boston", "BH1234567")


def test_a_periods_record_lists_the_containers_received_with_the_suppliers_name_address_and_dea_number(
        clinic_a, stocked, nurse):
    report = reports.dispensing(period_of(clinic_a))
    [product] = table(report, "products")
    assert (product["Substance"], product["Strength"], product["Units per container"]) == (
        "Ketamine hydrochloride", "10 mg/mL, 20 mL vial", "20 mL vial (200 mg)")
    [receipt] = table(report, "receipts")
    assert (receipt["Containers"], receipt["mg"], receipt["Supplier"], receipt["Supplier's address"],
            receipt["Supplier's DEA number"], receipt["Invoice"], receipt["Received by"]) == (
        "2", "400", "Example Supply", "1 Example Way", "RE0000001", "INV-1", "Nina Nurse")
    [line] = table(report, "lines")
    assert line["What happened"] == "Received 2 vials"
    assert line["Supplier or recipient"] == "Example Supply, 1 Example Way; DEA RE0000001"


def test_a_dose_is_listed_with_the_patients_name_and_address_the_amount_and_who_gave_it(
        clinic_a, drawn, patient):
    [_, dose] = table(reports.dispensing(period_of(clinic_a)), "lines")
    assert (dose["What happened"], dose["mg"], dose["mL"]) == ("Administered", "-35", "-3.5")
    assert (dose["Patient"], dose["Patient's address"]) == (
        "Ada Lovelace", "12 Harbour Road, Springfield, MA 01101")
    assert (dose["Given or recorded by"], dose["Session"], dose["Location"]) == (
        "Nina Nurse", "7", "Locked safe")


def test_a_wastage_is_listed_with_its_method_and_its_witness(clinic_a, wasted, prescriber):
    [_, _, waste] = table(reports.dispensing(period_of(clinic_a)), "lines")
    assert waste["What happened"].startswith("Wasted: the rest of the dose of line")
    assert (waste["mg"], waste["Manner, method or reason"]) == (
        "-165", "Poured into the drug waste container")
    assert waste["Witness"].startswith("Alice Prescott (")
    assert waste["Patient"] == "Ada Lovelace"


def test_a_reversed_dose_and_its_reversal_are_both_listed_and_marked(clinic_a, drawn, nurse):
    [reversal] = actions.reverse(line=drawn, reason="Drawn for the wrong session", by=nurse, role="nurse")
    report = reports.dispensing(period_of(clinic_a))
    lines = {row["Line"]: row for row in table(report, "lines")}
    assert lines[str(drawn.pk)]["Reversal"].startswith(f"Reversed by line {reversal.pk} on ")
    assert lines[str(reversal.pk)]["What happened"].startswith(f"Reversal of line {drawn.pk} (administered, ")
    assert lines[str(reversal.pk)]["Reversal"] == f"Reverses line {drawn.pk}"
    assert lines[str(reversal.pk)]["Manner, method or reason"] == "Drawn for the wrong session"
    [lines_table] = [t for t in report.tables if t.key == "lines"]
    assert [row.css for row in lines_table.rows()] == ["kind-receipt", "is-reversed", "kind-reversal"]


def test_each_lot_has_its_opening_and_closing_balance_for_the_period(clinic_a, lot, safe, patient, nurse):
    actions.receive(lot=lot, location=safe, containers=2, at=timezone.now() - timedelta(days=10), by=nurse)
    actions.draw_for_dose(lot=lot, location=safe, patient=patient, session_id=1, administration_id=11,
                          dose_mg=50, by=nurse, at=timezone.now() - timedelta(days=8))
    actions.draw_for_dose(lot=lot, location=safe, patient=patient, session_id=2, administration_id=12,
                          dose_mg=35, by=nurse)
    [now] = table(reports.dispensing(period_of(clinic_a)), "balances")
    assert (now["Opening (mg)"], now["Received (mg)"], now["Administered (mg)"], now["Closing (mg)"],
            now["Closing (mL)"], now["Closing (containers)"]) == ("350", "0", "-35", "315", "31.5", "1.58")
    today = timezone.localdate(timezone.now(), clinic_a.zone)
    [then] = table(reports.dispensing(reports.Period(clinic_a, today - timedelta(days=12),
                                                     today - timedelta(days=5))), "balances")
    assert (then["Opening (mg)"], then["Received (mg)"], then["Administered (mg)"], then["Closing (mg)"]) == (
        "0", "400", "-50", "350")


def test_the_csv_neutralises_cells_a_spreadsheet_would_run_as_formulas(
        clinic_a, product, safe, nurse, prescriber):
    lot = actions.add_lot(product=product, lot_number="=HYPERLINK(\"http://x\")",
                          expires_on=timezone.localdate() + timedelta(days=90),
                          supplier_name="@SUM(A1:A9)", supplier_address="+1 Evil Way",
                          supplier_dea="RE0000001", invoice="-2+3", by=prescriber)
    actions.receive(lot=lot, location=safe, containers=1, by=nurse)
    text = "".join(reports.csv_lines(reports.dispensing(period_of(clinic_a))))
    cells = [cell for row in csv_rows(text) for cell in row]
    assert "'=HYPERLINK(\"http://x\")" in cells and "'@SUM(A1:A9)" in cells and "'-2+3" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    assert not any(cell.startswith("-") and not reports.NUMBER.fullmatch(cell) for cell in cells)


def test_a_signed_amount_stays_a_number_in_the_csv(clinic_a, drawn):
    text = "".join(reports.csv_lines(reports.dispensing(period_of(clinic_a))))
    assert [row[6:8] for row in csv_rows(text) if "Administered" in row][0] == ["-35", "-3.5"]


def test_another_clinics_lots_never_appear_in_a_clinics_records(clinic_a, clinic_b, stocked, other_clinician):
    theirs = actions.add_lot(product=add_ketalar(clinic_b, other_clinician), lot_number="B-LOT-9",
                             expires_on=timezone.localdate() + timedelta(days=90),
                             supplier_name="Elsewhere Pharma", supplier_address="9 Far Road",
                             supplier_dea="RF0000009", invoice="B-INV", by=other_clinician)
    actions.receive(lot=theirs, location=actions.add_location(clinic=clinic_b, name="B safe",
                                                              by=other_clinician),
                    containers=3, by=other_clinician)
    for kind in reports.KINDS:
        text = "".join(reports.csv_lines(reports.build(kind, period_of(clinic_a))))
        assert "B-LOT-9" not in text and "Elsewhere" not in text and "B safe" not in text, kind
    theirs_text = "".join(reports.csv_lines(reports.dispensing(period_of(clinic_b))))
    assert "B-LOT-9" in theirs_text and "K123" not in theirs_text


def test_a_period_longer_than_two_years_or_backwards_is_refused_naming_the_field(clinic_a):
    today = timezone.localdate()
    with pytest.raises(reports.PeriodError) as refused:
        reports.Period(clinic_a, today - timedelta(days=800), today)
    assert refused.value.field == "to" and "at most 731 days" in refused.value.message
    with pytest.raises(reports.PeriodError) as refused:
        reports.Period(clinic_a, today, today - timedelta(days=1))
    assert refused.value.field == "to" and "before the first day" in refused.value.message


# ---- the inventory, destructions and losses -------------------------------------------------

def test_the_inventory_shows_each_lots_stock_with_its_last_count_and_whether_it_was_estimated(
        clinic_a, drawn, safe, nurse):
    actions.record_count(lot=drawn.lot, location=safe, kind="shift", counted_ml="36", estimated=True,
                         by=nurse)
    [row] = table(reports.inventory(period_of(clinic_a)), "inventory")
    assert (row["On hand (mg)"], row["On hand (mL)"], row["Full containers"],
            row["Opened container (mL left)"]) == ("365", "36.5", "1", "16.5")
    assert (row["Counted (mg)"], row["Exact or estimated"], row["Counted by"]) == (
        "360", "estimated", "Nina Nurse")
    assert row["Count against the ledger"] == "-5 mg against the ledger; not resolved"
    assert dict(reports.inventory(period_of(clinic_a)).facts)["Next inventory due"].startswith(
        "record the initial inventory")


def test_the_inventory_at_the_end_of_an_earlier_period_is_the_stock_then(clinic_a, lot, safe, nurse):
    actions.receive(lot=lot, location=safe, containers=1, at=timezone.now() - timedelta(days=3), by=nurse)
    actions.receive(lot=lot, location=safe, containers=2, by=nurse)
    today = timezone.localdate(timezone.now(), clinic_a.zone)
    [then] = table(reports.inventory(reports.Period(clinic_a, today - timedelta(days=5),
                                                    today - timedelta(days=2))), "inventory")
    assert then["On hand (mg)"] == "200"
    [now] = table(reports.inventory(period_of(clinic_a)), "inventory")
    assert now["On hand (mg)"] == "600"


def test_a_destruction_lists_the_form_41_details_and_its_two_witnesses(
        clinic_a, stocked, safe, nurse, prescriber, clinic_admin):
    disposals.dispose(lot=stocked, location=safe, kind="destruction", amount_mg=300, by=clinic_admin,
                      method="Incinerated by Safe Disposal Inc.", place="Clinic back office",
                      happened_at=timezone.now() - timedelta(minutes=5), witness=prescriber,
                      witness_password=PASSWORD, second_witness=nurse, second_witness_password=PASSWORD)
    report = reports.destruction(period_of(clinic_a))
    [row] = table(report, "destroyed")
    assert (row["NDC"], row["Lot (batch)"], row["Name"], row["Strength"], row["Form"],
            row["Package quantity"]) == ("42023-113", "K123", "Ketalar 10 mg/mL", "10 mg/mL, 20 mL vial",
                                         "Vial (injection)", "20 mL vial (200 mg)")
    assert (row["Full packages"], row["Partial package (mL)"], row["Total destroyed (mg)"],
            row["Total destroyed (mL)"]) == ("1", "10", "300", "30")
    assert (row["Method of destruction"], row["Place"]) == (
        "Incinerated by Safe Disposal Inc.", "Clinic back office")
    assert row["First witness"].startswith("Alice Prescott (")
    assert row["Second witness"].startswith("Nina Nurse (")
    assert table(report, "returned") == []


def test_a_loss_says_the_written_notice_is_overdue_until_it_is_sent_and_whether_form_106_is_filed(
        clinic_a, stocked, safe, clinic_admin):
    found = timezone.now() - timedelta(days=5)
    loss = disposals.dispose(lot=stocked, location=safe, kind="loss", amount_mg=200, by=clinic_admin,
                             happened_at=found,
                             description="A vial missing from the safe at the evening count")
    [row] = table(reports.losses(period_of(clinic_a, days_before=7)), "losses")
    assert row["Theft or loss"] == "Significant loss (DEA Form 106)"
    assert row["What happened"] == "A vial missing from the safe at the evening count"
    assert (row["Lost (mg)"], row["Full containers"]) == ("200", "1")
    assert row["Written notice to the DEA field division"].startswith("OVERDUE: was due by the end of ")
    assert row["DEA Form 106"].startswith("Not filed: expected within 45 days of discovery")
    disposals.record_notice(disposal=loss, step=NoticeStep.WRITTEN_NOTICE, done_at=found + timedelta(hours=2),
                            by=clinic_admin)
    disposals.record_notice(disposal=loss, step=NoticeStep.FORM_106, done_at=timezone.now(),
                            reference="F106-77", by=clinic_admin)
    [row] = table(reports.losses(period_of(clinic_a, days_before=7)), "losses")
    assert row["Written notice to the DEA field division"].startswith("Sent ")
    assert "late" not in row["Written notice to the DEA field division"]
    assert row["DEA Form 106"].endswith("number F106-77")


def test_a_written_notice_sent_after_the_next_business_day_is_marked_late(clinic_a):
    zone = clinic_a.zone
    friday = datetime(2026, 3, 6, 16, 0, tzinfo=zone)
    due = disposals.notice_due(Disposal(clinic=clinic_a, happened_at=friday))  # Monday, day's end
    assert reports.notice_status(due, datetime(2026, 3, 9, 17, 0, tzinfo=zone), zone, friday) == \
        "Sent 2026-03-09 17:00"
    assert reports.notice_status(due, datetime(2026, 3, 10, 9, 0, tzinfo=zone), zone, friday) == \
        "Sent 2026-03-10 09:00 (late)"
    assert reports.notice_status(due, None, zone, friday + timedelta(hours=1)) == \
        "Not sent yet: due by the end of 2026-03-09"
    assert reports.notice_status(due, None, zone, friday + timedelta(days=4)).startswith("OVERDUE")


# ---- the pages -------------------------------------------------------------------------------

RECORD = "/stock/reports/record/"
CSV = "/stock/reports/record.csv"


def query(clinic, kind: str = "dispensing") -> dict:
    period = period_of(clinic)
    return {"kind": kind, "start": period.start.isoformat(), "end": period.end.isoformat()}


def test_roles_without_the_records_permission_are_refused_every_records_page(
        clinic_a, nurse, therapist, coordinator):
    for refused in (nurse, therapist, coordinator):
        client = login(refused)
        for url in ("/stock/reports/", RECORD, CSV):
            assert client.get(url, query(clinic_a)).status_code == 403, (refused.username, url)


def test_the_admin_reads_the_record_on_a_page_and_each_patient_named_is_audited(
        clinic_a, wasted, patient, clinic_admin):
    page = login(clinic_admin).get(RECORD, query(clinic_a))
    assert page.status_code == 200
    text = page.content.decode()
    for seen in ("Dispensing and administering record", "Ada Lovelace", "12 Harbour Road, Springfield",
                 "Poured into the drug waste container", "Alice Prescott", "RE0000001", "data-print",
                 "Download the CSV"):
        assert seen in text, seen
    assert AuditEntry.objects.filter(action="read", object_type="patient", patient_id=patient.pk,
                                     actor_id=clinic_admin.pk).count() == 1
    assert AuditEntry.objects.filter(action="list", object_type="stock", object_id="dispensing").exists()


def test_the_prescriber_downloads_the_record_as_csv_streamed_and_audited(
        clinic_a, drawn, patient, prescriber):
    response = login(prescriber).get(CSV, query(clinic_a))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"].startswith('attachment; filename="dispensing-clinic-a-')
    rows = csv_rows(b"".join(response.streaming_content).decode())
    assert rows[0] == ["Dispensing and administering record"]
    assert any("Ada Lovelace" in row for row in rows)
    entry = AuditEntry.objects.get(action="read", object_type="patient", patient_id=patient.pk)
    assert entry.actor_id == prescriber.pk


def test_every_record_opens_on_a_page_and_as_csv(clinic_a, wasted, clinic_admin):
    client = login(clinic_admin)
    for kind, title in reports.KINDS.items():
        page = client.get(RECORD, query(clinic_a, kind))
        assert page.status_code == 200 and title in page.content.decode(), kind
        assert client.get(CSV, query(clinic_a, kind)).status_code == 200, kind


def test_a_bad_period_on_the_page_says_which_field_and_makes_nothing(clinic_a, clinic_admin):
    today = timezone.localdate()
    response = login(clinic_admin).get(CSV, {"kind": "dispensing", "end": today.isoformat(),
                                             "start": (today - timedelta(days=900)).isoformat()})
    assert response.status_code == 422
    assert "at most 731 days" in response.content.decode() and "No record made" in response.content.decode()


def test_the_stock_page_links_to_the_records_for_those_who_may_read_them(clinic_a, clinic_admin, nurse):
    assert "/stock/reports/" in login(clinic_admin).get("/stock/").content.decode()
    assert "/stock/reports/" not in login(nurse).get("/stock/").content.decode()


def test_the_record_pages_lines_a_page_at_a_time(clinic_a, lot, safe, nurse, clinic_admin, monkeypatch):
    monkeypatch.setattr(reports, "PAGE_ROWS", 2)
    for n in range(5):
        actions.receive(lot=lot, location=safe, containers=1, at=timezone.now() - timedelta(minutes=10 - n),
                        by=nurse)
    client = login(clinic_admin)
    first = client.get(RECORD, query(clinic_a)).content.decode()
    assert "Lines 1 to 2 of 5" in first and "Page 1 of 3" in first
    last = client.get(RECORD, {**query(clinic_a), "page": "3"}).content.decode()
    assert "Lines 5 to 5 of 5" in last


# ---- the command -----------------------------------------------------------------------------

def test_the_command_prints_the_record_and_refuses_bad_input_in_one_line_naming_the_option(
        clinic_a, clinic_b, wasted, capsys):
    period = period_of(clinic_a)
    days = ["--from", period.start.isoformat(), "--to", period.end.isoformat()]
    assert cli.main(["ledger", "report", "--clinic", "clinic-a", *days]) == 0
    out = capsys.readouterr().out
    assert "Dispensing and administering record" in out and "Patient: Ada Lovelace" in out
    assert cli.main(["ledger", "report", "--clinic", "clinic-a", *days, "--format", "csv",
                     "--kind", "inventory"]) == 0
    assert csv_rows(capsys.readouterr().out)[0] == ["Inventory"]
    entry = AuditEntry.objects.filter(action="read", object_type="patient").first()
    assert entry.actor_username == "kapclinic ledger report"
    assert cli.main(["ledger", "report", "--clinic", "clinic-b", *days]) == 0
    assert "K123" not in capsys.readouterr().out  # clinic B's record holds none of clinic A's lots
    assert cli.main(["ledger", "report", "--clinic", "nowhere", *days]) == 2
    assert capsys.readouterr().err.startswith("kapclinic: --clinic: no clinic 'nowhere'")
    assert cli.main(["ledger", "report", "--clinic", "clinic-a", "--from", "2026-02-30",
                     "--to", "2026-03-01"]) == 2
    assert capsys.readouterr().err.strip() == "kapclinic: --from: '2026-02-30' is not a date (YYYY-MM-DD)"
    assert cli.main(["ledger", "report", "--clinic", "clinic-a", "--from", "2020-01-01",
                     "--to", "2026-01-01"]) == 2
    assert capsys.readouterr().err.startswith("kapclinic: --to: the period is")
    with pytest.raises(SystemExit) as exited:
        cli.main(["ledger", "report", "--clinic", "clinic-a", *days, "--kind", "everything"])
    assert exited.value.code == 2 and "--kind" in capsys.readouterr().err


def test_the_commands_kinds_are_the_reports(clinic_a):
    parser = cli.build_parser()
    args = parser.parse_args(["ledger", "report", "--clinic", "x", "--from", "2026-01-01",
                              "--to", "2026-01-02"])
    assert (args.kind, args.format) == ("dispensing", "text")
    commands = parser._subparsers._group_actions[0].choices
    ledger = next(a for a in commands["ledger"]._subparsers._group_actions)
    kinds = next(a for a in ledger.choices["report"]._actions if a.dest == "kind").choices
    assert tuple(kinds) == tuple(reports.KINDS)


@given(st.lists(st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=12),
    st.sampled_from(["-35", "-3.5", "-", "-1e3", "-35 mg", "=1+2", "+1", "@A1", "\tx", "\rx", "-2+3",
                     "0.5"])),
    max_size=8))
def test_a_rows_quick_check_neutralises_exactly_what_each_cell_would(cells):
    assert list(reports.safe_row(cells)) == [reports.safe_cell(c) for c in cells]


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31)),
       st.sampled_from(["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu",
                        "Pacific/Chatham", "America/St_Johns", "UTC"]))
def test_the_records_clock_reads_every_moment_as_the_clinics_zone_does(naive_utc, name):
    from zoneinfo import ZoneInfo

    zone, at = ZoneInfo(name), naive_utc.replace(tzinfo=UTC)
    clock = reports.LocalTime(zone)
    for moment in (at, naive_utc.isoformat(" "), naive_utc, at.astimezone(zone)):
        assert clock(moment) == f"{at.astimezone(zone):%Y-%m-%d %H:%M}"


def test_the_records_clock_is_right_minute_by_minute_around_each_clock_change():
    from zoneinfo import ZoneInfo

    for name in ("America/New_York", "Australia/Lord_Howe", "Pacific/Chatham", "Europe/London"):
        zone, clock = ZoneInfo(name), None
        at, changes = datetime(2026, 1, 1, tzinfo=UTC), 0
        while at.year == 2026:
            after = at + timedelta(hours=1)
            if at.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
                changes += 1
                clock = reports.LocalTime(zone)  # offsets first looked up near the change
                for minute in range(-90, 91):
                    moment = at + timedelta(minutes=minute)
                    assert clock(moment) == f"{moment.astimezone(zone):%Y-%m-%d %H:%M}", (name, moment)
            at = after
        assert changes == 2, name


def test_a_long_record_streams_batch_after_batch_without_losing_or_repeating_a_line(
        clinic_a, lot, safe, nurse, monkeypatch):
    monkeypatch.setattr(reports, "BATCH", 2)
    same_moment = timezone.now() - timedelta(minutes=30)
    received = [actions.receive(lot=lot, location=safe, containers=1, at=same_moment, by=nurse).pk
                for _ in range(4)]
    received.append(actions.receive(lot=lot, location=safe, containers=1, by=nurse).pk)
    [lines] = [t for t in reports.dispensing(period_of(clinic_a)).tables if t.key == "lines"]
    assert [int(row.cells[-2]) for row in lines.rows()] == received
    assert [int(row.cells[-2]) for row in lines.rows(offset=3)] == received[3:]
