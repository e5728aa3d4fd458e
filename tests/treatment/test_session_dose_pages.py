"""The dose on the live session page: the predicted plasma curve of today's dose with a line at
now, today's dose beside the patient's earlier doses with what was observed after them
(decision support, not an order), and the buttons that pause, resume and stop an infusion or
record an esketamine device, each once however often it is sent."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kapclinic.alerts.models import Alert
from kapclinic.platform import extensions as ext
from kapclinic.treatment import actions, dose_response
from kapclinic.treatment.models import Administration, AdministrationEvent
from tests.conftest import login, new_patient, set_directly
from tests.treatment.helpers import (
    CALM,
    ESKETAMINE,
    LATE,
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
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html(response))))


def token(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to ``action`` (its one-time token among them)."""
    form = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S)
    assert form, f"no form posts to {action}"
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(1)))


@pytest.fixture
def infusing(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=25)
    return step(s, "dosing", minutes_ago(20), nurse, late_reason=LATE,
                administration={"dose_mg_per_kg": 0.5})


@pytest.fixture
def spraying(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber, drug="esketamine", route="intranasal")
    s = cleared(patient, prescriber, nurse, ESKETAMINE, start=25)
    return step(s, "dosing", minutes_ago(20), nurse, late_reason=LATE, administration={"dose_mg": 56})


# ---- the predicted curve -------------------------------------------------------------------

def test_an_iv_session_with_a_dose_shows_each_models_predicted_curve_and_a_line_at_now(infusing,
                                                                                      prescriber):
    page = login(prescriber).get(f"/sessions/{infusing.pk}/")
    words, markup = text(page), html(page)
    assert "Predicted plasma level of today's dose" in words
    assert "Decision support, not an order." in words
    assert "not a measurement in this patient" in words
    assert "35 mg (0.5 mg/kg × 70 kg), IV infusion over 40 min" in words
    for name in ("Clements 1981", "Domino (STANPUMP set)", "Herd & Anderson 2007", "Hijazi 2003",
                 "Kamp 2020"):
        assert name in words
    assert markup.count('data-series="pk-') == 5
    assert 'data-series="now"' in markup and "now, 20 min" in words
    now = re.search(r"Predicted now, 20 min after the start: (\d+)–(\d+) ng/mL", words)
    assert now and 0 < int(now.group(1)) < int(now.group(2))
    assert "minutes since the dose started" in words
    assert "/dosing/explorer/?drug=ketamine&amp;route=iv-infusion&amp;dose_unit=mg&amp;dose=35" in markup


def test_the_curve_is_computed_once_per_dose_and_each_poll_only_moves_the_now_line(infusing,
                                                                                   prescriber):
    dose_response._curves.cache_clear()
    client = login(prescriber)
    client.get(f"/sessions/{infusing.pk}/")
    for _ in range(3):
        assert 'data-series="now"' in html(client.get(f"/sessions/{infusing.pk}/live/"))
    info = dose_response._curves.cache_info()
    assert (info.misses, info.hits) == (1, 3)


def test_a_pause_changes_the_predicted_curve_to_the_dose_actually_run(infusing, nurse, prescriber):
    actions.record_administration_event(infusing, kind="pause", at=minutes_ago(10), by=nurse,
                                        reason="Nausea", late_reason=LATE)
    words = text(login(prescriber).get(f"/sessions/{infusing.pk}/"))
    assert "8.8 mg given so far" in words   # 35 mg over 40 min, run for 10 min
    assert "The infusion is paused: the curve assumes no more is given until it resumes." in words


def test_before_the_dose_the_curve_is_the_protocols_standard_dose_at_todays_weight(patient,
                                                                                    prescriber,
                                                                                    nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=25)
    words = text(login(prescriber).get(f"/sessions/{s.pk}/"))
    assert "The protocol's standard dose, not yet given: 35 mg (0.5 mg/kg × 70 kg)" in words
    assert "Predicted now" not in words


def test_without_todays_weight_the_page_asks_for_it_instead_of_guessing_a_curve(patient, prescriber):
    s = session(patient, prescriber)
    words = text(login(prescriber).get(f"/sessions/{s.pk}/"))
    assert "Record today's weight to see the predicted curve of the protocol's standard dose." in words
    assert 'data-series="pk-' not in words


def test_an_esketamine_session_names_its_one_model_and_ignores_weight_as_the_model_does(spraying,
                                                                                       prescriber):
    words = text(login(prescriber).get(f"/sessions/{spraying.pk}/"))
    assert ("56 mg, intranasal, 2 devices of 28 mg taken 5 min apart from the start, as the model "
            "assumes") in words
    assert "mg/kg" not in words.split("Predicted plasma level")[1].split("Today's dose beside")[0]
    assert "the published population model of esketamine (Spravato) by this route (Perez-Ruixo 2021)" \
        in words


