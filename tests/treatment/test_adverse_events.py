"""Adverse events: recorded from a session or the chart, a serious one alerting the prescriber
and closed only after their review, an esketamine event's report to the REMS, retries that
record nothing twice, and the clinic's safety listing with rates per 100 sessions."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from kapclinic.alerts.models import Alert
from kapclinic.audit.models import AuditEntry, ImmutableError
from kapclinic.treatment import actions as treatment
from kapclinic.treatment import ae_actions, safety_listing
from kapclinic.treatment.ae_models import AdverseEvent, AdverseEventClosure
from kapclinic.treatment.errors import FieldError
from tests.conftest import login, set_directly
from tests.treatment.helpers import cleared, eligible_and_consented, minutes_ago

pytestmark = pytest.mark.django_db


def record(patient, by, *, key="k1", criteria=(), session=None, term="Nausea", **fields):
    return ae_actions.record_event(patient=patient, session=session, term=term,
                                   onset_at=minutes_ago(10), severity="moderate", grade=2,
                                   serious_criteria=list(criteria), key=key, by=by, **fields)


@pytest.fixture
def dosed(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    session = cleared(patient, prescriber, nurse, start=40)
    treatment.record_administration(session, at=minutes_ago(20), by=nurse, dose_mg_per_kg=0.5)
    return session


def test_a_non_serious_event_is_recorded_and_raises_no_alert(patient, nurse):
    event = record(patient, nurse, description="After the infusion")
    assert (event.term, event.severity, event.grade, event.serious) == ("Nausea", "moderate", 2, False)
    assert not Alert.objects.filter(source="adverse_events").exists()
    assert AuditEntry.objects.filter(action="create", object_type="adverse_event",
                                     patient_id=patient.pk).exists()


def test_a_serious_event_alerts_the_prescriber_and_waits_for_their_review_to_close(
        patient, nurse, prescriber):
    event = record(patient, nurse, term="Respiratory depression", criteria=["life_threatening"])
    alert = Alert.objects.get(source="adverse_events", record_id=event.pk)
    assert alert.priority == "urgent" and "is life-threatening" in alert.label
    with pytest.raises(FieldError, match="only after the prescriber's review"):
        ae_actions.close_event(event=event, outcome="Resolved", by=nurse)
    ae_actions.review_event(event=event, causality="Related", note="Bag-mask ventilation given",
                            by=prescriber)
    alert.refresh_from_db()
    assert alert.acknowledged_by == prescriber and "related" in alert.acknowledgement_note
    closure = ae_actions.close_event(event=event, outcome="Resolved", by=nurse)
    assert closure.outcome == "Resolved"
    assert ae_actions.close_event(event=event, outcome="Fatal", by=nurse) == closure  # a retry


def test_the_same_form_sent_twice_records_one_event(patient, nurse):
    first = record(patient, nurse, key="same")
    again = record(patient, nurse, key="same", term="Headache")
    assert first == again and AdverseEvent.objects.count() == 1


@pytest.mark.parametrize("fields, field", [
    ({"term": "Spontaneous combustion"}, "term"),
    ({"term": "Other (describe)"}, "description"),
    ({"criteria": ["felt bad"]}, "serious_criteria"),
    ({"action_taken": "Prayed"}, "action_taken"),
])
def test_what_is_not_on_the_clinics_lists_is_refused_naming_the_field(patient, nurse, fields, field):
    with pytest.raises(FieldError) as refused:
        record(patient, nurse, **fields)
    assert refused.value.field == field and not AdverseEvent.objects.exists()


def test_an_event_in_the_future_or_in_year_one_is_refused(patient, nurse):
    for when in (timezone.now() + timedelta(hours=1), timezone.now().replace(year=1)):
        with pytest.raises(FieldError, match="onset_at"):
            ae_actions.record_event(patient=patient, term="Nausea", onset_at=when, severity="mild",
                                    grade=1, serious_criteria=[], key=str(when), by=nurse)


def test_a_recorded_event_is_never_edited(patient, nurse):
    event = record(patient, nurse)
    with pytest.raises(ImmutableError):
        event.save()


def test_only_an_esketamine_event_is_reported_to_the_rems(patient, nurse, prescriber, dosed):
    event = record(patient, nurse, session=dosed)
    with pytest.raises(FieldError, match="only an event of an esketamine session"):
        ae_actions.report_to_rems(event=event, reported_on=timezone.localdate(), by=prescriber)


def test_the_clinic_may_use_its_own_causality_scale(patient, nurse, prescriber, clinic_a, clinic_admin):
    ae_actions.save_lists(clinic_id=clinic_a.pk, lists={"causality": ["Certain", "Probable", "Possible",
                                                                      "Unlikely"]}, by=clinic_admin)
    event = record(patient, nurse)
    with pytest.raises(FieldError, match="causality"):
        ae_actions.review_event(event=event, causality="Related", by=prescriber)
    assert ae_actions.review_event(event=event, causality="Probable", by=prescriber).causality == "Probable"


def test_the_safety_listing_gives_events_per_100_sessions_by_protocol_and_route(
        patient, nurse, dosed, clinic_a):
    record(patient, nurse, session=dosed, key="a")
    record(patient, nurse, session=dosed, key="b", term="Dizziness", criteria=["hospitalisation"])
    record(patient, nurse, key="c", term="Headache")  # from the chart, no session
    today = timezone.localdate(timezone.now(), clinic_a.zone)
    rows = safety_listing.listing(clinic_a.pk, today - timedelta(days=1), today, clinic_a.zone)
    iv, chart = rows
    assert (iv.route_label, iv.sessions, iv.events, iv.serious, iv.rate) == ("IV infusion", 1, 2, 1, 200)
    assert (chart.protocol_label, chart.sessions, chart.events, chart.rate) == (
        "Not in a session", 0, 1, None)


def test_a_serious_event_is_recorded_from_the_session_page_and_reviewed_by_the_prescriber(
        patient, nurse, prescriber, dosed):
    client = login(nurse)
    page = client.get(f"/sessions/{dosed.pk}/").content.decode()
    assert f"/sessions/{dosed.pk}/adverse-events/new/" in page
    response = client.post(f"/sessions/{dosed.pk}/adverse-events/new/", {
        "term": "Hypertension (blood pressure rise)", "onset_at": timezone.localtime(
            minutes_ago(5), patient.clinic.zone).strftime("%Y-%m-%dT%H:%M"),
        "severity": "severe", "grade": "3", "serious_criteria": ["important_medical_event"],
        "action_taken": "Infusion paused", "description": "BP 192/110", "form_token": "t-1"})
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AdverseEvent.objects.get()
    assert (event.session, event.reported_by, event.recorded_by) == (dosed, "session", nurse)
    page = client.get(f"/adverse-events/{event.pk}/").content.decode()
    assert "Waiting for the prescriber" in page and "Record the review" not in page
    reviewer = login(prescriber)
    response = reviewer.post(f"/adverse-events/{event.pk}/review/", {"causality": "Possibly related"})
    assert response.status_code == 302
    assert "Possibly related" in reviewer.get(f"/adverse-events/{event.pk}/").content.decode()
    assert client.post(f"/adverse-events/{event.pk}/close/", {"outcome": "Resolved"}).status_code == 302
    assert AdverseEventClosure.objects.get(event=event).closed_by == nurse


def test_a_nurse_cannot_review_and_the_admin_reads_the_listing_as_csv(patient, nurse, clinic_admin):
    event = record(patient, nurse, term="Headache")
    refused = login(nurse).post(f"/adverse-events/{event.pk}/review/", {"causality": "Related"})
    assert refused.status_code == 403
    response = login(clinic_admin).get("/adverse-events/", {"format": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["period_start", "period_end", "protocol", "route"]
    assert rows[1][2] == "Not in a session" and "Headache (1)" in rows[1][-1]


def test_another_clinics_event_does_not_exist(patient, nurse, other_clinician):
    event = record(patient, nurse)
    assert login(other_clinician).get(f"/adverse-events/{event.pk}/").status_code == 404


def yesterdays_session(patient, prescriber, nurse, *, ended=True):
    """A session dosed yesterday (about 26 hours ago), discharged unless ``ended`` is False."""
    from kapclinic.treatment.models import Session, State

    eligible_and_consented(patient, prescriber)
    session = cleared(patient, prescriber, nurse, start=60 * 26)
    treatment.record_administration(session, at=minutes_ago(60 * 26 - 10), by=nurse,
                                    dose_mg_per_kg=0.5, late_reason="entered next day")
    if ended:  # the walk to discharge is the session tests'; here only where it ended matters
        set_directly(Session.objects.filter(pk=session.pk), state=State.DISCHARGED)
    return Session.objects.get(pk=session.pk)


def test_the_day_after_a_session_the_patient_reports_effects_that_land_for_review(
        patient, prescriber, nurse, clinic_a):
    from kapclinic.treatment import after_session
    from kapclinic.treatment.ae_models import AfterSessionCheckIn

    session = yesterdays_session(patient, prescriber, nurse)
    assert after_session.sessions_to_ask(patient) == [session]
    after_session.answer(session=session, feeling="effects", effects=["Headache", "Nausea"],
                         severity="moderate", note="All evening", by=None)
    events = AdverseEvent.objects.filter(patient=patient, reported_by="patient").order_by("term")
    assert [(e.term, e.severity, e.grade, e.onset_at, e.description) for e in events] == [
        ("Headache", "moderate", None, None, "All evening"),
        ("Nausea", "moderate", None, None, "All evening")]
    alerts = Alert.objects.filter(source="adverse_events", kind="patient_reported_event")
    assert alerts.count() == 2 and {a.priority for a in alerts} == {"follow_up"}
    assert after_session.sessions_to_ask(patient) == []  # asked once
    again = after_session.answer(session=session, feeling="fine", effects=[], severity="", note="",
                                 by=None)
    assert again == AfterSessionCheckIn.objects.get() and events.count() == 2


def test_the_patient_answers_on_the_portal_and_another_patients_session_is_not_theirs(
        patient, prescriber, nurse, clinic_a):
    from kapclinic.patients.actions import grant_portal_login
    from kapclinic.treatment.ae_models import AfterSessionCheckIn

    session = yesterdays_session(patient, prescriber, nurse)
    grant_portal_login(patient=patient, username="clinic-a.ada", password_hash="unusable", by=prescriber)
    patient.refresh_from_db()
    client = login(patient.user)
    assert "How have you been since your session" in client.get("/portal/").content.decode()
    response = client.post("/portal/after-session/", {"session": session.pk, "feeling": "effects",
                                                      "effects": ["Dizziness"], "severity": "mild"})
    assert response.status_code == 302
    assert AdverseEvent.objects.get(reported_by="patient").term == "Dizziness"
    assert "How have you been since your session" not in client.get("/portal/").content.decode()
    assert AfterSessionCheckIn.objects.get().patient == patient


def test_a_patient_reporting_suicidal_thoughts_reaches_the_care_team_as_urgent_with_their_words(
        patient, prescriber, nurse):
    from kapclinic.treatment import after_session

    session = yesterdays_session(patient, prescriber, nurse)
    after_session.answer(session=session, feeling="effects", severity="moderate",
                         effects=["Suicidal thoughts or behaviour", "Nausea"],
                         note="I keep thinking about ending it", by=None)
    urgent = Alert.objects.get(priority="urgent", kind="patient_reported_event")
    assert "Suicidal thoughts" in urgent.label
    event = AdverseEvent.objects.get(pk=urgent.record_id)
    assert event.description == "I keep thinking about ending it"
    assert Alert.objects.filter(priority="follow_up", kind="patient_reported_event").count() == 1


def test_words_alone_from_a_patient_who_feels_fine_still_reach_the_care_team(patient, prescriber, nurse):
    from kapclinic.treatment import after_session

    session = yesterdays_session(patient, prescriber, nurse)
    after_session.answer(session=session, feeling="fine", effects=[], severity="",
                         note="Fine, but I hear voices since", by=None)
    alert = Alert.objects.get(kind="patient_note")
    assert alert.priority == "follow_up" and not AdverseEvent.objects.exists()
    page = login(prescriber).get(f"/patients/{patient.pk}/").content.decode()
    assert "Fine, but I hear voices since" in page


def test_the_portal_does_not_ask_about_a_session_that_has_not_ended(patient, prescriber, nurse):
    from kapclinic.treatment import after_session

    yesterdays_session(patient, prescriber, nurse, ended=False)
    assert after_session.sessions_to_ask(patient) == []


def test_a_grade_that_contradicts_the_seriousness_is_refused(patient, nurse):
    with pytest.raises(FieldError, match="grade 5 is death"):
        ae_actions.record_event(patient=patient, term="Sedation", onset_at=minutes_ago(5),
                                severity="severe", grade=5, serious_criteria=[], key="g5", by=nurse)
    with pytest.raises(FieldError, match="grade 4 is life-threatening"):
        ae_actions.record_event(patient=patient, term="Sedation", onset_at=minutes_ago(5),
                                severity="severe", grade=4, serious_criteria=[], key="g4", by=nurse)


def test_an_outcome_of_death_waits_for_the_prescribers_review(patient, nurse):
    event = record(patient, nurse)
    with pytest.raises(FieldError, match="outcome is death"):
        ae_actions.close_event(event=event, outcome="Fatal", by=nurse)


def test_a_serious_event_not_yet_reviewed_is_voided_only_by_the_prescriber(patient, nurse, prescriber):
    event = record(patient, nurse, term="Respiratory depression", criteria=["life_threatening"])
    with pytest.raises(FieldError, match="only by the prescriber"):
        ae_actions.mark_event_entered_in_error(event, reason="dup", by=nurse, role="nurse")
    assert ae_actions.mark_event_entered_in_error(event, reason="Recorded twice", by=prescriber,
                                                  role="prescriber")
    alert = Alert.objects.get(source="adverse_events", record_id=event.pk)
    assert alert.acknowledged_by == prescriber and "entered in error" in alert.acknowledgement_note
