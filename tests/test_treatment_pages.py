"""The dosing session pages as the clinic uses them: who may open and work them, every form's
bad input named on its field, a refused step showing each thing still to do, the polls and
what they audit, and the room board."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kapclinic.alerts.models import Alert
from kapclinic.audit.models import AuditEntry
from kapclinic.treatment import actions
from kapclinic.treatment.models import Administration, Session, VitalReading
from tests.conftest import PASSWORD, login, make_user, new_patient
from tests.treatment.helpers import (
    CALM,
    cleared,
    eligible_and_consented,
    minutes_ago,
    session,
    step,
)

pytestmark = pytest.mark.django_db


def html(response) -> str:
    return response.content.decode()


def text(response) -> str:
    """The page's words without tags, whitespace folded (what a reader sees)."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html(response))))


def checked_in(patient, prescriber, nurse) -> Session:
    s = session(patient, prescriber, started_minutes_ago=10)
    return step(s, "checked_in", minutes_ago(5), nurse)


def dosing(patient, prescriber, nurse) -> Session:
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=30)
    return step(s, "dosing", minutes_ago(20), nurse, late_reason="entered after",
                administration={"dose_mg_per_kg": 0.5})


# ---- who may open what ---------------------------------------------------------------------

@pytest.mark.parametrize("role_fixture, status", [
    ("prescriber", 200), ("nurse", 200), ("therapist", 200), ("coordinator", 200),
    ("clinic_admin", 403)])
def test_each_role_opens_the_session_page_as_the_matrix_says(request, role_fixture, status, patient,
                                                             prescriber):
    s = session(patient, prescriber)
    user = request.getfixturevalue(role_fixture)
    assert login(user).get(f"/sessions/{s.pk}/").status_code == status


def test_another_clinics_session_is_not_found_and_the_probe_is_audited(patient_b, other_clinician,
                                                                       nurse):
    theirs = session(patient_b, other_clinician)
    client = login(nurse)
    assert client.get(f"/sessions/{theirs.pk}/").status_code == 404
    assert client.get(f"/sessions/{theirs.pk}/live/").status_code == 404
    assert client.post(f"/sessions/{theirs.pk}/vitals/", {"sbp_mmhg": 120}).status_code == 404
    assert not VitalReading.objects.exists()
    assert AuditEntry.objects.filter(action="denied", object_type="session",
                                     object_id=str(theirs.pk)).exists()


def test_a_therapist_sees_the_session_and_writes_only_the_note_of_intention(patient, prescriber,
                                                                            nurse, therapist):
    s = checked_in(patient, prescriber, nurse)
    client = login(therapist)
    page = client.get(f"/sessions/{s.pk}/")
    assert "Therapist's note of intention" in text(page)
    assert 'name="fasting"' not in html(page)          # the nurse's items are not offered
    assert "Record a reading" not in html(page)
    assert client.post(f"/sessions/{s.pk}/vitals/", {"sbp_mmhg": 120}).status_code == 403
    client.post(f"/sessions/{s.pk}/checklist/", {"intention_note": "To meet the grief gently",
                                                 "fasting": "yes"})
    assert list(s.checklist.values_list("item", "note")) == [
        ("intention_note", "To meet the grief gently")]


def test_the_session_page_shows_state_protocol_and_the_next_step_and_is_audited(patient, prescriber,
                                                                                 nurse):
    s = session(patient, prescriber)
    page = login(nurse).get(f"/sessions/{s.pk}/")
    words = text(page)
    assert "Dosing session: Lovelace, Ada" in words
    assert "IV racemic ketamine infusion" in words
    assert "Scheduled" in words and "Check in" in words
    assert AuditEntry.objects.filter(action="read", object_type="session", object_id=str(s.pk)).exists()


def test_a_nurse_starts_at_the_room_board_and_the_menu_offers_it_to_those_who_run_sessions(
        nurse, prescriber, therapist, coordinator):
    assert login(nurse).get("/").url == "/sessions/board/"
    assert login(prescriber).get("/").url != "/sessions/board/"
    assert "Room board" in html(login(prescriber).get("/patients/"))
    assert "Room board" not in html(login(therapist).get("/patients/"))
    assert "Room board" not in html(login(coordinator).get("/patients/"))


def test_the_patient_chart_links_to_booking_and_to_each_session(patient, prescriber, coordinator):
    s = session(patient, prescriber)
    chart = html(login(coordinator).get(f"/patients/{patient.pk}/"))
    assert f'href="/patients/{patient.pk}/sessions/new/"' in chart
    assert f'href="/sessions/{s.pk}/"' in chart