def test_a_role_outside_the_dose_explorer_does_not_get_the_decision_support(infusing, therapist):
    words = text(login(therapist).get(f"/sessions/{infusing.pk}/"))
    assert "Predicted plasma level" not in words and "beside earlier doses" not in words


def test_an_infusion_paused_for_ten_minutes_runs_its_dose_in_two_stretches_ten_minutes_later():
    start = minutes_ago(60)

    def event(kind, minutes, pk):
        return AdministrationEvent(kind=kind, at=start + timedelta(minutes=minutes), pk=pk)

    pieces, paused = dose_response.infusion_pieces(
        40.0, 40.0, start, [event("pause", 10, 1), event("resume", 20, 2)], None)
    assert (pieces, paused) == (((0.0, 10.0, 10.0), (20.0, 30.0, 30.0)), False)
    stopped, _ = dose_response.infusion_pieces(40.0, 40.0, start, [event("stop", 25, 1)], None)
    assert stopped == ((0.0, 25.0, 25.0),)
    waiting, paused = dose_response.infusion_pieces(40.0, 40.0, start, [event("pause", 5, 1)], None)
    assert (waiting, paused) == (((0.0, 5.0, 5.0),), True)


def test_a_session_of_another_day_shows_its_first_hours_without_a_now_line():
    assert dose_response.hours_for(None) == dose_response.hours_for(3 * 24 * 60) == 4
    assert dose_response.hours_for(5 * 60) == 7


# ---- earlier doses -------------------------------------------------------------------------

def _earlier_session(patient, prescriber, nurse, *, days: int, mg_per_kg: float, moaas: list[int]):
    s = cleared(patient, prescriber, nurse, start=40)
    s = step(s, "dosing", minutes_ago(35), nurse, late_reason=LATE,
             administration={"dose_mg_per_kg": mg_per_kg})
    for i, level in enumerate(moaas):
        actions.record_vitals(s, observed_at=minutes_ago(30 - 5 * i), values={**CALM, "moaas": level},
                              by=nurse, late_reason=LATE)
    back = timedelta(days=days)
    set_directly(Administration.objects.filter(session=s), started_at=minutes_ago(35) - back)
    # ended, as an earlier session is (a patient is in one session at a time)
    return step(s, "stopped", minutes_ago(4), nurse, reason="ended early (test)")


