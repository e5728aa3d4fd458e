"""The Patient Monitoring Form built from a session's facts, checked by hand against
sessions.md 1.1 (2021 form): which fields, from which session data, what is left to fill in."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from kapclinic.clinical import rems
from kapclinic.clinical.rems.definitions import FORMS_DIR, load_form

T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # the first device


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def session_facts(**changes) -> rems.RemsFacts:
    base = dict(
        patient_first_name="Ada", patient_last_name="Lovelace", patient_date_of_birth=date(1980, 3, 2),
        patient_sex="Female", clinician_first_name="Nina", clinician_last_name="Nurse",
        clinician_email="nina@example.org", setting_name="Harbor Clinic",
        setting_address="1 Pier Rd", setting_city="Portland", setting_state="ME", setting_zip="04101",
        treatment_date=date(2026, 11, 24), dose_mg=56, lot="LOT-7", first_device_at=T0,
        monitoring_ended_at=at(125), effects_resolved_at=at(80),
        vitals_acceptable_before_dosing=True, vitals_acceptable_before_end=True,
        readings=(rems.Reading(at(-10), False, 128, 82),
                  rems.Reading(at(15), True, 130, 85, moaas=4),
                  rems.Reading(at(38), True, 138, 88),
                  rems.Reading(at(45), True, 135, 86),
                  rems.Reading(at(90), True, 124, 80, moaas=5)))
    return rems.RemsFacts(**{**base, **changes})


def shown(content: rems.FormContent) -> dict[str, dict[str, str]]:
    return {s.label: {f.label: f.shown for f in s.fields} for s in content.sections}


def test_the_2021_form_has_the_sections_of_the_reference_in_order():
    form = rems.get_form("2021")
    assert [s.label for s in form.spec.sections] == [
        "Patient", "Concomitant medications", "Monitoring clinician", "Healthcare setting",
        "Treatment", "Duration", "REMS evaluation", "Vital signs", "Blood pressure (mmHg)",
        "Adverse effects"]
    assert form.submit_within_days == 7
    assert form.remind_after_days.default == 5
    assert form.methods == {"online": "Online", "fax": "Fax"}


def test_a_session_fills_the_form_as_worked_out_by_hand():
    content = rems.build_form(rems.get_form(), session_facts(
        takes_benzodiazepines=False, takes_non_benzodiazepine_sedative_hypnotics=False,
        takes_psychostimulants=True, takes_maois=False, clinician_phone="555-0100",
        dissociation=True))
    form = shown(content)
    assert form["Patient"] == {"First name": "Ada", "Middle initial": "", "Last name": "Lovelace",
                               "Date of birth": "1980-03-02", "Sex": "Female"}
    assert form["Treatment"] == {"Date of treatment": "2026-11-24", "Dose given": "56 mg",
                                 "Lot number": "LOT-7"}
    # 15:00 first device, monitoring ended 17:05: 125 minutes; resolved at 16:20: 80 minutes
    assert form["Duration"] == {"Total minutes from the first device to the end of monitoring": "125"}
    assert list(form["REMS evaluation"].values()) == ["80"]
    # before dosing: the pre-dose reading; ~40 min: 38 min is nearer than 45; the end: 90 min
    assert form["Blood pressure (mmHg)"] == {"Before dosing": "128/82",
                                             "About 40 minutes after dosing": "138/88",
                                             "Before the end of the session": "124/80"}
    notes = {f.label: f.note for s in content.sections for f in s.fields}
    assert notes["About 40 minutes after dosing"] == "taken 38 min after the first device"
    assert form["Adverse effects"] == {"Sedation": "Yes", "Dissociation": "Yes"}  # MOAA/S 4
    assert form["Concomitant medications"]["Psychostimulants"] == "Yes"
    assert form["Vital signs"] == {"Acceptable before dosing": "Yes",
                                   "Acceptable before the session ended": "Yes"}
    assert content.missing == () and content.flags == ()  # the middle initial is optional
    assert content.due_on == date(2026, 12, 1)


def test_what_the_session_does_not_record_is_left_blank_and_listed_never_guessed():
    content = rems.build_form(rems.get_form(), session_facts(lot="", monitoring_ended_at=None))
    form = shown(content)
    assert form["Treatment"]["Lot number"] == ""
    assert form["Concomitant medications"]["Benzodiazepines"] == ""
    assert "Treatment: Lot number (no lot number was recorded with the dose)" in content.missing
    assert "Duration: Total minutes from the first device to the end of monitoring " \
           "(the session has not ended)" in content.missing
    assert any(m.startswith("Adverse effects: Dissociation") for m in content.missing)
    assert any(m.startswith("Monitoring clinician: Phone") for m in content.missing)
    assert not content.complete


def test_a_dose_other_than_56_or_84_mg_is_written_as_other():
    content = rems.build_form(rems.get_form(), session_facts(dose_mg=28))
    assert shown(content)["Treatment"]["Dose given"] == "Other: 28 mg"
    assert shown(rems.build_form(rems.get_form(), session_facts(dose_mg=84)))["Treatment"][
        "Dose given"] == "84 mg"


def test_monitoring_under_two_hours_is_flagged():
    content = rems.build_form(rems.get_form(), session_facts(monitoring_ended_at=at(100)))
    assert content.flags == ("Monitoring lasted 100 minutes: the form expects at least 120 from "
                             "the first device.",)


def test_no_sedation_when_every_moaas_after_the_dose_was_5_and_unknown_without_one():
    calm = (rems.Reading(at(-10), False, 128, 82), rems.Reading(at(40), True, 130, 84, moaas=5))
    assert shown(rems.build_form(rems.get_form(), session_facts(readings=calm)))[
        "Adverse effects"]["Sedation"] == "No"
    none = (rems.Reading(at(-10), False, 128, 82),)
    content = rems.build_form(rems.get_form(), session_facts(readings=none))
    assert shown(content)["Adverse effects"]["Sedation"] == ""
    assert "Blood pressure (mmHg): About 40 minutes after dosing (no blood pressure after the " \
           "dose)" in content.missing


def test_a_form_file_naming_a_fact_the_session_does_not_give_is_refused(tmp_path: Path):
    data = json.loads((FORMS_DIR / "pmf_2021.json").read_text())
    data["sections"][0]["fields"][0]["fact"] = "patient_shoe_size"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(rems.RemsFormError) as exc:
        load_form(bad)
    assert exc.value.field == "sections[0].fields[0].fact"


def test_a_reminder_on_or_after_the_due_day_is_refused(tmp_path: Path):
    data = json.loads((FORMS_DIR / "pmf_2021.json").read_text())
    data["remind_after_days"]["value"] = 7
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(rems.RemsFormError, match="before the form is due"):
        load_form(bad)


def test_a_reminder_default_outside_its_own_setting_is_refused(tmp_path: Path):
    data = json.loads((FORMS_DIR / "pmf_2021.json").read_text())
    data["remind_after_days"]["setting"]["max"] = 3  # the default, 5, is then out of bounds
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(rems.RemsFormError) as exc:
        load_form(bad)
    assert exc.value.field == "remind_after_days.value"