# ---- scheduling ----------------------------------------------------------------------------

def test_booking_a_session_needs_a_protocol_and_a_time_and_then_opens_it(patient, coordinator):
    client = login(coordinator)
    bad = client.post(f"/patients/{patient.pk}/sessions/new/", {"protocol": "nope", "scheduled_at": ""})
    assert bad.status_code == 422
    assert "Select a valid choice" in html(bad) and "This field is required" in html(bad)
    good = client.post(f"/patients/{patient.pk}/sessions/new/", {
        "protocol": "intranasal_esketamine", "scheduled_at": "2026-12-01T09:30", "room": "Room 2",
        "chair": "B"})
    s = Session.objects.get()
    assert good.url == f"/sessions/{s.pk}/"
    assert (s.protocol, s.room, s.chair) == ("intranasal_esketamine", "Room 2", "B")
    assert s.scheduled_at.isoformat() == "2026-12-01T14:30:00+00:00"  # 09:30 in New York


def test_a_patient_of_another_clinic_cannot_be_booked(patient_b, coordinator):
    assert login(coordinator).get(f"/patients/{patient_b.pk}/sessions/new/").status_code == 404


# ---- steps ---------------------------------------------------------------------------------

def test_a_refused_step_shows_every_unmet_guard_in_plain_words(patient, prescriber, nurse):
    s = checked_in(patient, prescriber, nurse)
    page = login(nurse).post(f"/sessions/{s.pk}/step/", {"to": "cleared", "version": s.version})
    assert page.status_code == 409
    words = text(page)
    assert "“Clear to dose” cannot be taken yet" in words
    for needed in ("Fasting before the dose is not confirmed.", "A ride home is not confirmed",
                   "Today's weight is not recorded", "Vital signs before the dose are not recorded.",
                   "The therapist's note of intention for this session is not written.",
                   "No prescriber sign-off of eligibility", "No current informed consent"):
        assert needed in words, needed
    s.refresh_from_db()
    assert s.state == "checked_in"


def test_the_page_lists_what_the_next_step_still_needs_before_it_is_tried(patient, prescriber, nurse):
    s = checked_in(patient, prescriber, nurse)
    words = text(login(nurse).get(f"/sessions/{s.pk}/"))
    assert "Still needed first:" in words
    assert "Fasting before the dose is not confirmed." in words


def test_cancelling_without_a_reason_is_refused_and_with_one_it_ends_the_session(patient, prescriber,
                                                                                 nurse):
    s = session(patient, prescriber)
    client = login(nurse)
    refused = client.post(f"/sessions/{s.pk}/step/", {"to": "cancelled", "version": s.version})
    assert refused.status_code == 409 and "Write the reason." in text(refused)
    done = client.post(f"/sessions/{s.pk}/step/", {"to": "cancelled", "version": s.version,
                                                   "reason": "Patient unwell with a cold"})
    assert done.status_code == 302
    s.refresh_from_db()
    assert (s.state, s.end_reason) == ("cancelled", "Patient unwell with a cold")


def test_a_step_from_a_page_another_station_already_moved_on_is_refused_not_repeated(patient,
                                                                                     prescriber, nurse):
    s = session(patient, prescriber, started_minutes_ago=10)  # booked for now: checked in with one press
    client = login(nurse)
    assert client.post(f"/sessions/{s.pk}/step/", {"to": "checked_in", "version": 1}).status_code == 302
    again = client.post(f"/sessions/{s.pk}/step/", {"to": "checked_in", "version": 1})
    assert again.status_code == 409
    assert "changed by someone else" in text(again)
    assert s.events.filter(to_state="checked_in").count() == 1


def test_a_step_in_the_future_is_refused_naming_the_time(patient, prescriber, nurse):
    s = session(patient, prescriber)
    page = login(nurse).post(f"/sessions/{s.pk}/step/", {"to": "checked_in", "version": 1,
                                                         "at": "2099-01-01T09:00"})
    assert page.status_code == 422
    assert "is in the future" in text(page)


# ---- the checklist -------------------------------------------------------------------------

