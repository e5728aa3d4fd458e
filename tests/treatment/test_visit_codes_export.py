"""The visit codes of a period, as a biller downloads them: G2082 up to 56 mg and G2083 above
for esketamine (the dose given, counted from the devices when they are recorded), no code and
a note for racemic ketamine and for a session stopped early, the period's days in the clinic's
zone and at most 366 of them, formula-looking cells defused, another clinic's sessions absent,
the download audited, and the same file from the command line."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from kapclinic import cli
from kapclinic.accounts.roles import Role
from kapclinic.audit.models import AuditEntry
from kapclinic.clinical.codes.visit_codes import (
    DATA_FILE,
    VisitCodeTableError,
    parse_visit_codes,
    visit_codes,
)
from kapclinic.treatment import actions
from kapclinic.treatment import visit_codes as export
from kapclinic.treatment.models import Administration
from tests.conftest import login, make_user, new_patient, set_directly
from tests.treatment.helpers import (
    CALM,
    ESKETAMINE,
    LATE,
    cleared,
    eligible_and_consented,
    minutes_ago,
    step,
)

URL = "/sessions/visit-codes/csv/"
ESKETAMINE_ROUTE = ("esketamine", "intranasal")


# ---- the codes, from the data (no database) ------------------------------------------------

def code(dose_mg, *, drug="esketamine", route="intranasal", ended_as="discharged", observed=130):
    return visit_codes().code_for(drug, route, dose_mg, ended_as=ended_as, observed_minutes=observed)


@pytest.mark.parametrize("dose_mg, expected", [(28, "G2082"), (56, "G2082"), (56.0, "G2082"),
                                               (56.5, "G2083"), (84, "G2083")])
def test_esketamine_up_to_56_mg_is_G2082_and_above_56_mg_is_G2083(dose_mg, expected):
    coded = code(dose_mg)
    assert coded.code == expected and coded.note == ""
    assert "2 hours of observation" in coded.description


def test_racemic_ketamine_has_no_verified_code_and_says_so_instead_of_inventing_one():
    infusion = code(35, drug="ketamine", route="iv-infusion")
    assert infusion.code == ""
    assert infusion.note.startswith("No verified code") and "J3490" in infusion.note
    lozenge = code(200, drug="ketamine", route="sublingual")
    assert lozenge.code == "" and lozenge.note.startswith("No verified code")
    assert "J3490" not in lozenge.note  # the payers' J3490 practice is for IV ketamine


def test_a_stopped_or_short_esketamine_visit_gets_no_code_and_a_note_to_review():
    stopped = code(56, ended_as="stopped", observed=20)
    assert stopped.code == "" and "Stopped early" in stopped.note and "review" in stopped.note
    short = code(84, observed=119)
    assert short.code == "" and "Observation 119 min" in short.note and "2 hours" in short.note
    assert code(84, observed=120).code == "G2083"  # exactly the 2 hours the code includes


@pytest.mark.parametrize("dose_mg", [0, -28, float("nan"), True])
def test_a_dose_that_is_not_a_positive_number_is_refused(dose_mg):
    with pytest.raises(ValueError, match="dose_mg"):
        code(dose_mg)


def _table_with(change):
    raw = json.loads(DATA_FILE.read_text())
    change(raw["visits"][0])
    return raw


@pytest.mark.parametrize("change, field", [
    (lambda v: v["codes"][1].update(dose_mg_above=60), "visits[0].codes[1].dose_mg_above"),
    (lambda v: v["codes"][0].update(code="G208"), "visits[0].codes[0].code"),
    (lambda v: v["codes"][1].update(dose_mg_at_most=112), "visits[0].codes[1].dose_mg_at_most"),
    (lambda v: v.update(no_code="none"), "visits[0]"),
    (lambda v: v["included_observation"].update(unit="h"), "visits[0].included_observation"),
])
def test_a_visit_codes_file_with_a_gap_or_a_bad_code_is_refused_naming_the_field(change, field):
    with pytest.raises(VisitCodeTableError) as caught:
        parse_visit_codes(_table_with(change))
    assert caught.value.field == field


def test_a_cell_a_spreadsheet_would_run_as_a_formula_starts_with_an_apostrophe():
    for cell in ("=1+1", "+1", "-1+1", "-cmd|' /C calc'!A0", "@SUM(A1)", "\tx", "\rx"):
        assert export.safe_cell(cell) == "'" + cell
    assert export.safe_cell("G2082") == "G2082" and export.safe_cell(56) == "56"
    assert export.safe_cell("-35") == "-35"  # a plain signed number stays a number


# ---- sessions, as the app records them -----------------------------------------------------

def esketamine(patient, prescriber, nurse, *, dose_mg=56, devices=None, stop=False):
    """Dosed 160 min ago; ``devices`` recorded 6 min apart (by default every device of the
    dose, which observation waits for; none when stopped); stopped 150 min ago, or discharged
    30 min ago (130 min of observation)."""
    if devices is None:
        devices = 0 if stop else int(dose_mg // 28)
    eligible_and_consented(patient, prescriber, drug="esketamine", route="intranasal")
    s = cleared(patient, prescriber, nurse, ESKETAMINE)
    dose = {"dose_mg": dose_mg, "lot": "SPR-1"}
    if dose_mg > 56:  # above the label's first dose: a reason and a second clinician
        dose.update(override_reason="MDD with acute suicidal ideation: 84 mg from the start",
                    second_clinician=prescriber, second_password="correct horse battery staple")
    s = step(s, "dosing", minutes_ago(160), nurse, late_reason=LATE, administration=dose)
    for n in range(devices):
        actions.record_administration_event(s, kind="device", at=minutes_ago(160 - 6 * n), by=nurse,
                                            late_reason=LATE)
    if stop:
        return step(s, "stopped", minutes_ago(150), nurse, late_reason=LATE,
                    reason="Vomiting; went home with a carer")
    actions.record_vitals(s, observed_at=minutes_ago(145), values=CALM, by=nurse, late_reason=LATE)
    s = step(s, "monitoring", minutes_ago(140), nurse, late_reason=LATE)
    for item in ("sedation_resolved", "dissociation_resolved", "respiratory_depression_resolved"):
        actions.record_checklist(s, item=item, answer="yes", at=minutes_ago(80), by=nurse, late_reason=LATE)
    actions.record_vitals(s, observed_at=minutes_ago(35), values=CALM, by=nurse)
    return step(s, "discharged", minutes_ago(30), nurse, checklist={"judged_stable": "yes"})


def iv_ketamine(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse)
    s = step(s, "dosing", minutes_ago(160), nurse, late_reason=LATE, administration={"dose_mg_per_kg": 0.5})
    actions.record_vitals(s, observed_at=minutes_ago(140), values=CALM, by=nurse, late_reason=LATE)
    s = step(s, "monitoring", minutes_ago(120), nurse, late_reason=LATE)
    return step(s, "discharged", minutes_ago(0), nurse, checklist={
        "sedation_resolved": "yes", "dissociation_resolved": "yes",
        "respiratory_depression_resolved": "yes", "judged_stable": "yes",
        "discharge_score": {"answer": "recorded", "value": 10}})


def dosed_on(s):
    given = Administration.objects.filter(session=s).order_by("started_at").first()
    return timezone.localtime(given.started_at, s.patient.clinic.zone).date()


def rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content[:400]
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def download(user, start, end=None):
    return login(user).get(URL, {"from": start.isoformat(), "to": (end or start).isoformat()})


@pytest.mark.django_db
def test_a_discharged_56_mg_esketamine_session_is_one_row_coded_G2082(patient, prescriber, nurse,
                                                                       clinic_admin):
    s = esketamine(patient, prescriber, nurse)
    [row] = rows(download(clinic_admin, dosed_on(s)))
    assert (row["MRN"], row["Drug"], row["Route"], row["Dose given (mg)"]) == (
        "A-0001", *ESKETAMINE_ROUTE, "56")
    assert (row["Visit code"], row["Note"], row["Session ended"]) == ("G2082", "", "discharged")
    assert row["Observation (min)"] == "130"
    assert row["Protocol"].startswith("Intranasal esketamine (Spravato)")
    assert row["Dose given by"] == row["Monitoring clinician"] == "Nina Nurse (nurse)"
    assert row["Date of service"] == dosed_on(s).isoformat() and row["Session"] == str(s.pk)


@pytest.mark.django_db
def test_an_84_mg_dose_is_coded_G2083(patient, prescriber, nurse, clinic_admin):
    s = esketamine(patient, prescriber, nurse, dose_mg=84)
    [row] = rows(download(clinic_admin, dosed_on(s)))
    assert (row["Dose given (mg)"], row["Visit code"]) == ("84", "G2083")


@pytest.mark.django_db
def test_a_dose_given_as_2_devices_of_28_mg_is_56_mg_and_G2082(patient, prescriber, nurse, clinic_admin):
    s = esketamine(patient, prescriber, nurse, devices=2)
    [row] = rows(download(clinic_admin, dosed_on(s)))
    assert (row["Dose given (mg)"], row["Visit code"]) == ("56", "G2082")


@pytest.mark.django_db
def test_an_84_mg_dose_stopped_after_2_devices_is_listed_as_56_mg_without_a_code(
        patient, prescriber, nurse, clinic_admin):
    s = esketamine(patient, prescriber, nurse, dose_mg=84, devices=2, stop=True)
    [row] = rows(download(clinic_admin, dosed_on(s)))
    assert (row["Dose given (mg)"], row["Session ended"], row["Visit code"]) == ("56", "stopped early", "")
    assert row["Note"].startswith("Stopped early after the dose: G2082 includes 2 hours")
    assert row["Observation (min)"] == "10"  # dosed 160 min ago, stopped 150 min ago


@pytest.mark.django_db
def test_a_racemic_ketamine_session_has_a_blank_code_and_the_note_no_verified_code(
        patient, prescriber, nurse, clinic_admin):
    s = iv_ketamine(patient, prescriber, nurse)
    [row] = rows(download(clinic_admin, dosed_on(s)))
    assert (row["Drug"], row["Dose given (mg)"], row["Visit code"]) == ("ketamine", "35", "")
    assert row["Note"].startswith("No verified code") and "J3490" in row["Note"]


@pytest.mark.django_db
def test_cancelled_and_running_sessions_and_doses_in_error_are_left_out(patient, prescriber, nurse,
                                                                        clinic_admin):
    eligible_and_consented(patient, prescriber)
    running = cleared(patient, prescriber, nurse)
    running = step(running, "dosing", minutes_ago(160), nurse, late_reason=LATE,
                   administration={"dose_mg_per_kg": 0.5})
    other = new_patient(patient.clinic, prescriber, mrn="A-0002", given_name="Grace", family_name="Hopper")
    wrong = esketamine(other, prescriber, nurse)
    set_directly(Administration.objects.filter(session=wrong), entered_in_error_at=timezone.now(),
                 entered_in_error_by=nurse, entered_in_error_reason="Recorded on the wrong patient")
    assert rows(download(clinic_admin, dosed_on(running))) == []


@pytest.mark.django_db
def test_the_period_is_the_clinics_days_from_the_first_to_the_last_included(patient, prescriber, nurse,
                                                                             clinic_admin):
    s = esketamine(patient, prescriber, nurse)
    day = dosed_on(s)
    one_day = timedelta(days=1)
    assert len(rows(download(clinic_admin, day - one_day, day))) == 1
    assert len(rows(download(clinic_admin, day, day + one_day))) == 1
    assert rows(download(clinic_admin, day - 2 * one_day, day - one_day)) == []
    assert rows(download(clinic_admin, day + one_day, day + 2 * one_day)) == []


@pytest.mark.django_db
def test_every_session_comes_out_once_when_the_rows_are_read_a_batch_at_a_time(
        patient, prescriber, nurse, clinic_admin, monkeypatch):
    sessions = [esketamine(patient, prescriber, nurse)]
    for n in (2, 3):
        other = new_patient(patient.clinic, prescriber, mrn=f"A-000{n}", given_name=f"P{n}")
        sessions.append(esketamine(other, prescriber, nurse))
    monkeypatch.setattr(export, "BATCH", 2)
    found = rows(download(clinic_admin, dosed_on(sessions[0])))
    assert sorted(r["Session"] for r in found) == sorted(str(s.pk) for s in sessions)


@pytest.mark.django_db
def test_a_name_that_looks_like_a_formula_is_defused_in_the_file(patient, prescriber, clinic_a, clinic_admin):
    sly = make_user("sly", clinic_a, Role.NURSE, "=HYPERLINK(\"http://x\")", "Nurse")
    s = esketamine(patient, prescriber, sly)
    [row] = rows(download(clinic_admin, dosed_on(s)))
    assert row["Dose given by"].startswith("'=HYPERLINK(")


@pytest.mark.django_db
@pytest.mark.parametrize("start, end, field, message", [
    ("2026-01-01", "2027-01-02", "To", "the period is 367 days; export at most 366 days"),
    ("2026-03-02", "2026-03-01", "To", "is before the first day (2026-03-02)"),
    ("", "2026-03-01", "From", "This field is required."),
    ("2026-02-30", "2026-03-01", "From", "Enter a valid date."),
])
def test_a_period_that_cannot_be_exported_is_refused_naming_the_field(clinic_admin, start, end, field,
                                                                       message):
    page = login(clinic_admin).get(URL, {"from": start, "to": end})
    assert page.status_code == 422
    assert f"{field}: {message}" in page.content.decode()
    assert not AuditEntry.objects.filter(action="export").exists()


@pytest.mark.django_db
def test_a_whole_leap_year_can_be_exported(clinic_admin):
    assert rows(login(clinic_admin).get(URL, {"from": "2028-01-01", "to": "2028-12-31"})) == []


@pytest.mark.django_db
def test_another_clinics_sessions_are_not_in_the_file(patient, prescriber, nurse, clinic_admin,
                                                      patient_b, other_clinician):
    mine = esketamine(patient, prescriber, nurse)
    theirs = esketamine(patient_b, other_clinician, other_clinician)
    day = dosed_on(mine)
    found = rows(download(clinic_admin, day - timedelta(days=1), day + timedelta(days=1)))
    assert [r["MRN"] for r in found] == ["A-0001"]
    assert str(theirs.pk) not in {r["Session"] for r in found}
    assert [r["MRN"] for r in rows(download(other_clinician, dosed_on(theirs)))] == ["B-0001"]


@pytest.mark.django_db
def test_the_download_is_audited_as_an_export_and_each_session_in_it_as_listed(
        patient, prescriber, nurse, clinic_admin):
    s = esketamine(patient, prescriber, nurse)
    day = dosed_on(s)
    rows(download(clinic_admin, day))
    export_entry = AuditEntry.objects.get(action="export", object_type="visit_codes")
    assert export_entry.actor_username == "adam" and export_entry.clinic_id == patient.clinic_id
    assert json.loads(export_entry.detail_json) == {"from": day.isoformat(), "to": day.isoformat()}
    listed = AuditEntry.objects.get(action="list", object_type="session", object_id=str(s.pk))
    assert (listed.actor_username, listed.patient_id, listed.role) == ("adam", patient.pk, "admin")


@pytest.mark.django_db
def test_only_the_admin_and_the_prescriber_may_download_visit_codes(nurse, therapist, coordinator,
                                                                    prescriber, clinic_admin):
    day = timezone.localdate()
    for refused in (nurse, therapist, coordinator):
        assert download(refused, day).status_code == 403
        assert login(refused).get("/sessions/visit-codes/").status_code == 403
    for allowed in (prescriber, clinic_admin):
        page = login(allowed).get("/sessions/visit-codes/")
        assert page.status_code == 200 and "Download the CSV" in page.content.decode()
        assert download(allowed, day).status_code == 200


@pytest.mark.django_db
def test_the_command_writes_the_same_file_and_refuses_a_bad_period_in_one_line(
        patient, prescriber, nurse, tmp_path, capsys):
    s = esketamine(patient, prescriber, nurse)
    day = dosed_on(s).isoformat()
    out = tmp_path / "codes.csv"
    assert cli.main(["sessions", "visit-codes", "--clinic", "clinic-a", "--from", day, "--to", day,
                     "--out", str(out)]) == 0
    [row] = list(csv.DictReader(io.StringIO(out.read_text())))
    assert (row["MRN"], row["Visit code"]) == ("A-0001", "G2082")
    entry = AuditEntry.objects.get(action="export", object_type="visit_codes")
    assert entry.actor_username == "kapclinic sessions visit-codes"
    assert AuditEntry.objects.filter(action="list", object_id=str(s.pk), patient_id=patient.pk).exists()
    capsys.readouterr()
    assert cli.main(["sessions", "visit-codes", "--clinic", "clinic-a", "--from", day,
                     "--to", "2001-01-01"]) == 2
    assert capsys.readouterr().err.strip().startswith("kapclinic: --to: is before the first day")
    assert cli.main(["sessions", "visit-codes", "--clinic", "nowhere", "--from", day, "--to", day]) == 2
    assert capsys.readouterr().err.strip() == "kapclinic: no clinic 'nowhere'"


@pytest.mark.django_db
def test_the_supervising_clinician_booked_for_the_session_is_named_with_their_role(
        patient, prescriber, nurse, clinic_admin):
    from kapclinic.treatment.models import Session
    from tests.conftest import set_directly

    s = esketamine(patient, prescriber, nurse)
    set_directly(Session.objects.filter(pk=s.pk), clinician=prescriber)  # as a course books it
    [row] = rows(download(clinic_admin, dosed_on(s)))
    assert row["Supervising clinician"] == f"{prescriber.display_name} (prescriber)"


@pytest.mark.django_db
def test_a_period_in_the_year_9999_is_refused_naming_the_field_not_a_server_error(clinic_admin):
    response = login(clinic_admin).get(URL, {"from": "9999-12-25", "to": "9999-12-31"})
    assert response.status_code == 422
    assert "the year must be from 2000 to 2100" in response.content.decode()
