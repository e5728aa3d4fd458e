"""Issue 12: each dose schedules the patient's depression questionnaire 24 h and 7 days after
it (clinic settings), sent by the worker when due, and the answer keeps the session it
follows up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from kapclinic.audit.models import AuditEntry
from kapclinic.measures import actions, anchoring, worker
from kapclinic.measures.models import DoseFollowUp, MeasureRequest, Response
from kapclinic.patients.models import Patient
from kapclinic.platform import extensions as ext
from kapclinic.treatment import actions as treatment
from tests.conftest import login, set_directly, stored_settings
from tests.outbox import delivered
from tests.test_measure_settings_forms import SETTINGS
from tests.treatment.helpers import cleared, eligible_and_consented, minutes_ago

pytestmark = pytest.mark.django_db

PHQ9_CALM = {f"item_{n}": "0" for n in range(1, 10)}


@pytest.fixture
def reachable(patient):
    set_directly(Patient.objects.filter(pk=patient.pk), email="ada@example.org", phone="555-0100")
    patient.refresh_from_db()
    return patient


@pytest.fixture
def dosed(reachable, prescriber, nurse):
    """A session whose dose (0.5 mg/kg IV) started 5 minutes ago."""
    eligible_and_consented(reachable, prescriber)
    session = cleared(reachable, prescriber, nurse, start=20)
    given = treatment.record_administration(session, at=minutes_ago(5), by=nurse,
                                            dose_mg_per_kg=0.5)
    return session, given


def test_a_dose_schedules_a_phq9_24_hours_and_7_days_after_it(dosed, nurse):
    session, given = dosed
    followups = {f.anchor: f for f in DoseFollowUp.objects.filter(session_id=session.pk)}
    assert {anchor: (f.instrument, f.due_at - given.started_at)
            for anchor, f in followups.items()} == {
        "hours": ("phq9", timedelta(hours=24)), "days": ("phq9", timedelta(days=7))}
    entries = AuditEntry.objects.filter(object_type="dose_follow_up", action="create")
    assert {e.actor_username for e in entries} == {nurse.username}  # who recorded the dose


def test_the_same_dose_reported_twice_schedules_its_follow_ups_once(dosed, reachable):
    session, _ = dosed
    [dose] = ext.doses_of([reachable.pk])[reachable.pk]
    ext.dose_given(reachable, dose)
    assert DoseFollowUp.objects.filter(session_id=session.pk).count() == 2


def test_the_clinic_sets_the_follow_up_times_and_0_turns_one_off(reachable, prescriber, nurse):
    stored_settings(reachable.clinic).update(followup_hours=48, followup_days=0)
    eligible_and_consented(reachable, prescriber)
    session = cleared(reachable, prescriber, nurse, start=20)
    given = treatment.record_administration(session, at=minutes_ago(5), by=nurse,
                                            dose_mg_per_kg=0.5)
    [followup] = DoseFollowUp.objects.all()
    assert followup.due_at - given.started_at == timedelta(hours=48)


def test_a_dose_recorded_after_its_24_hour_follow_up_was_due_does_not_send_it(reachable):
    two_days_ago = timezone.now() - timedelta(days=2)
    ext.dose_given(reachable, ext.Dose(
        patient_id=reachable.pk, session_id=991, course_id=None, protocol="iv_racemic_ketamine",
        protocol_label="IV racemic ketamine", drug="ketamine", route="iv-infusion", dose_mg=35.0,
        given_at=two_days_ago))
    late = DoseFollowUp.objects.get(anchor="hours")
    assert late.skipped_reason == anchoring.RECORDED_LATE
    assert DoseFollowUp.objects.get(anchor="days").skipped_at is None


def test_the_worker_sends_the_24_hour_follow_up_once_and_the_answer_keeps_its_session(dosed,
                                                                                     reachable):
    session, given = dosed
    next_day = given.started_at + timedelta(hours=24, minutes=1)
    first = worker.run_once(now=next_day, url="https://clinic.example")
    again = worker.run_once(now=next_day, url="https://clinic.example")
    assert (first.followups, again.followups) == (1, 0)
    request = MeasureRequest.objects.get()
    assert (request.instrument, request.session_id) == ("phq9", session.pk)
    assert DoseFollowUp.objects.get(anchor="days").sent_at is None  # day 7 not due yet
    body = delivered()[-1].body
    path = "/r/measure/" + body.split("/r/measure/", 1)[1].split("/", 1)[0] + "/"
    phone = Client()
    phone.get(path, follow=True)
    phone.post("/r/measure/", PHQ9_CALM)
    answered = Response.objects.get()
    assert (answered.source, answered.session_id) == ("link", session.pk)


def test_a_follow_up_whose_dose_is_no_longer_on_record_is_not_sent(dosed):
    session, given = dosed
    with ext.registrations_undone():
        ext.register(ext.DoseRecords("treatment", lambda ids: {}))  # the dose was withdrawn
        report = worker.run_once(now=given.started_at + timedelta(days=2),
                                 url="https://clinic.example")
    assert report.followups == 0 and not MeasureRequest.objects.exists()
    assert DoseFollowUp.objects.get(anchor="hours").skipped_reason == anchoring.DOSE_WITHDRAWN


def test_a_patient_with_no_email_or_phone_keeps_the_follow_up_due(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    session = cleared(patient, prescriber, nurse, start=20)
    given = treatment.record_administration(session, at=minutes_ago(5), by=nurse,
                                            dose_mg_per_kg=0.5)
    report = worker.run_once(now=given.started_at + timedelta(days=2), url="https://x.example")
    assert report.followups == 0
    waiting = DoseFollowUp.objects.get(anchor="hours")
    assert waiting.sent_at is None and waiting.skipped_at is None


def test_the_measures_page_lists_the_follow_ups_of_the_latest_doses(dosed, nurse, reachable):
    page = login(nurse).get(f"/patients/{reachable.pk}/measures/")
    text = page.content.decode()
    assert "After each dose" in text
    assert "PHQ-9</strong> 24 h after the dose" in text
    assert "PHQ-9</strong> 7 days after the dose" in text


def test_the_settings_page_saves_the_follow_up_times_within_their_bounds(clinic_admin,
                                                                          clinic_a):
    client = login(clinic_admin)
    refused = client.post("/clinic/measures/", {**SETTINGS, "followup_hours": "100"})
    assert refused.status_code == 422
    assert refused.context["form"].errors["followup_hours"] == ["Between 0 and 72 hours."]
    saved = client.post("/clinic/measures/", {**SETTINGS, "followup_hours": "12",
                                              "followup_days": "14"})
    assert saved.status_code == 302
    clinic_settings = actions.settings_for(clinic_a)
    assert (clinic_settings.followup_hours, clinic_settings.followup_days) == (12, 14)


def test_an_older_settings_form_without_the_follow_up_times_keeps_them(clinic_admin, clinic_a):
    stored_settings(clinic_a).update(followup_hours=36)
    assert login(clinic_admin).post("/clinic/measures/", SETTINGS).status_code == 302
    assert actions.settings_for(clinic_a).followup_hours == 36


def test_the_dashboard_lists_a_follow_up_a_day_overdue_for_want_of_an_email_or_phone(
        patient, prescriber, nurse):
    ext.dose_given(patient, ext.Dose(
        patient_id=patient.pk, session_id=992, course_id=None, protocol="iv_racemic_ketamine",
        protocol_label="IV racemic ketamine", drug="ketamine", route="iv-infusion", dose_mg=35.0,
        given_at=timezone.now() - timedelta(minutes=5)))
    set_directly(DoseFollowUp.objects.filter(anchor="hours"),
                 due_at=timezone.now() - timedelta(days=2))
    [waiting] = login(nurse).get("/dashboard/").context["waiting"]
    assert (waiting.patient, waiting.anchor) == (patient, "hours")
    assert AuditEntry.objects.filter(object_type="dose_follow_up", action="list").exists()