def test_the_checklist_saves_the_answers_given_and_names_an_impossible_weight(patient, prescriber,
                                                                              nurse):
    s = checked_in(patient, prescriber, nurse)
    client = login(nurse)
    bad = client.post(f"/sessions/{s.pk}/checklist/", {"fasting": "yes", "weight_today": "900"})
    assert bad.status_code == 422
    assert "Today's weight (kg)" in text(bad) and "900 kg is outside the plausible range" in text(bad)
    assert not s.checklist.exists()  # all the answers of the form, or none
    empty = client.post(f"/sessions/{s.pk}/checklist/", {})
    assert empty.status_code == 422 and "Answer at least one item." in text(empty)
    client.post(f"/sessions/{s.pk}/checklist/", {"fasting": "yes", "weight_today": "70.5",
                                                 "ride_home": "yes"})
    assert dict(s.checklist.values_list("item", "answer")) == {
        "fasting": "yes", "weight_today": "recorded", "ride_home": "yes"}
    page = text(client.get(f"/sessions/{s.pk}/"))
    assert "Recorded: 70.5 kg" in page


# ---- the dose ------------------------------------------------------------------------------

def test_the_dose_preview_gives_the_other_unit_and_says_when_it_is_outside_the_protocol(
        patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=30)
    client = login(nurse)
    within = text(client.get(f"/sessions/{s.pk}/dose/preview/", {"dose": "0.5", "unit": "mg_per_kg"}))
    assert "35 mg = 0.5 mg/kg" in within and "within the protocol" in within
    above = text(client.get(f"/sessions/{s.pk}/dose/preview/", {"dose": "105", "unit": "mg"}))
    assert "1.5 mg/kg" in above and "outside the protocol" in above
    assert "Type the dose" in text(client.get(f"/sessions/{s.pk}/dose/preview/", {"dose": ""}))


def test_a_dose_above_the_cap_needs_a_reason_and_a_second_clinician_typing_their_password(
        patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=30)
    client = login(nurse)
    above = {"dose": "1.2", "unit": "mg_per_kg", "lot": "L123"}
    no_reason = client.post(f"/sessions/{s.pk}/dose/", above)
    assert no_reason.status_code == 422
    assert "Why this dose (outside the protocol)" in text(no_reason)
    wrong = client.post(f"/sessions/{s.pk}/dose/", {**above, "override_reason": "Partial response at 1.0",
                                                    "second_clinician": "alice",
                                                    "second_password": "wrong"})
    assert wrong.status_code == 422
    assert "password or code is not right" in text(wrong)
    nobody = client.post(f"/sessions/{s.pk}/dose/", {**above, "override_reason": "Partial response",
                                                     "second_clinician": "ghost", "second_password": "x"})
    assert "There is no user 'ghost'" in text(nobody)
    assert not Administration.objects.exists()
    done = client.post(f"/sessions/{s.pk}/dose/", {**above, "override_reason": "Partial response at 1.0",
                                                   "second_clinician": "alice",
                                                   "second_password": PASSWORD})
    assert done.status_code == 302
    given = Administration.objects.get()
    assert (given.dose_mg, given.within_protocol, given.second_clinician) == (84.0, False, prescriber)
    s.refresh_from_db()
    assert s.state == "dosing"


def test_a_dose_that_is_not_a_number_is_named(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=30)
    page = login(nurse).post(f"/sessions/{s.pk}/dose/", {"dose": "lots", "unit": "mg_per_kg"})
    assert page.status_code == 422 and "Dose: Enter a number." in text(page)


# ---- vital signs ---------------------------------------------------------------------------

@pytest.mark.parametrize("values, named", [
    ({"sbp_mmhg": "400", "dbp_mmhg": "80"}, "Systolic BP (mmHg)"),
    ({"spo2_pct": "120"}, "SpO2 (%)"),
    ({"heart_rate_bpm": "0"}, "Heart rate (/min)"),
    ({"resp_rate_per_min": "fast"}, "Breathing rate (/min): Enter a number."),
])
def test_an_impossible_reading_is_refused_naming_the_field(values, named, patient, prescriber, nurse):
    s = checked_in(patient, prescriber, nurse)
    page = login(nurse).post(f"/sessions/{s.pk}/vitals/", values)
    assert page.status_code == 422
    assert named in text(page)
    assert "Not saved." in text(page)
    assert not VitalReading.objects.exists()


def test_an_empty_reading_asks_for_a_vital_sign(patient, prescriber, nurse):
    s = checked_in(patient, prescriber, nurse)
    page = login(nurse).post(f"/sessions/{s.pk}/vitals/", {})
    assert page.status_code == 422 and "Enter at least one vital sign." in text(page)