def test_the_earlier_doses_table_lists_each_dose_with_its_lowest_moaas_and_peak_cadss6(
        patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    first = _earlier_session(patient, prescriber, nurse, days=14, mg_per_kg=0.5, moaas=[5, 3, 4])
    _earlier_session(patient, prescriber, nurse, days=7, mg_per_kg=0.6, moaas=[4])
    today = cleared(patient, prescriber, nurse, start=25)
    with ext.registrations_undone(ext.SessionScores):
        ext.register(ext.SessionScores("test-cadss", lambda ids: {first.pk: {"cadss6": 9.0}}))
        page = login(prescriber).get(f"/sessions/{today.pk}/")
    words = text(page)
    assert "Today's dose beside earlier doses" in words
    assert "Decision support, not an order." in words
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", html(page).split('class="table compact dose-history"')[1],
                      re.S)[1:]
    cells = [re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", r))).strip() for r in rows]
    assert cells[0].startswith("Today planned")
    assert "35 mg · 0.5 mg/kg" in cells[0]
    assert "42 mg · 0.6 mg/kg" in cells[1] and cells[1].endswith("— 4")
    assert "35 mg · 0.5 mg/kg" in cells[2] and cells[2].endswith("9 3")
    assert f'href="/sessions/{first.pk}/"' in rows[2]


def test_the_earlier_doses_cost_the_same_queries_for_2_sessions_as_for_8(patient, prescriber,
                                                                          nurse):
    eligible_and_consented(patient, prescriber)
    for days in (20, 19):
        _earlier_session(patient, prescriber, nurse, days=days, mg_per_kg=0.5, moaas=[4])
    today = cleared(patient, prescriber, nurse, start=25)
    client = login(prescriber)
    client.get(f"/sessions/{today.pk}/")  # warm the protocol and model caches
    with CaptureQueriesContext(connection) as two:
        assert client.get(f"/sessions/{today.pk}/").status_code == 200
    for days in range(18, 12, -1):
        _earlier_session(patient, prescriber, nurse, days=days, mg_per_kg=0.5, moaas=[4, 3])
    with CaptureQueriesContext(connection) as eight:
        page = client.get(f"/sessions/{today.pk}/")
    table = html(page).split('class="table compact dose-history"')[1].split("</table>")[0]
    assert table.count("<tr") == 1 + 1 + 8  # the header, today, the eight earlier doses
    assert len(eight) == len(two)


# ---- the infusion's buttons ----------------------------------------------------------------

def local(when, s) -> str:
    """A moment as the page's time field takes it: the clinic's wall clock."""
    return when.astimezone(ZoneInfo(s.patient.clinic.time_zone)).strftime("%Y-%m-%dT%H:%M")


def post_event(client, s, page: str, **fields):
    url = f"/sessions/{s.pk}/dose/events/"
    hidden = token(page, url)
    return client.post(url, {**hidden, **fields})


def test_a_nurse_pauses_resumes_and_stops_the_infusion_from_the_page(infusing, nurse):
    client = login(nurse)
    page = html(client.get(f"/sessions/{infusing.pk}/"))
    assert "Pause the infusion…" in page and "Stop the infusion…" in page
    assert "Resume the infusion" not in page
    paused = post_event(client, infusing, page, kind="pause", reason="Patient asked for a break")
    assert paused.status_code == 302
    page = client.get(paused.url)
    words = text(page)
    assert "Infusion paused at" in words
    assert "Paused" in words and "Patient asked for a break" in words
    assert "Resume the infusion" in words and "Pause the infusion…" not in words
    resumed = post_event(client, infusing, html(page), kind="resume")
    assert resumed.status_code == 302
    page = html(client.get(resumed.url))
    stopped = post_event(client, infusing, page.split('id="dose-stop"')[1], kind="stop",
                         reason="Nausea")
    assert stopped.status_code == 302
    words = text(client.get(stopped.url))
    assert "Infusion stopped at" in words and "Stopped" in words
    assert list(AdministrationEvent.objects.values_list("kind", flat=True)) == ["pause", "resume", "stop"]


def test_a_double_posted_pause_is_recorded_once(infusing, nurse):
    client = login(nurse)
    page = html(client.get(f"/sessions/{infusing.pk}/"))
    first = post_event(client, infusing, page, kind="pause", reason="Break")
    again = post_event(client, infusing, page, kind="pause", reason="Break")
    assert first.status_code == again.status_code == 302
    assert AdministrationEvent.objects.count() == 1


def test_a_pause_without_a_reason_is_refused_beside_the_reason(infusing, nurse):
    client = login(nurse)
    page = html(client.get(f"/sessions/{infusing.pk}/"))
    refused = post_event(client, infusing, page, kind="pause", reason="  ")
    assert refused.status_code == 422
    markup = html(refused)
    pause = markup.split('id="dose-pause"')[1].split("</details>")[0]
    assert 'class="field-error" id="pause-reason_error"' in pause
    assert "say why the infusion is paused" in pause
    assert not AdministrationEvent.objects.exists()


def test_a_pause_from_a_page_left_open_after_another_station_paused_says_why_not(infusing,
                                                                                  nurse,
                                                                                  prescriber):
    client = login(nurse)
    page = html(client.get(f"/sessions/{infusing.pk}/"))
    actions.record_administration_event(infusing, kind="pause", at=minutes_ago(1), by=prescriber,
                                        reason="Nausea")
    late = post_event(client, infusing, page, kind="pause", reason="Break")
    assert late.status_code == 302
    words = text(client.get(late.url))
    assert "Not recorded: the infusion is paused: it cannot be paused now." in words
    assert "Resume the infusion" in words
    assert AdministrationEvent.objects.count() == 1


def test_an_alert_recommending_a_pause_is_answered_by_pausing_from_its_card(infusing, nurse):
    client = login(nurse)
    client.post(f"/sessions/{infusing.pk}/vitals/", {"sbp_mmhg": "186", "dbp_mmhg": "100"})
    alert = Alert.objects.get(kind="bp_hypertensive_range")
    page = html(client.get(f"/sessions/{infusing.pk}/"))
    url = f"/sessions/{infusing.pk}/alerts/{alert.pk}/pause/"
    assert f'formaction="{url}"' in page
    hidden = token(page, f"/sessions/{infusing.pk}/alerts/{alert.pk}/acknowledge/")
    done = client.post(url, {**hidden, "note": "BP 186/100; prescriber called"}, follow=True)
    assert "Infusion paused at" in text(done)
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse
    assert alert.acknowledgement_note == "Infusion paused: BP 186/100; prescriber called"
    assert AdministrationEvent.objects.get().alert_id == alert.pk


def test_an_esketamine_session_records_each_device_with_its_time(spraying, nurse):
    client = login(nurse)
    page = html(client.get(f"/sessions/{spraying.pk}/"))
    assert "Device 1 given" in page and "Pause the infusion" not in page
    first = post_event(client, spraying, page, kind="device", device_number="1",
                       at=local(minutes_ago(19), spraying), late_reason=LATE)
    assert first.status_code == 302
    page = client.get(first.url)
    words = text(page)
    assert "Device 1 given at" in words and "1 of 2" in words
    assert "Device 2 given" in words
    second = post_event(client, spraying, html(page), kind="device", device_number="2")
    words = text(client.get(second.url))
    assert "2 of 2" in words and "Device 3 given" not in words
    assert list(AdministrationEvent.objects.values_list("device_number", flat=True)) == [1, 2]


def test_a_role_that_may_not_record_a_dose_sees_where_it_stands_but_no_buttons(infusing,
                                                                              therapist):
    client = login(therapist)
    words = text(client.get(f"/sessions/{infusing.pk}/"))
    assert "Infusion" in words and "Running" in words
    assert "Pause the infusion" not in words and "Stop the infusion" not in words
    assert client.post(f"/sessions/{infusing.pk}/dose/events/",
                       {"kind": "pause", "reason": "x"}).status_code == 403
    assert not AdministrationEvent.objects.exists()


def test_another_clinics_session_is_not_found_for_the_dose_buttons(patient_b, other_clinician,
                                                                   nurse):
    eligible_and_consented(patient_b, other_clinician)
    theirs = session(patient_b, other_clinician)
    client = login(nurse)
    assert client.post(f"/sessions/{theirs.pk}/dose/events/",
                       {"kind": "pause", "reason": "x"}).status_code == 404
    assert client.post(f"/sessions/{theirs.pk}/alerts/1/pause/", {"note": "x"}).status_code == 404


def test_a_pause_taken_at_another_station_shows_in_the_next_poll_and_is_audited(infusing, nurse,
                                                                                prescriber):
    from kapclinic.audit.models import AuditEntry

    client = login(prescriber)
    first = html(client.get(f"/sessions/{infusing.pk}/live/"))
    seen = re.search(r"seen=([0-9a-f]+)", first).group(1)
    assert 'id="dose-pause"' in first
    actions.record_administration_event(infusing, kind="pause", at=minutes_ago(0), by=nurse,
                                        reason="Break")
    before = AuditEntry.objects.filter(action="read", object_type="session").count()
    polled = client.get(f"/sessions/{infusing.pk}/live/", {"seen": seen, "v": infusing.version})
    assert 'id="dose-pause"' not in html(polled) and 'id="dose-resume"' in html(polled)
    assert AuditEntry.objects.filter(action="read", object_type="session").count() == before + 1


def test_a_session_poll_costs_the_same_queries_with_and_without_dose_events(infusing, nurse,
                                                                           prescriber):
    client = login(prescriber)
    client.get(f"/sessions/{infusing.pk}/live/")
    with CaptureQueriesContext(connection) as quiet:
        client.get(f"/sessions/{infusing.pk}/live/")
    for minutes, kind in ((15, "pause"), (12, "resume"), (8, "pause"), (6, "resume")):
        actions.record_administration_event(infusing, kind=kind, at=minutes_ago(minutes), by=nurse,
                                            reason="Break", late_reason=LATE)
    with CaptureQueriesContext(connection) as busy:
        client.get(f"/sessions/{infusing.pk}/live/")
    assert len(busy) == len(quiet)


def test_another_patients_doses_do_not_appear_among_earlier_doses(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    other = new_patient(patient.clinic, prescriber, mrn="A-0077", family_name="Other")
    eligible_and_consented(other, prescriber)
    _earlier_session(other, prescriber, nurse, days=3, mg_per_kg=0.7, moaas=[2])
    today = cleared(patient, prescriber, nurse, start=25)
    words = text(login(prescriber).get(f"/sessions/{today.pk}/"))
    assert "0.7 mg/kg" not in words
    assert "No earlier dose is on record: this is the patient's first." in words


def test_a_first_esketamine_dose_from_65_is_planned_at_the_labels_28_mg(patient, prescriber, nurse):
    from datetime import date

    from kapclinic.patients.models import Patient
    from tests.conftest import set_directly
    from tests.treatment.helpers import ESKETAMINE, cleared, eligible_and_consented

    set_directly(Patient.objects.filter(pk=patient.pk), date_of_birth=date(1955, 3, 2))
    eligible_and_consented(patient, prescriber, drug="esketamine", route="intranasal")
    s = cleared(patient, prescriber, nurse, ESKETAMINE, start=10)
    html = login(nurse).get(f"/sessions/{s.pk}/").content.decode()
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    planned_row = page[page.index("Today planned"):][:80]
    assert "28 mg" in planned_row and "56 mg" not in planned_row


def test_the_models_populations_are_in_a_clinicians_words_not_a_developers(infusing, prescriber):
    words = text(login(prescriber).get(f"/sessions/{infusing.pk}/"))
    assert "source code" not in words.lower()
    assert "check the paper (Clements & Nimmo, Br J Anaesth 1981)" in words
    assert "which paper they come from is uncertain" in words
