"""The de-identified research data set: Safe Harbor, the disclosure check, the dictionary, and
several clinics read as one data set."""

from __future__ import annotations

import csv
import json
from datetime import date

import duckdb
import pyarrow.parquet as pq
import pytest

from kapclinic import cli
from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from kapclinic.audit.models import AuditEntry
from kapclinic.interop import research
from kapclinic.interop.models import InteropSettings
from kapclinic.measures.models import Response
from kapclinic.patients.models import Patient
from tests.conftest import login
from tests.interop.conftest import member

NAMES = [name for name, *_ in research.COLUMNS]


def exported(clinic, path) -> list[dict]:
    research.export(clinic, path)
    return pq.read_table(path).to_pylist()


def test_the_data_set_holds_no_identifier_and_no_free_text(demo_patients, tmp_path):
    harbor = Clinic.objects.get(slug="harbor")
    InteropSettings.objects.create(clinic=harbor, k_anonymity=2)
    rows = exported(harbor, tmp_path / "harbor.parquet")
    assert rows and list(rows[0]) == NAMES
    patients = Patient.objects.filter(clinic=harbor)
    identifying = {v for p in patients for v in (p.mrn, p.given_name, p.family_name, p.email, p.phone,
                                                  p.address, str(p.pk), p.date_of_birth.isoformat()) if v}
    text = json.dumps(rows, default=str)
    assert not [v for v in identifying if f'"{v}"' in text]
    alias = research.pseudonym(research.research_key(), "clinic", harbor.pk)
    assert {row["clinic"] for row in rows} == {alias}
    assert all(row["patient"].startswith("P-") for row in rows)


def test_each_patients_dates_are_shifted_by_one_secret_offset_so_intervals_stay_true(demo_patients, tmp_path):
    harbor = Clinic.objects.get(slug="harbor")
    InteropSettings.objects.create(clinic=harbor, k_anonymity=1, research_dates="shifted")  # days kept
    rows = exported(harbor, tmp_path / "h.parquet")
    key = research.research_key()
    for patient in Patient.objects.filter(clinic=harbor):
        taken = sorted(r.taken_at.date() for r in Response.objects.filter(
            patient=patient, total__isnull=False, entered_in_error_at__isnull=True))
        mine = sorted(date.fromisoformat(r["measured_on"]) for r in rows
                      if r["patient"] == research.pseudonym(key, "patient", patient.pk))
        assert len(mine) == len(taken)
        shifts = {(m - t).days for m, t in zip(mine, taken, strict=True)}
        assert len(shifts) <= 1 and 0 not in shifts


def test_ages_over_89_are_one_group():
    assert research.age_band(89, 5) == "85-89"
    assert research.age_band(90, 5) == research.age_band(104, 20) == "90+"
    assert research.age_band(37, 10) == "30-39"
    assert research.age_band(85, 20) == "80-89"  # a band never reaches past 89


def _row(patient: int, sex: str, age: int, day: date):
    return research._Row(patient, {"sex_at_birth": sex, "condition_group": "depression"}, age, day)


def test_a_few_patients_who_stand_out_are_left_out_rather_than_coarsening_everyone():
    crowd = [_row(n, "female", 40 + n % 3, date(2026, 3, 1 + n % 5)) for n in range(30)]
    stands_out = [_row(99, "intersex", 52, date(2026, 3, 2))]
    rows, report = research.deidentify(crowd + stands_out, k=5, dates="shifted")
    assert report.generalised == [] and report.dates_to == "day"  # 1 of 31 patients: within 5 %
    assert report.suppressed_rows == 1 and report.suppressed_patients == 1
    assert report.smallest_group == 6 and len(rows) == 30


def test_when_many_stand_out_ages_and_dates_are_generalised_step_by_step():
    # 20 patients, each first seen on a day of their own: no day or month holds 5 of them
    rows = [_row(n, "male", 30 + n % 4, date(2026, 1 + n % 12, 1 + n)) for n in range(20)]
    kept, report = research.deidentify(rows, k=5, dates="shifted")
    assert report.dates_to == "year" and report.age_band_years == 20
    assert report.generalised == ["age bands widened to 20 years", "dates kept to the year"]
    assert report.suppressed_rows == 0 and report.smallest_group == 20
    assert {r["age_band"] for r in kept} == {"20-39"} and {r["measured_on"] for r in kept} == {"2026"}


def test_the_export_is_never_refused_even_when_nothing_can_be_kept():
    kept, report = research.deidentify([_row(1, "intersex", 52, date(2026, 3, 2))], k=5)
    assert kept == [] and report.suppressed_rows == 1 and report.smallest_group == 0
    assert report.generalised == ["age bands widened to 20 years", "dates left out"]


def test_a_group_at_the_threshold_is_kept_as_it_is():
    rows, report = research.deidentify([_row(n, "male", 33, date(2026, 1, 5)) for n in range(5)], k=5)
    assert report.generalised == [] and report.suppressed_rows == 0 and report.smallest_group == 5
    assert rows[0]["age_band"] == "30-34" and rows[0]["measured_on"] == "2026"  # Safe Harbor: the year


