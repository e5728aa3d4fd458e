"""The clinic's outcome rules, events that define relapse, and corrections (issue 3)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from kapclinic.audit.models import AuditEntry
from kapclinic.clinical import instruments, outcomes
from kapclinic.measures import actions, worker
from kapclinic.measures import outcomes as outcome_snapshots
from kapclinic.measures.models import ClinicalEvent, MeasureSettings, OutcomeSnapshot, Response
from kapclinic.patients.actions import add_condition
from tests.conftest import login, new_patient, set_directly, stored_settings
from tests.test_outcomes_dashboard import WEEK, record_series

RULES_PAGE = "/clinic/outcomes/"


def rules_form(**changes) -> dict:
    """The outcome rules form as the page posts it, with the defaults and ``changes``."""
    data = {"relapse_after": "response_or_remission", "relapse_date": "first_of_run",
            "fading_fraction": "0.5", "madrs_remission_max": "10"}
    for instrument in ("phq9", "gad7", "qids_sr16", "pcl5"):
        data[f"relapse_{instrument}_consecutive"] = "2"
    data.update({k: str(v) for k, v in changes.items()})
    return data


@pytest.fixture
def treated(clinic_a, prescriber):
    patient = new_patient(clinic_a, prescriber, mrn="A-R1", family_name="Rules")
    add_condition(patient=patient, code="F33.2", by=prescriber)
    return patient


def snapshot(patient, instrument) -> OutcomeSnapshot:
    return OutcomeSnapshot.objects.get(patient=patient, instrument=instrument)


def test_the_stored_defaults_are_the_references_labelled_defaults(clinic_a):
    stored = MeasureSettings.objects.create(clinic=clinic_a)
    core = outcomes.OutcomeSettings()
    madrs = instruments.get_instrument("madrs").settings
    assert stored.relapse_after == core.relapse_after
    assert stored.relapse_date == core.relapse_date
    assert stored.fading_fraction == core.fading_fraction
    assert stored.madrs_remission_max == madrs["remission_max"].default
    assert stored.madrs_suicide_item_threshold == madrs["suicide_item_threshold"].default
    assert stored.outcome_settings().relapse_rules == {}


def test_every_event_kind_of_a_reference_relapse_rule_can_be_recorded():
    kinds = {k for rule in outcomes.load_rules().relapse_rules.values() for k in rule.event_kinds}
    assert kinds == set(ClinicalEvent.KINDS)


def test_a_clinic_relapse_rule_on_phq9_finds_the_relapse_and_is_stored_with_it(
        clinic_admin, prescriber, treated):
    record_series(treated, "phq9", [20, 8, 6, 16, 17], prescriber)
    before = snapshot(treated, "phq9")
    assert not before.has_relapse_rule and "relapse" not in before.summary["rules"]

    page = login(clinic_admin).post(RULES_PAGE, rules_form(
        relapse_phq9_threshold=15, relapse_phq9_min_days=5, relapse_phq9_max_days=15))
    assert page.status_code == 302

    after = snapshot(treated, "phq9")
    assert after.has_relapse_rule and after.relapsed
    assert after.summary["rules"]["relapse"] == "phq9:relapse@clinic-1"
    assert after.summary["evidence"]["relapse"] == "policy"
    assert after.settings_version == 2
    # response at week 1 (20 -> 8), relapse at week 3 (16, then 17 a week later)
    assert after.durability_days == pytest.approx(14)


def test_changing_a_clinic_rule_makes_a_new_rule_version(clinic_admin, prescriber, treated):
    record_series(treated, "phq9", [20, 8, 6, 16, 17], prescriber)
    client = login(clinic_admin)
    saved = client.post(RULES_PAGE, rules_form(relapse_phq9_threshold=15), follow=True)
    assert b"Outcome rules saved (version 2)" in saved.content
    same = client.post(RULES_PAGE, rules_form(relapse_phq9_threshold=15), follow=True)
    assert b"Nothing changed" in same.content
    assert snapshot(treated, "phq9").summary["rules"]["relapse"] == "phq9:relapse@clinic-1"
    client.post(RULES_PAGE, rules_form(relapse_phq9_threshold=18))
    after = snapshot(treated, "phq9")
    assert after.summary["rules"]["relapse"] == "phq9:relapse@clinic-2"
    assert not after.relapsed  # 16 and 17 stay below 18
    assert MeasureSettings.objects.get(clinic=treated.clinic).outcome_version == 3


def test_the_madrs_remission_cut_off_is_the_clinics_choice(clinic_admin, prescriber, treated):
    record_series(treated, "madrs", [30, 20, 12], prescriber)
    assert not snapshot(treated, "madrs").remission_now  # default: remission is <= 10
    login(clinic_admin).post(RULES_PAGE, rules_form(madrs_remission_max=12))
    assert snapshot(treated, "madrs").remission_now  # SUSTAIN-3's <= 12


def test_a_rule_change_is_audited_with_the_old_and_new_values(clinic_admin):
    login(clinic_admin).post(RULES_PAGE, rules_form(fading_fraction=0.3))
    entry = AuditEntry.objects.filter(object_type="outcome_settings").get()
    detail = json.loads(entry.detail_json)
    assert detail["changes"] == {"fading_fraction": [0.5, 0.3]} and detail["version"] == 2


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"relapse_phq9_threshold": 40}, "relapse_phq9_threshold", "less than or equal to 27"),
    ({"relapse_phq9_threshold": 15, "relapse_phq9_min_days": 5}, "relapse_phq9_max_days",
     "both spacing limits"),
    ({"relapse_gad7_threshold": 12, "relapse_gad7_min_days": 9, "relapse_gad7_max_days": 3},
     "relapse_gad7_max_days", "must not be below"),
    ({"relapse_pcl5_threshold": 40, "relapse_pcl5_consecutive": 1,
      "relapse_pcl5_min_days": 5, "relapse_pcl5_max_days": 15}, "relapse_pcl5_consecutive",
     "2 or more assessments in a row"),
    ({"relapse_phq9_min_days": 5, "relapse_phq9_max_days": 15}, "relapse_phq9_threshold",
     "Give the total that counts as relapse"),
    ({"fading_fraction": 2}, "fading_fraction", "less than or equal to 1"),
    ({"madrs_remission_max": 11}, "madrs_remission_max", "Select a valid choice"),
])
def test_bad_rules_are_refused_naming_the_field_and_nothing_changes(
        clinic_a, clinic_admin, changes, field, message):
    page = login(clinic_admin).post(RULES_PAGE, rules_form(**changes))
    assert page.status_code == 422
    assert any(message in e for e in page.context["form"].errors[field])
    stored = actions.settings_for(clinic_a)
    assert (stored.outcome_version, stored.relapse_rules, stored.fading_fraction) == (1, {}, 0.5)


def test_the_worker_recomputes_what_a_rule_change_left_stale(clinic_a, prescriber, treated):
    record_series(treated, "phq9", [20, 8, 6, 16, 17], prescriber)
    stored_settings(clinic_a).update(
        relapse_rules={"phq9": {"threshold": 15, "consecutive": 2, "spacing_days": None,
                                "version": 1}}, outcome_version=2)
    assert outcome_snapshots.stale(clinic_a.pk).count() == 1
    report = worker.run_once()
    assert report.recomputed == 1 and "1 outcome(s) recomputed" in str(report)
    assert snapshot(treated, "phq9").relapsed
    assert outcome_snapshots.stale(clinic_a.pk).count() == 0


def test_the_dashboard_says_while_summaries_are_being_recomputed(clinic_a, prescriber, nurse,
                                                                 treated):
    record_series(treated, "phq9", [20, 8], prescriber)
    stored_settings(clinic_a).update(outcome_version=5)
    page = login(nurse).get("/dashboard/")
    assert b"still being recomputed" in page.content and page.context["stale"] == 1


def test_the_measures_page_shows_each_outcome_with_the_rules_used(nurse, prescriber, treated):
    record_series(treated, "phq9", [20, 8, 6], prescriber)
    page = login(nurse).get(f"/patients/{treated.pk}/measures/")
    text = page.content.decode()
    assert "70% lower than baseline" in text  # (20 - 6) / 20
    assert "responding now" in text and "a total at least 50% lower than baseline" in text
    assert "phq9@2:response" not in text  # the rule in words, not its id
    assert "No published relapse definition for PHQ-9" in text


def test_a_hospitalisation_after_a_madrs_response_is_a_relapse_on_its_date(nurse, prescriber,
                                                                          treated):
    start = timezone.now() - WEEK * 4
    record_series(treated, "madrs", [30, 12, 14], prescriber, start=start)
    admitted = start + WEEK * 2 + timedelta(days=3)
    page = login(nurse).post(f"/patients/{treated.pk}/measures/events/", {
        "kind": "hospitalisation_worsening_depression",
        "occurred_at": timezone.localtime(admitted).strftime("%Y-%m-%dT%H:%M"),
        "note": "Admitted via the emergency department"})
    assert page.status_code == 302
    outcome = snapshot(treated, "madrs")
    assert outcome.relapsed
    assert outcome.summary["relapse"]["criterion"] == "hospitalisation_worsening_depression"
    shown = login(nurse).get(f"/patients/{treated.pk}/measures/").content.decode()
    assert "Hospitalisation for worsening depression" in shown and "relapse on" in shown


def test_an_event_entered_in_error_no_longer_counts_but_stays_on_record(nurse, prescriber,
                                                                       treated):
    record_series(treated, "madrs", [30, 12, 14], prescriber)
    event = actions.record_clinical_event(patient=treated, kind="suicide_attempt",
                                          occurred_at=timezone.now() - timedelta(hours=2),
                                          note="Overdose", by=prescriber)
    assert snapshot(treated, "madrs").relapsed
    client = login(nurse)
    refused = client.post(f"/patients/{treated.pk}/measures/events/{event.pk}/error/",
                          {"reason": ""})
    assert refused.status_code == 302 and not ClinicalEvent.objects.get().entered_in_error_at
    client.post(f"/patients/{treated.pk}/measures/events/{event.pk}/error/",
                {"reason": "Wrong patient"})
    assert not snapshot(treated, "madrs").relapsed
    kept = ClinicalEvent.objects.get()
    assert kept.entered_in_error_reason == "Wrong patient" and kept.note == "Overdose"
    page = client.get(f"/patients/{treated.pk}/measures/").content.decode()
    assert "entered in error" in page and "Suicide attempt" in page


def test_an_event_needs_a_past_time_and_a_note(nurse, treated):
    page = login(nurse).post(f"/patients/{treated.pk}/measures/events/", {
        "kind": "suicide_attempt", "note": "",
        "occurred_at": (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")})
    assert page.status_code == 422
    errors = page.context["event_form"].errors
    assert "in the future" in errors["occurred_at"][0] and "note" in errors
    assert not ClinicalEvent.objects.exists()


def test_another_clinics_patient_events_do_not_exist(other_clinician, prescriber, treated):
    event = actions.record_clinical_event(patient=treated, kind="suicide_attempt",
                                          occurred_at=timezone.now(), note="x", by=prescriber)
    client = login(other_clinician)
    assert client.post(f"/patients/{treated.pk}/measures/events/", {}).status_code == 404
    assert client.post(f"/patients/{treated.pk}/measures/events/{event.pk}/error/",
                       {"reason": "x"}).status_code == 404


def test_reading_the_events_is_audited(nurse, prescriber, treated):
    event = actions.record_clinical_event(patient=treated, kind="suicide_attempt",
                                          occurred_at=timezone.now(), note="x", by=prescriber)
    login(nurse).get(f"/patients/{treated.pk}/measures/")
    assert AuditEntry.objects.filter(object_type="clinical_event", object_id=str(event.pk),
                                     action="read", actor_username=nurse.username).exists()


def test_a_questionnaire_entered_in_error_leaves_the_outcome_but_stays_on_record(
        nurse, prescriber, treated):
    record_series(treated, "phq9", [20, 8, 14], prescriber)
    assert snapshot(treated, "phq9").ever_responded
    wrong = Response.objects.get(patient=treated, total=8)
    client = login(nurse)
    client.post(f"/patients/{treated.pk}/measures/responses/{wrong.pk}/error/",
                {"reason": "Another patient's form"})
    wrong.refresh_from_db()
    assert wrong.entered_in_error_reason == "Another patient's form" and wrong.total == 8
    assert not snapshot(treated, "phq9").ever_responded  # 20 -> 14 is not a response
    again = client.post(f"/patients/{treated.pk}/measures/responses/{wrong.pk}/error/",
                        {"reason": "twice"}, follow=True)
    assert b"already marked entered in error" in again.content


def test_the_chart_timeline_shows_alerts_and_relapse_events(nurse, prescriber, treated):
    actions.record_response(patient=treated, instrument="phq9", source="clinic", by=prescriber,
                            answers={str(n): 1 for n in range(1, 10)})
    actions.record_clinical_event(patient=treated, kind="suicide_attempt", note="Overdose",
                                  occurred_at=timezone.now() - timedelta(hours=1), by=prescriber)
    titles = [e.title for e in login(nurse).get(f"/patients/{treated.pk}/").context["timeline"]]
    assert "Suicide attempt" in titles
    assert any(t.startswith("Urgent alert: Item 9") for t in titles)


def test_a_retired_rule_added_again_gets_a_new_version_not_its_old_one(clinic_admin, prescriber,
                                                                       treated):
    record_series(treated, "phq9", [20, 8, 6, 16, 17], prescriber)
    client = login(clinic_admin)
    client.post(RULES_PAGE, rules_form(relapse_phq9_threshold=15))
    client.post(RULES_PAGE, rules_form())  # retired
    assert not snapshot(treated, "phq9").has_relapse_rule
    client.post(RULES_PAGE, rules_form(relapse_phq9_threshold=16))
    assert snapshot(treated, "phq9").summary["rules"]["relapse"] == "phq9:relapse@clinic-2"


def test_the_two_settings_pages_do_not_undo_each_other(clinic_a, clinic_admin):
    client = login(clinic_admin)
    measure_page = client.get("/clinic/measures/").context["form"]
    client.post(RULES_PAGE, rules_form(relapse_phq9_threshold=15))
    # the measure settings form was loaded before the rule change and is saved after it
    data = {name: value for name, value in measure_page.initial.items()
            if name in measure_page.fields and value is not None}
    data["escalation_minutes"] = 30
    assert client.post("/clinic/measures/", data).status_code == 302
    stored = actions.settings_for(clinic_a)
    assert stored.escalation_minutes == 30
    assert stored.relapse_rules["phq9"]["threshold"] == 15 and stored.outcome_version == 2


def test_the_clinic_sets_the_madrs_item_10_alert_threshold(clinic_a, clinic_admin, prescriber,
                                                          treated):
    client = login(clinic_admin)
    form = client.get("/clinic/measures/").context["form"]
    data = {name: value for name, value in form.initial.items()
            if name in form.fields and value is not None}
    refused = client.post("/clinic/measures/", {**data, "madrs_suicide_item_threshold": 9})
    assert "Choose one of 1, 2, 3, 4, 5, 6" in refused.context["form"].errors[
        "madrs_suicide_item_threshold"][0]
    client.post("/clinic/measures/", {**data, "madrs_suicide_item_threshold": 2})
    answers = {str(i): 0 for i in range(1, 11)} | {"10": 2}
    recorded = actions.record_response(patient=treated, instrument="madrs", answers=answers,
                                       source="clinic", by=prescriber)
    assert [a.kind for a in recorded.alerts] == ["suicidal_ideation"]


def test_another_clinics_questionnaire_cannot_be_marked_in_error(other_clinician, prescriber,
                                                                treated):
    record_series(treated, "phq9", [20], prescriber)
    response = Response.objects.get(patient=treated)
    page = login(other_clinician).post(
        f"/patients/{treated.pk}/measures/responses/{response.pk}/error/", {"reason": "x"})
    assert page.status_code == 404
    response.refresh_from_db()
    assert response.entered_in_error_at is None


def test_the_worker_still_escalates_when_an_outcome_cannot_be_computed(clinic_a, prescriber,
                                                                       treated):
    record_series(treated, "phq9", [20, 8], prescriber)
    OutcomeSnapshot.objects.filter(patient=treated).update(instrument="removed_instrument",
                                                           settings_version=0)
    set_directly(Response.objects.filter(patient=treated), instrument="removed_instrument")
    report = worker.run_once()
    assert report.recomputed == 1  # its outcome goes; the answers stay
    assert not OutcomeSnapshot.objects.filter(patient=treated).exists()
    assert Response.objects.filter(patient=treated).count() == 2