def test_the_vitals_form_is_for_a_tablet_numeric_keyboards_and_units_in_the_labels(patient,
                                                                                   prescriber, nurse):
    s = checked_in(patient, prescriber, nurse)
    page = html(login(nurse).get(f"/sessions/{s.pk}/"))
    sbp = re.search(r'<input[^>]*name="sbp_mmhg"[^>]*>', page).group(0)
    assert 'inputmode="numeric"' in sbp and 'id="id_sbp_mmhg"' in sbp
    assert re.search(r'<input[^>]*name="temp_c"[^>]*inputmode="decimal"', page)
    assert '<label for="id_sbp_mmhg">Systolic BP (mmHg)</label>' in page


def test_a_high_blood_pressure_during_dosing_raises_an_alert_shown_and_acknowledged_on_the_page(
        patient, prescriber, nurse):
    s = dosing(patient, prescriber, nurse)
    client = login(nurse)
    saved = client.post(f"/sessions/{s.pk}/vitals/", {"sbp_mmhg": "186", "dbp_mmhg": "100",
                                                      "heart_rate_bpm": "88"}, follow=True)
    words = text(saved)
    assert "Reading at" in words and "saved" in words
    alert = Alert.objects.get(kind="bp_hypertensive_range")
    assert alert.label in words
    assert alert.recommended_action in words
    assert f"/sessions/{s.pk}/alerts/{alert.pk}/acknowledge/" in html(saved)
    empty = client.post(f"/sessions/{s.pk}/alerts/{alert.pk}/acknowledge/", {"note": " "}, follow=True)
    assert "Write what you did" in text(empty)
    done = client.post(f"/sessions/{s.pk}/alerts/{alert.pk}/acknowledge/",
                       {"note": "Infusion paused; prescriber called"}, follow=True)
    assert "Alert acknowledged." in text(done)
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse
    assert "Infusion paused; prescriber called" in text(done)  # in the session log


def test_an_alert_of_another_session_is_not_acknowledged_from_this_one(patient, prescriber, nurse):
    s = dosing(patient, prescriber, nurse)
    actions.record_vitals(s, observed_at=minutes_ago(1), values={"spo2_pct": 88}, by=nurse)
    alert = Alert.objects.get()
    other = session(new_patient(patient.clinic, prescriber, mrn="A-0002"), prescriber)
    page = login(nurse).post(f"/sessions/{other.pk}/alerts/{alert.pk}/acknowledge/", {"note": "x"})
    assert page.status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_the_vitals_chart_draws_a_line_per_vital_and_the_protocols_thresholds(patient, prescriber,
                                                                               nurse):
    s = dosing(patient, prescriber, nurse)
    actions.record_vitals(s, observed_at=minutes_ago(15), values=CALM, by=nurse)
    actions.record_vitals(s, observed_at=minutes_ago(5), values={**CALM, "sbp_mmhg": 140}, by=nurse)
    page = html(login(nurse).get(f"/sessions/{s.pk}/"))
    for series in ("sbp_mmhg", "dbp_mmhg", "heart_rate_bpm", "spo2_pct", "resp_rate_per_min"):
        assert f'data-series="{series}"' in page
    assert "Systolic BP ≥ 180" in page and "SpO2 &lt; 92" in page
    assert "minutes since the dose started" in page


# ---- the polls and what they audit ---------------------------------------------------------

def poll_audits(session_id: int) -> int:
    return AuditEntry.objects.filter(action="read", object_type="session",
                                     object_id=str(session_id)).count()


def test_a_poll_that_shows_nothing_new_is_not_audited_and_one_with_a_new_reading_is(patient,
                                                                                    prescriber, nurse):
    s = dosing(patient, prescriber, nurse)
    client = login(nurse)
    first = client.get(f"/sessions/{s.pk}/live/")
    seen = re.search(r"seen=([0-9a-f]+)", html(first)).group(1)
    before = poll_audits(s.pk)
    again = client.get(f"/sessions/{s.pk}/live/", {"seen": seen, "v": s.version})
    assert again.status_code == 200 and poll_audits(s.pk) == before
    assert f"seen={seen}" in html(again)
    actions.record_vitals(s, observed_at=minutes_ago(1), values={"spo2_pct": 89}, by=nurse)
    changed = client.get(f"/sessions/{s.pk}/live/", {"seen": seen, "v": s.version})
    assert poll_audits(s.pk) == before + 1
    assert "SpO2 89" in text(changed)           # the alert, within one poll
    assert 'hx-swap-oob="true"' in html(changed)  # the chart, readings and log with it


