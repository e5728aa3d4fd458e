"""The printable session record: everything the session recorded on one page (clinic, patient,
protocol and version, each step with its time and who recorded it, late entries with their
reasons, checklist answers, the dose in full, the vitals, alerts and acknowledgements, the
discharge), entries in error struck through with why (never hidden), a stopped session's
reason, an audited read, and another clinic's session a 404."""

from __future__ import annotations

import re

import pytest

from kapclinic.alerts.actions import acknowledge_alert
from kapclinic.audit.models import AuditEntry
from kapclinic.treatment import actions
from kapclinic.treatment.models import VitalReading
from tests.conftest import login
from tests.test_plain_words import developer_words, shown_text
from tests.treatment.helpers import LATE, cleared, eligible_and_consented, minutes_ago, step
from tests.treatment.test_rems_form import esketamine_session

pytestmark = pytest.mark.django_db


def url(session) -> str:
    return f"/sessions/{session.pk}/record/"


def text_of(page) -> str:
    assert page.status_code == 200, page.content[:300]
    return re.sub(r"\s+", " ", shown_text(page.content.decode()))


def test_the_record_shows_everything_an_esketamine_session_recorded(patient, prescriber, nurse):
    s = esketamine_session(patient, prescriber, nurse)
    page = login(prescriber).get(url(s))
    text = text_of(page)
    for shown in ("Clinic A", "Lovelace, Ada", "MRN A-0001", "Born 10 Dec 1985",
                  "Intranasal esketamine (Spravato)", "(version 1)",
                  # steps, who recorded them and the late-entry reason
                  "Checked in", "Cleared to dose", "Dosing", "Discharged", "Nina Nurse",
                  f"late: {LATE}",
                  # checklist answers
                  "Fasting confirmed", "70 kg", "To meet the grief with curiosity",
                  "Sedation resolved", "Clinician judged clinically stable to leave",
                  # the dose
                  "56 mg", "SPR-0042", "Within the protocol Yes",
                  # vitals
                  "136/86", "120/78",
                  # discharge
                  "Minimum observation 120 min from the start of the dose; observed 130 min"):
        assert shown in text, shown
    assert "No alerts were raised." in text
    assert developer_words(page.content.decode()) == []


def test_a_reading_entered_in_error_is_struck_through_with_its_reason_not_hidden(patient, prescriber,
                                                                                 nurse):
    s = esketamine_session(patient, prescriber, nurse)
    wrong = VitalReading.objects.filter(session=s, sbp_mmhg=136).get()
    actions.mark_vitals_entered_in_error(wrong, reason="Typed into the wrong chair's session", by=nurse)
    html = login(prescriber).get(url(s)).content.decode()
    row = re.search(r'<tr class="in-error">(.*?)</tr>', html, re.S)
    assert row is not None and "136" in row.group(1)  # still there, struck (CSS: .in-error)
    assert "Typed into the wrong chair&#x27;s session" in html
    assert "Entered in error" in shown_text(html)


def test_an_alert_and_its_acknowledgement_are_on_the_record(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=30)
    s = step(s, "dosing", minutes_ago(25), nurse, late_reason=LATE, administration={"dose_mg_per_kg": 0.5})
    low = actions.record_vitals(s, observed_at=minutes_ago(20), values={"spo2_pct": 89}, by=nurse,
                                late_reason=LATE)
    acknowledge_alert(alert=low.alerts[0], note="Chin lift, oxygen 2 L; SpO2 back to 97", by=nurse)
    actions.record_administration_event(s, kind="pause", at=minutes_ago(19), by=nurse,
                                        reason="Low oxygen saturation", late_reason=LATE)
    text = text_of(login(prescriber).get(url(s)))
    assert low.alerts[0].label in text
    assert "by Nina Nurse: Chin lift, oxygen 2 L; SpO2 back to 97" in text
    assert "Infusion paused" in text and "Low oxygen saturation" in text
    assert "35 mg · 0.5 mg/kg" in text and "70 kg, measured" in text


def test_a_stopped_session_says_why_it_ended(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=30)
    s = step(s, "dosing", minutes_ago(25), nurse, late_reason=LATE, administration={"dose_mg_per_kg": 0.5})
    s = step(s, "stopped", minutes_ago(20), nurse, late_reason=LATE, reason="Panic attack; infusion stopped")
    text = text_of(login(nurse).get(url(s)))
    assert "Stopped early: Panic attack; infusion stopped" in text
    assert re.search(r"Stopped \d+ \w+ \d{4}, \d\d:\d\d by Nina Nurse", text)


def test_a_cancelled_session_says_why_and_that_no_dose_was_given(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=30)
    s = step(s, "cancelled", minutes_ago(20), nurse, late_reason=LATE, reason="Blood pressure 168/104")
    text = text_of(login(nurse).get(url(s)))
    assert "Cancelled: Blood pressure 168/104" in text and "No dose recorded." in text


def test_a_checklist_answer_replaced_by_a_later_one_stays_on_the_record_marked(patient, prescriber,
                                                                               nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=30)
    actions.record_checklist(s, item="weight_today", answer="recorded", value=72, at=minutes_ago(10),
                             by=nurse)
    text = text_of(login(nurse).get(url(s)))
    assert "70 kg" in text and "72 kg" in text
    assert text.count("replaced by a later answer") == 1


def test_opening_the_record_is_audited_as_a_read_of_the_session(patient, prescriber, nurse, therapist):
    s = esketamine_session(patient, prescriber, nurse)
    login(therapist).get(url(s))
    entry = AuditEntry.objects.get(action="read", object_type="session", object_id=str(s.pk),
                                   actor_username="theo")
    assert entry.patient_id == patient.pk and '"view":"record"' in entry.detail_json


def test_another_clinics_session_record_is_a_404(patient, prescriber, nurse, other_clinician):
    s = esketamine_session(patient, prescriber, nurse)
    page = login(other_clinician).get(url(s))
    assert page.status_code == 404
    assert "Lovelace" not in page.content.decode()
    assert not AuditEntry.objects.filter(action="read", object_id=str(s.pk), actor_username="bob").exists()


def test_the_admin_who_reads_no_charts_cannot_open_a_session_record(patient, prescriber, nurse,
                                                                    clinic_admin):
    s = esketamine_session(patient, prescriber, nurse)
    assert login(clinic_admin).get(url(s)).status_code == 403


def test_the_record_is_read_in_a_fixed_number_of_queries(patient, prescriber, nurse,
                                                         django_assert_max_num_queries):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=60)
    s = step(s, "dosing", minutes_ago(40), nurse, late_reason=LATE, administration={"dose_mg_per_kg": 0.5})
    client = login(prescriber)
    client.get(url(s))  # sessions, middleware caches
    with django_assert_max_num_queries(30) as counted:
        client.get(url(s))
    before = len(counted.captured_queries)
    for n in range(10):
        actions.record_vitals(s, observed_at=minutes_ago(29 - n), values={"heart_rate_bpm": 70 + n},
                              by=nurse, late_reason=LATE)
    with django_assert_max_num_queries(before):
        client.get(url(s))
