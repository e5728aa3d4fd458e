"""A clinician's review of the questionnaires, as staff meet it in the app: a C-SSRS level
that a missing answer leaves open shows the level it is at least and what to ask; answers
to C-SSRS questions that were not asked are refused, not scored; a partial BPRS+ total is
marked and kept off the trend chart; self-report links only for questionnaires a patient
can read; readable audit labels; settings errors in plain words."""

from __future__ import annotations

from django.utils.html import strip_tags

from kapclinic.alerts.models import Alert
from kapclinic.audit import trail
from kapclinic.measures import actions
from kapclinic.measures.forms import MeasureSettingsForm, SendForm
from kapclinic.measures.models import MeasureRequest, Response, Schedule
from kapclinic.measures.views import trajectories
from tests.conftest import login
from tests.outbox import delivered
from tests.test_api import Api, problem_fields
from tests.test_measures import reachable  # noqa: F401 (fixture)

BEHAVIOUR_WHEN_UNKNOWN = {"item_1": "0", "item_2": "0", "item_6": "1"}
FLOOR = "At least Moderate risk; High risk not ruled out: ask question 6b"
BPRS = ("conceptual_disorganisation", "hallucinatory_behaviour", "suspiciousness",
        "unusual_thought_content")


def shown(page) -> str:
    return " ".join(strip_tags(page.content.decode()).split())


# ---- 1a: the C-SSRS floor on the measures page and the chart -----------------------------

def test_a_cssrs_with_behaviour_but_not_its_timing_shows_at_least_moderate_and_what_to_ask(
        nurse, patient):
    client = login(nurse)
    saved = client.post(f"/patients/{patient.pk}/measures/new/cssrs_screener/",
                        BEHAVIOUR_WHEN_UNKNOWN, follow=True)
    assert saved.status_code == 200
    # the urgent "could not be ruled out" alert stays
    assert Alert.objects.filter(patient=patient, kind="suicide_risk_high",
                                priority="urgent").exists()
    assert FLOOR in shown(client.get(f"/patients/{patient.pk}/measures/"))
    chart = shown(client.get(f"/patients/{patient.pk}/"))
    assert FLOOR in chart and "C-SSRS screener (no total)" not in chart


# ---- 1b: answers to questions that were not asked ---------------------------------------

def test_the_cssrs_entry_form_refuses_an_answer_to_a_question_not_asked_and_says_what_to_fix(
        nurse, patient):
    page = login(nurse).post(f"/patients/{patient.pk}/measures/new/cssrs_screener/", {
        "item_1": "0", "item_2": "0", "item_3": "0", "item_4": "0", "item_5": "1",
        "item_6": "0"})
    assert page.status_code == 422 and not Response.objects.exists()
    text = shown(page)
    assert "Question 5 is answered Yes but was not asked" in text
    assert "Correct question 2, or clear the answer to question 5" in text
    assert "cssrs_screener" not in text


def test_the_cssrs_entry_form_refuses_a_timing_answer_when_there_was_no_behaviour(
        nurse, patient):
    page = login(nurse).post(f"/patients/{patient.pk}/measures/new/cssrs_screener/", {
        "item_1": "0", "item_2": "0", "item_6": "0", "item_6b": "1"})
    assert page.status_code == 422 and not Response.objects.exists()
    assert "Correct question 6, or clear the answer to question 6b" in shown(page)


def test_the_api_refuses_a_cssrs_answer_to_a_question_not_asked_naming_it(nurse, patient):
    body = {"instrument": "cssrs_screener",
            "answers": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1, "6": 0}}
    refused = Api(nurse).call("POST", f"/patients/{patient.pk}/responses", body)
    assert refused.status_code == 422 and "answers.3" in problem_fields(refused)
    assert not Response.objects.exists()


# ---- 2: a partial BPRS+ total ------------------------------------------------------------