def test_a_poll_after_another_station_took_a_step_says_so(patient, prescriber, nurse):
    s = session(patient, prescriber, started_minutes_ago=10)
    client = login(nurse)
    step(s, "checked_in", minutes_ago(1), prescriber)
    page = text(client.get(f"/sessions/{s.pk}/live/", {"v": 1}))
    assert "This session was changed at another station: it is now checked in." in page


# ---- the room board ------------------------------------------------------------------------

def test_the_room_board_shows_each_session_in_progress_with_its_alerts(patient, prescriber, nurse):
    s = dosing(patient, prescriber, nurse)
    actions.record_vitals(s, observed_at=minutes_ago(1), values={"sbp_mmhg": 190, "dbp_mmhg": 95},
                          by=nurse)
    booked = session(new_patient(patient.clinic, prescriber, mrn="A-0009", family_name="Booked"),
                     prescriber)
    words = text(login(nurse).get("/sessions/board/"))
    assert "Ada Lovelace" in words and "Room 1 · chair A" in words
    assert "Being dosed" in words and "Since the dose 20 min" in words
    assert "Urgent" in words and "Blood pressure" in words
    assert "Booked" not in words and booked.state == "scheduled"  # not yet in the clinic


def test_the_room_board_costs_the_same_queries_for_2_sessions_as_for_20(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)

    def make(n: int) -> None:
        for i in range(n):
            p = new_patient(patient.clinic, prescriber, mrn=f"Q-{Session.objects.count():04d}-{i}")
            eligible_and_consented(p, prescriber)
            s = cleared(p, prescriber, nurse, start=30)
            s = step(s, "dosing", minutes_ago(20), nurse, late_reason="entered after",
                     administration={"dose_mg_per_kg": 0.5})
            actions.record_vitals(s, observed_at=minutes_ago(2), values={"spo2_pct": 89}, by=nurse)

    client = login(nurse)
    make(2)
    client.get("/sessions/board/")  # warm caches (the protocol files)
    with CaptureQueriesContext(connection) as two:
        assert client.get("/sessions/board/live/").status_code == 200
    make(18)
    with CaptureQueriesContext(connection) as twenty:
        page = client.get("/sessions/board/live/")
    assert html(page).count("board-card") == 20
    assert len(twenty) == len(two)


def test_a_board_poll_with_nothing_new_writes_nothing_to_the_trail(patient, prescriber, nurse):
    dosing(patient, prescriber, nurse)
    client = login(nurse)
    first = html(client.get("/sessions/board/"))
    seen = re.search(r"seen=([0-9a-f]+)", first).group(1)
    count = AuditEntry.objects.count()
    client.get("/sessions/board/live/", {"seen": seen})
    assert AuditEntry.objects.count() == count
    client.get("/sessions/board/live/", {"seen": "stale"})
    assert AuditEntry.objects.count() == count + 1


def test_the_board_is_for_clinical_roles_only(clinic_admin, coordinator):
    assert login(clinic_admin).get("/sessions/board/").status_code == 403
    assert login(coordinator).get("/sessions/board/").status_code == 200


def test_a_second_clinic_sees_only_its_own_sessions_on_the_board(patient, prescriber, nurse, clinic_b):
    dosing(patient, prescriber, nurse)
    other_nurse = make_user("olga", clinic_b, "nurse")
    assert "Ada Lovelace" not in text(login(other_nurse).get("/sessions/board/"))


def test_an_esketamine_session_links_to_its_rems_monitoring_form_and_an_iv_one_does_not(
        patient, prescriber, nurse):
    spravato = session(patient, prescriber, "intranasal_esketamine")
    iv = session(patient, prescriber)
    client = login(nurse)
    assert f'href="/sessions/{spravato.pk}/rems/"' in html(client.get(f"/sessions/{spravato.pk}/"))
    assert "/rems/" not in html(client.get(f"/sessions/{iv.pk}/"))



def test_a_refused_acknowledgement_note_says_what_was_wrong_with_it(patient, prescriber, nurse):
    s = dosing(patient, prescriber, nurse)
    client = login(nurse)
    client.post(f"/sessions/{s.pk}/vitals/", {"sbp_mmhg": "186", "dbp_mmhg": "100"})
    alert = Alert.objects.get(kind="bp_hypertensive_range")
    page = client.post(f"/sessions/{s.pk}/alerts/{alert.pk}/acknowledge/",
                       {"note": "x" * 5000}, follow=True)
    assert "The note was not saved" in text(page)
    assert "Write what you did" not in text(page)
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
