"""Measurement-based care in the app: entry, self-report links, alerts, the worker (issue 3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from kapclinic.alerts import escalation
from kapclinic.alerts.models import Alert, OutboxMessage
from kapclinic.audit.actions import writing_directly
from kapclinic.audit.models import AuditEntry
from kapclinic.measures import actions, worker
from kapclinic.measures.models import MeasureRequest, Response, Schedule
from kapclinic.patients.models import Patient
from tests.conftest import login, set_directly, stored_settings
from tests.outbox import delivered

PHQ9_CALM = {f"item_{n}": "0" for n in range(1, 10)}
PHQ9_ITEM9 = {**PHQ9_CALM, "item_1": "2", "item_2": "2", "item_9": "1"}


@pytest.fixture
def reachable(patient):
    set_directly(Patient.objects.filter(pk=patient.pk), email="ada@example.org", phone="555-0100")
    patient.refresh_from_db()
    return patient


def test_a_clinician_enters_a_phq9_and_it_is_scored_by_the_core(nurse, patient):
    response = login(nurse).post(f"/patients/{patient.pk}/measures/new/phq9/",
                                 {**PHQ9_CALM, "item_1": "3", "item_2": "2"})
    assert response.status_code == 302
    stored = Response.objects.get()
    assert (stored.total, stored.severity, stored.flags) == (5.0, "mild", [])
    assert stored.entered_by == nurse and stored.source == "clinic"
    assert AuditEntry.objects.filter(object_type="response", action="create").exists()


def test_a_missing_required_item_is_refused_naming_it(nurse, patient):
    answers = dict(PHQ9_CALM)
    del answers["item_4"]
    response = login(nurse).post(f"/patients/{patient.pk}/measures/new/phq9/", answers)
    assert response.status_code == 422 and "item_4" in response.context["form"].errors
    assert not Response.objects.exists()


def test_an_out_of_range_answer_is_refused(nurse, patient):
    response = login(nurse).post(f"/patients/{patient.pk}/measures/new/phq9/",
                                 {**PHQ9_CALM, "item_3": "7"})
    assert response.status_code == 422 and "item_3" in response.context["form"].errors


def test_a_positive_item_9_raises_an_urgent_alert_that_stays_until_acknowledged(nurse, patient):
    client = login(nurse)
    client.post(f"/patients/{patient.pk}/measures/new/phq9/", PHQ9_ITEM9)
    alert = Alert.objects.get()
    assert alert.kind == "suicidal_ideation" and alert.acknowledged_at is None
    page = client.get("/alerts/")
    assert patient.mrn.encode() in page.content
    client.post(f"/alerts/{alert.pk}/acknowledge/", {"note": ""})
    alert.refresh_from_db()
    assert alert.acknowledged_at is None  # a note is required
    client.post(f"/alerts/{alert.pk}/acknowledge/", {"note": "Phoned; safety plan reviewed"})
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse and alert.acknowledgement_note.startswith("Phoned")
    assert patient.mrn.encode() not in client.get("/alerts/").content


def test_another_clinics_alert_cannot_be_acknowledged(other_clinician, nurse, patient):
    login(nurse).post(f"/patients/{patient.pk}/measures/new/phq9/", PHQ9_ITEM9)
    alert = Alert.objects.get()
    response = login(other_clinician).post(f"/alerts/{alert.pk}/acknowledge/", {"note": "x"})
    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def self_report_path() -> str:
    body = delivered()[-1].body  # what the patient received; the outbox keeps no token
    return "/r/measure/" + body.split("/r/measure/", 1)[1].split("/", 1)[0] + "/"


def test_a_self_report_link_is_emailed_answered_without_login_and_closed(nurse, reachable):
    login(nurse).post(f"/patients/{reachable.pk}/measures/send/", {"instrument": "phq9"})
    assert len(delivered()) == 1 and delivered()[0].to == ["ada@example.org"]
    assert OutboxMessage.objects.filter(channel="sms", to="555-0100").exists()
    path = self_report_path()
    stored = OutboxMessage.objects.get(channel="email").body
    assert path.split("/")[3] not in stored and "[link token not stored]" in stored
    patient_browser = Client()
    assert patient_browser.get(path, follow=True).status_code == 200
    done = patient_browser.post("/r/measure/", PHQ9_CALM)
    assert b"Your answers are with the clinic" in done.content
    stored = Response.objects.get()
    assert stored.source == "link" and stored.entered_by is None
    again = patient_browser.get(path)  # single use: the answers are not asked for again
    assert b"This link is closed" in again.content and b"item_1" not in again.content
    patient_browser.post(path, PHQ9_CALM)
    assert Response.objects.count() == 1


def test_a_crisis_answer_shows_the_clinics_crisis_text_at_once(nurse, reachable):
    stored_settings(reachable.clinic_id).update(crisis_text="Call 988 now.")
    login(nurse).post(f"/patients/{reachable.pk}/measures/send/", {"instrument": "phq9"})
    path, phone = self_report_path(), Client()
    page = phone.post(path, PHQ9_ITEM9)
    assert b"Call 988 now." in page.content
    assert Alert.objects.filter(kind="suicidal_ideation", patient=reachable).exists()
    double_tap = phone.post(path, PHQ9_ITEM9)
    assert b"Call 988 now." in double_tap.content  # the second tap shows the help again
    assert Response.objects.count() == 1


def test_the_default_schedule_adds_the_clinics_ptsd_set_for_ptsd_but_never_the_pcl5_link(
        prescriber, reachable):
    # the PCL-5's questions are not shipped: a link would show the patient numbered items
    from kapclinic.patients.actions import add_condition

    add_condition(patient=reachable, code="F43.10", by=prescriber)
    clinic_settings = actions.settings_for(reachable.clinic_id)
    clinic_settings.ptsd_instruments = "gad2,pcl5"  # pcl5 saved before it was refused
    clinic_settings.save()
    made = actions.start_default_schedule(patient=reachable, by=prescriber)
    assert sorted(s.instrument for s in made) == ["gad2", "gad7", "phq9"]


def test_the_worker_sends_each_due_questionnaire_once_even_run_twice(prescriber, reachable):
    actions.start_default_schedule(patient=reachable, by=prescriber,
                                   first_due=timezone.now() - timedelta(minutes=1))
    first = worker.run_once(url="https://clinic.example")
    second = worker.run_once(url="https://clinic.example")
    assert (first.sent, second.sent) == (2, 0)
    assert MeasureRequest.objects.count() == 2
    schedule = Schedule.objects.get(instrument="phq9")
    assert schedule.next_due_at > timezone.now() + timedelta(days=6)


def test_two_workers_racing_on_one_due_slot_send_it_once(prescriber, reachable):
    due = timezone.now() - timedelta(minutes=1)
    actions.start_default_schedule(patient=reachable, by=prescriber, first_due=due)
    schedule = Schedule.objects.get(instrument="phq9")
    assert actions.claim_due_schedule(schedule.pk, due) is True
    assert actions.claim_due_schedule(schedule.pk, due) is False  # the slower worker


def test_an_unacknowledged_alert_escalates_to_the_clinic_admin_once(nurse, clinic_admin, patient):
    clinic_admin.email = "admin@example.org"
    clinic_admin.save()
    nurse.email = "nina@example.org"
    nurse.save()
    login(nurse).post(f"/patients/{patient.pk}/measures/new/phq9/", PHQ9_ITEM9)
    later = timezone.now() + timedelta(minutes=61)
    assert worker.run_once(now=later).escalated == 1
    assert worker.run_once(now=later).escalated == 0
    assert Alert.objects.get().escalated_at is not None
    detailed = [m for m in delivered() if m.subject == "Unacknowledged urgent alert"]
    assert [m.to for m in detailed] == [["nina@example.org"]]  # a nurse who can act on it
    notice = [m for m in delivered() if m.subject == "Alert escalated"]
    assert notice[0].to == ["admin@example.org"] and reachable_mrn(patient) in notice[0].body


def test_a_reminder_goes_once_a_day_after_an_unanswered_link(nurse, reachable):
    login(nurse).post(f"/patients/{reachable.pk}/measures/send/", {"instrument": "gad7"})
    tomorrow = timezone.now() + timedelta(days=1, minutes=1)
    assert worker.run_once(now=tomorrow).reminded == 1
    assert worker.run_once(now=tomorrow).reminded == 0


def test_the_chart_and_measures_page_show_the_trajectory(nurse, patient):
    client = login(nurse)
    for first in ("3", "2", "1"):
        client.post(f"/patients/{patient.pk}/measures/new/phq9/", {**PHQ9_CALM, "item_1": first})
    page = client.get(f"/patients/{patient.pk}/measures/")
    assert page.content.count(b'class="dot') == 3 and b"None/minimal" in page.content
    chart = client.get(f"/patients/{patient.pk}/")
    assert b"<strong>PHQ-9</strong>" in chart.content


def test_the_admin_reads_the_outbox(nurse, clinic_admin, reachable):
    login(nurse).post(f"/patients/{reachable.pk}/measures/send/", {"instrument": "phq9"})
    page = login(clinic_admin).get("/clinic/outbox/")
    assert b"ada@example.org" in page.content


def test_the_patient_answers_a_due_questionnaire_in_the_portal_and_sees_their_trajectory(
        clinic_a, nurse, reachable):
    from kapclinic.accounts.models import Membership, User
    from kapclinic.accounts.roles import Role

    user = User.objects.create_user("ada", password="x" * 12)
    Membership.objects.create(user=user, clinic=clinic_a, role=Role.PATIENT)
    set_directly(Patient.objects.filter(pk=reachable.pk), user=user)
    login(nurse).post(f"/patients/{reachable.pk}/measures/send/", {"instrument": "phq9"})
    client = login(user)
    portal = client.get("/portal/")
    request = MeasureRequest.objects.get()
    assert f"/portal/measures/{request.pk}/".encode() in portal.content
    client.post(f"/portal/measures/{request.pk}/", {**PHQ9_CALM, "item_1": "2"})
    stored = Response.objects.get()
    assert stored.source == "portal" and stored.entered_by == user
    assert client.get(f"/portal/measures/{request.pk}/").status_code == 404  # answered
    assert b'class="dot' in client.get("/portal/").content


def reachable_mrn(patient) -> str:
    return patient.mrn


def test_the_admin_sets_the_crisis_text_and_escalation_time(clinic_admin, clinic_a):
    client = login(clinic_admin)
    bad = client.post("/clinic/measures/", {
        "crisis_text": "Call the clinic line.", "escalation_minutes": "0", "link_days": "3",
        "default_instruments": "phq9,nonsense", "ptsd_instruments": "",
        "default_interval_days": "7", "qids_suicide_item_threshold": "3",
        "madrs_suicide_item_threshold": "4", "version": "1"})
    assert bad.status_code == 422
    assert set(bad.context["form"].errors) == {"escalation_minutes", "default_instruments",
                                               "qids_suicide_item_threshold"}
    client.post("/clinic/measures/", {
        "crisis_text": "Call the clinic line.", "escalation_minutes": "30", "link_days": "3",
        "default_instruments": "phq9, gad7", "ptsd_instruments": "",
        "default_interval_days": "7", "qids_suicide_item_threshold": "2",
        "madrs_suicide_item_threshold": "4", "version": "1"})
    saved = actions.settings_for(clinic_a)
    assert (saved.crisis_text, saved.escalation_minutes, saved.default_instruments) == (
        "Call the clinic line.", 30, "phq9,gad7")


def test_an_old_alert_escalates_even_behind_many_new_ones(nurse, patient, clinic_admin):
    login(nurse).post(f"/patients/{patient.pk}/measures/new/phq9/", PHQ9_ITEM9)
    old = Alert.objects.get()
    set_directly(Alert.objects.filter(pk=old.pk), raised_at=timezone.now() - timedelta(hours=5))
    recorded = actions.record_response(patient=patient, instrument="phq9", source="clinic",
                                       by=nurse, answers={str(n): 1 for n in range(1, 10)})
    for n in range(3):
        with writing_directly("test setup: newer alerts than the old one"):
            Alert.objects.create(clinic=patient.clinic, patient=patient, source="measures",
                                 kind=f"x{n}", record_type="measures.response",
                                 record_id=recorded.response.pk, label="new")
    monkey_batch = escalation.BATCH
    escalation.BATCH = 2
    try:
        assert worker.run_once().escalated == 1
    finally:
        escalation.BATCH = monkey_batch
    old.refresh_from_db()
    assert old.escalated_at is not None


def test_a_second_acknowledgement_says_the_first_stands(nurse, prescriber, patient):
    login(nurse).post(f"/patients/{patient.pk}/measures/new/phq9/", PHQ9_ITEM9)
    alert = Alert.objects.get()
    login(nurse).post(f"/alerts/{alert.pk}/acknowledge/", {"note": "Called"})
    late = login(prescriber).post(f"/alerts/{alert.pk}/acknowledge/", {"note": "Me too"},
                                  follow=True)
    assert b"your note was not saved" in late.content
    alert.refresh_from_db()
    assert alert.acknowledgement_note == "Called"


def test_acknowledging_never_redirects_off_site(nurse, patient):
    login(nurse).post(f"/patients/{patient.pk}/measures/new/phq9/", PHQ9_ITEM9)
    alert = Alert.objects.get()
    response = login(nurse).post(f"/alerts/{alert.pk}/acknowledge/",
                                 {"note": "ok", "next": "https://evil.example/"})
    assert response["Location"] == "/alerts/"


def test_the_worker_does_not_advance_a_schedule_it_cannot_send(prescriber, patient):
    actions.start_default_schedule(patient=patient, by=prescriber,
                                   first_due=timezone.now() - timedelta(minutes=1))
    assert worker.run_once().sent == 0  # no email, no phone
    assert Schedule.objects.filter(next_due_at__lt=timezone.now()).count() == 2


def test_health_records_refuse_deletion(nurse, patient):
    from kapclinic.audit.models import ImmutableError

    login(nurse).post(f"/patients/{patient.pk}/measures/new/phq9/", PHQ9_ITEM9)
    for queryset in (Response.objects.all(), Alert.objects.all()):
        with pytest.raises(ImmutableError):
            queryset.delete()


def test_a_discharged_patient_is_sent_nothing_and_not_chased(prescriber, nurse, reachable):
    actions.start_default_schedule(patient=reachable, by=prescriber,
                                   first_due=timezone.now() - timedelta(days=3))
    set_directly(Patient.objects.filter(pk=reachable.pk), status="discharged")
    assert worker.run_once(url="https://clinic.example").sent == 0
    assert not delivered()
    dashboard = login(nurse).get("/dashboard/")
    assert dashboard.context["late"] == []
    page = login(nurse).get(f"/patients/{reachable.pk}/measures/")
    assert b"not sent: discharged" in page.content


def test_a_schedule_is_paused_and_resumed_from_the_measures_page(prescriber, nurse, reachable):
    actions.start_default_schedule(patient=reachable, by=prescriber,
                                   first_due=timezone.now() - timedelta(minutes=1))
    phq9 = Schedule.objects.get(patient=reachable, instrument="phq9")
    client = login(nurse)
    paused = client.post(f"/patients/{reachable.pk}/measures/schedules/{phq9.pk}/",
                         {"active": "0"}, follow=True)
    assert b"PHQ-9 questionnaires paused" in paused.content
    assert worker.run_once(url="https://clinic.example").sent == 1  # GAD-7 only
    assert not MeasureRequest.objects.filter(instrument="phq9").exists()
    client.post(f"/patients/{reachable.pk}/measures/schedules/{phq9.pk}/", {"active": "1"})
    assert worker.run_once(url="https://clinic.example").sent == 1
    assert AuditEntry.objects.filter(object_type="schedule", object_id=str(phq9.pk),
                                     action="update", actor_username=nurse.username).count() == 2


def test_another_clinics_schedule_cannot_be_paused(other_clinician, prescriber, reachable):
    actions.start_default_schedule(patient=reachable, by=prescriber)
    phq9 = Schedule.objects.get(patient=reachable, instrument="phq9")
    page = login(other_clinician).post(
        f"/patients/{reachable.pk}/measures/schedules/{phq9.pk}/", {"active": "0"})
    assert page.status_code == 404
    phq9.refresh_from_db()
    assert phq9.active


def test_a_second_tap_shows_the_crisis_help_for_a_risk_that_could_not_be_ruled_out(nurse,
                                                                                   reachable):
    # a clinic may put the screener in its default schedule: the worker sends it like this
    actions.send_request(patient=reachable, instrument="cssrs_screener", due_at=timezone.now(),
                         base_url="http://testserver")
    path, phone = self_report_path(), Client()
    gaps = {"item_1": "1", "item_2": "1", "item_6": "0"}  # items 3-5 left empty
    first = phone.post(path, gaps)
    assert Alert.objects.get(patient=reachable).kind == "suicide_risk_high"
    assert not Response.objects.get().flags  # only "could not be ruled out"
    second = phone.post(path, gaps)
    assert first.templates[0].name == second.templates[0].name == "measures/crisis.html"


def test_times_are_checked_where_records_are_written_not_only_in_forms(prescriber, patient):
    later = timezone.now() + timedelta(days=1)
    with pytest.raises(actions.WhenError, match="in the future") as caught:
        actions.record_response(patient=patient, instrument="phq9", source="clinic",
                                by=prescriber, answers={str(n): 0 for n in range(1, 10)}, taken_at=later)
    assert caught.value.field == "taken_at"
    with pytest.raises(actions.WhenError, match="in the future"):
        actions.record_clinical_event(patient=patient, kind="suicide_attempt", note="x",
                                      occurred_at=later, by=prescriber)
    assert not Response.objects.exists()


def test_a_link_is_not_made_for_a_patient_nobody_can_reach(nurse, prescriber, patient):
    with pytest.raises(actions.Unreachable):
        actions.send_request(patient=patient, instrument="phq9", due_at=timezone.now(),
                             base_url="http://testserver", by=prescriber)
    page = login(nurse).post(f"/patients/{patient.pk}/measures/send/", {"instrument": "phq9"},
                             follow=True)
    assert b"no email or phone on record" in page.content
    assert not MeasureRequest.objects.exists()


def test_the_measures_page_says_how_long_each_questionnaire_is_and_who_fills_it_in(nurse, patient):
    page = login(nurse).get(f"/patients/{patient.pk}/measures/").content.decode()
    assert "9 items, filled in by the patient" in page or "10 items, filled in by the patient" in page
    assert " items, unspecified" not in page and "1 items" not in page


def test_the_portal_shows_the_patient_their_scores_without_the_care_teams_alerts(clinic_a, nurse, reachable):
    """An outside review: the portal's table showed the patient the care team's alert on their
    suicide item; crisis resources reach them when they answer, the alert is the team's."""
    from kapclinic.accounts.models import Membership, User
    from kapclinic.accounts.roles import Role

    user = User.objects.create_user("ada", password="x" * 12)
    Membership.objects.create(user=user, clinic=clinic_a, role=Role.PATIENT)
    set_directly(Patient.objects.filter(pk=reachable.pk), user=user)
    login(nurse).post(f"/patients/{reachable.pk}/measures/send/", {"instrument": "phq9"})
    client = login(user)
    request = MeasureRequest.objects.get()
    answered = client.post(f"/portal/measures/{request.pk}/", {**PHQ9_CALM, "item_9": "2"})
    assert b"Help is available now" in answered.content
    portal = client.get("/portal/").content.decode()
    team = login(nurse).get(f"/patients/{reachable.pk}/measures/").content.decode()
    assert "How you have been" in portal and '<th scope="col">Alerts</th>' not in portal
    assert '<th scope="col">Alerts</th>' in team and "severity-exclude" in team