def test_by_default_only_the_year_of_a_date_leaves_as_safe_harbor_allows(demo_patients, tmp_path):
    harbor = Clinic.objects.get(slug="harbor")
    InteropSettings.objects.create(clinic=harbor, k_anonymity=1)
    rows = exported(harbor, tmp_path / "h.parquet")
    assert rows and all(len(r["measured_on"]) == 4 for r in rows)


def test_a_damaged_research_key_stops_the_export_instead_of_weakening_the_pseudonyms(demo_patients, tmp_path):
    research.research_key()
    key_file = research.Path(research.settings.DATA_DIR) / "research.key"
    good = key_file.read_text()
    key_file.write_text("")
    try:
        with pytest.raises(research.ResearchKeyDamaged):
            research.export(Clinic.objects.get(slug="harbor"), tmp_path / "h.csv")
    finally:
        key_file.write_text(good)


def test_every_column_has_its_meaning_and_de_identification_in_the_dictionary(demo_patients, tmp_path):
    harbor = Clinic.objects.get(slug="harbor")
    # the demo's dozen patients differ too much for k = 5 (all would be left out): a smaller k
    InteropSettings.objects.create(clinic=harbor, k_anonymity=2)
    research.export(harbor, tmp_path / "h.csv")
    with open(tmp_path / "h.dictionary.csv", encoding="utf-8") as f:
        dictionary = list(csv.DictReader(f))
    assert [d["column"] for d in dictionary] == NAMES
    assert all(d["meaning"] and d["de-identification"] and d["type"] for d in dictionary)
    with open(tmp_path / "h.csv", encoding="utf-8") as f:
        assert next(csv.reader(f)) == NAMES
    report = json.loads((tmp_path / "h.report.json").read_text())
    assert report["k"] == 2 and report["rows"] > 0 and report["smallest_group"] >= 2


def test_several_clinics_exports_are_one_data_set_in_duckdb(demo_patients, tmp_path):
    for clinic in Clinic.objects.filter(slug__in=("harbor", "cedar")):
        InteropSettings.objects.create(clinic=clinic, k_anonymity=1)
        research.export(clinic, tmp_path / f"kapclinic-research-{clinic.slug}.parquet")
    pattern = str(tmp_path / "kapclinic-research-*.parquet")
    [(clinics, rows)] = duckdb.sql(f"SELECT count(DISTINCT clinic), count(*) FROM read_parquet('{pattern}')"
                                   ).fetchall()
    assert clinics == 2
    assert rows == Response.objects.filter(total__isnull=False, entered_in_error_at__isnull=True,
                                           patient__clinic__slug__in=("harbor", "cedar")).count()
    query = f"SELECT instrument, avg(total) FROM read_parquet('{pattern}') GROUP BY ALL"  # as the page shows
    by_instrument = duckdb.sql(query).fetchall()
    assert {name for name, _ in by_instrument} >= {"phq9"}


def test_the_researcher_makes_and_downloads_the_data_set_and_no_one_else_may(demo_patients):
    harbor = Clinic.objects.get(slug="harbor")
    InteropSettings.objects.create(clinic=harbor, k_anonymity=2)  # the demo is small: rows are kept
    researcher = login(member(harbor, Role.RESEARCHER))
    assert researcher.get("/research/").status_code == 200
    assert researcher.post("/research/make", {"format": "csv"}).status_code == 302
    page = researcher.get("/research/").content.decode()
    assert "Smallest group" in page and "Data dictionary" in page
    download = researcher.get("/research/files/data.csv")
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert lines[0].split(",") == NAMES and len(lines) > 1
    assert researcher.get("/research/files/..%2Fresearch.key").status_code == 404
    assert AuditEntry.objects.filter(action="export", object_type="research_export").exists()
    for role in (Role.PRESCRIBER, Role.ADMIN, Role.NURSE):
        assert login(member(harbor, role)).get("/research/").status_code == 403


@pytest.mark.parametrize(("out", "named"), [("data.xlsx", "--out"), ("nowhere/data.csv", "--out")])
def test_the_command_refuses_a_file_it_cannot_write(demo_patients, tmp_path, capsys, out, named):
    assert cli.main(["research", "export", "--clinic", "harbor", "--out", str(tmp_path / out)]) == 2
    assert capsys.readouterr().err.startswith(f"kapclinic: {named}")


def test_the_command_writes_the_data_set_and_says_what_it_did(demo_patients, tmp_path, capsys):
    assert cli.main(["research", "export", "--clinic", "harbor", "--out", str(tmp_path / "h.parquet")]) == 0
    said = capsys.readouterr().err
    assert "smallest group" in said and (tmp_path / "h.dictionary.csv").exists()
    assert AuditEntry.objects.filter(action="export", object_type="research_export",
                                     actor_username="kapclinic research export").exists()