def test_a_partial_bprs_total_is_marked_and_kept_off_the_trend_chart(nurse, patient):
    full = dict.fromkeys(BPRS, 1)
    partial = {**dict.fromkeys(BPRS, 0), "conceptual_disorganisation": 4}
    for answers in (full, partial):
        actions.record_response(patient=patient, instrument="bprs_pos4", answers=answers,
                                source="clinic", by=nurse)
    stored = Response.objects.get(answers=partial)
    assert stored.result["partial"] is True
    [chart] = trajectories(list(Response.objects.filter(patient=patient)))
    assert [m.value for m in chart["chart"].markers] == [4.0]  # the full one only
    page = shown(login(nurse).get(f"/patients/{patient.pk}/measures/"))
    assert "partial: 1 of 4 items rated" in page


# ---- 4: self-report links only for questionnaires a patient can read --------------------

def test_only_self_report_questionnaires_with_shipped_wording_can_be_sent_as_links():
    offered = {value for value, _ in SendForm().fields["instrument"].choices}
    assert {"phq9", "gad7", "phq2", "gad2", "audit_c"} <= offered
    assert not offered & {"pcl5", "qids_sr16", "madrs", "cadss", "cadss6", "moaas", "audit"}


def test_sending_a_pcl5_link_is_refused_and_the_page_says_why_in_plain_words(
        nurse, reachable):  # noqa: F811
    client = login(nurse)
    client.post(f"/patients/{reachable.pk}/measures/send/", {"instrument": "pcl5"})
    assert not MeasureRequest.objects.exists() and not delivered()
    page = shown(client.get(f"/patients/{reachable.pk}/measures/"))
    assert "PCL-5" in page and "only numbered items" in page and "Enter in clinic" in page


def test_the_default_schedule_refuses_questionnaires_a_patient_cannot_read(clinic_admin,
                                                                            clinic_a):
    form = MeasureSettingsForm({
        "crisis_text": "Call the clinic line.", "escalation_minutes": "30", "link_days": "3",
        "default_instruments": "phq9,madrs", "ptsd_instruments": "pcl5",
        "default_interval_days": "7", "qids_suicide_item_threshold": "1",
        "madrs_suicide_item_threshold": "4", "version": "1"},
        instance=actions.settings_for(clinic_a))
    assert not form.is_valid()
    assert "MADRS" in form.errors["default_instruments"][0]
    assert "PCL-5" in form.errors["ptsd_instruments"][0]
    assert "madrs" not in form.errors["default_instruments"][0]


def test_a_new_clinics_schedule_sends_no_questionnaire_without_shipped_wording(
        nurse, patient):
    settings = actions.settings_for(patient.clinic_id)
    assert "pcl5" not in settings.ptsd_instruments
    settings.default_instruments = "phq9,pcl5"  # stored before the rule
    settings.save()
    actions.start_default_schedule(patient=patient, by=nurse)
    assert list(Schedule.objects.values_list("instrument", flat=True)) == ["phq9"]


# ---- 5: the audit page in words ----------------------------------------------------------

def test_the_audit_page_shows_readable_actions_and_records_and_still_filters_by_them(
        clinic_admin, clinic_a, patient):
    trail.record("login_failed", object_type="user", object_id=1, clinic_id=clinic_a.pk)
    trail.record("create", object_type="clinical_event", object_id=7, clinic_id=clinic_a.pk)
    client = login(clinic_admin)
    page = shown(client.get("/audit/"))
    assert "Failed login" in page and "Clinical event 7" in page
    assert "login_failed" not in page and "clinical_event" not in page
    filtered = client.get("/audit/", {"action": "login_failed"})
    assert filtered.status_code == 200
    assert {e.action for e in filtered.context["page"]} == {"login_failed"}


# ---- 6: settings errors in plain words ---------------------------------------------------

def test_a_threshold_the_definition_does_not_allow_is_refused_in_plain_words(clinic_a):
    form = MeasureSettingsForm({
        "crisis_text": "Call the clinic line.", "escalation_minutes": "30", "link_days": "3",
        "default_instruments": "phq9", "ptsd_instruments": "",
        "default_interval_days": "7", "qids_suicide_item_threshold": "3",
        "madrs_suicide_item_threshold": "4", "version": "1"},
        instance=actions.settings_for(clinic_a))
    assert not form.is_valid()
    message = form.errors["qids_suicide_item_threshold"][0]
    assert message == "Choose one of 1, 2 (the clinic default is 1)." and "clinical.md" not in message
    assert "[policy]" not in message
