"""The clinical-safety review of instruments and outcomes, as clinicians and patients meet it:
C-SSRS's three levels, rounded prorated PHQ-9 totals, the PCL-5 response rule being the
clinic's own, and instruments shown by name."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from kapclinic.alerts.models import Alert
from kapclinic.measures import actions, worker
from kapclinic.measures import outcomes as outcome_snapshots
from kapclinic.measures.models import OutcomeSnapshot, Response
from tests.conftest import login, set_directly, stored_settings
from tests.test_measures import reachable  # noqa: F401 (fixture)

CSSRS_MODERATE = {"item_1": "1", "item_2": "1", "item_3": "1", "item_4": "0", "item_5": "0",
                  "item_6": "0"}
CSSRS_HIGH = {**CSSRS_MODERATE, "item_4": "1"}
CSSRS_LOW = {"item_1": "1", "item_2": "0", "item_6": "0"}


def test_a_moderate_cssrs_is_shown_to_clinicians_as_moderate_for_follow_up(nurse, patient):
    client = login(nurse)
    saved = client.post(f"/patients/{patient.pk}/measures/new/cssrs_screener/", CSSRS_MODERATE,
                        follow=True)
    alert = Alert.objects.get(patient=patient)
    assert alert.kind == "suicide_risk_moderate" and alert.priority == "follow_up"
    assert b"Follow-up: C-SSRS Moderate risk" in saved.content
    assert b"Urgent:" not in saved.content
    page = client.get(f"/patients/{patient.pk}/measures/").content.decode()
    assert "1 follow-up alert not acknowledged" in page and "urgent alert" not in page
    assert "Moderate risk: Yes to item 3" in page
    alerts = client.get("/alerts/").content.decode()
    assert "Follow-up</span> <strong>C-SSRS Moderate risk" in alerts
    assert "C-SSRS screener taken" in alerts and "cssrs_screener taken" not in alerts


def test_a_moderate_cssrs_does_not_show_the_patient_crisis_help_and_is_not_escalated(
        nurse, reachable):  # noqa: F811
    login(nurse).post(f"/patients/{reachable.pk}/measures/send/", {"instrument": "phq9"})
    actions.send_request(patient=reachable, instrument="cssrs_screener", due_at=timezone.now(),
                         base_url="http://testserver")
    from tests.test_measures import self_report_path

    page = Client().post(self_report_path(), CSSRS_MODERATE)
    assert page.templates[0].name != "measures/crisis.html"
    assert worker.run_once(now=timezone.now() + timedelta(hours=3)).escalated == 0


def test_a_high_cssrs_keeps_the_urgent_path(nurse, patient):
    client = login(nurse)
    saved = client.post(f"/patients/{patient.pk}/measures/new/cssrs_screener/", CSSRS_HIGH,
                        follow=True)
    assert [(a.kind, a.priority) for a in Alert.objects.filter(patient=patient)] == [
        ("suicide_risk_high", "urgent")]
    assert b"Urgent: C-SSRS High risk" in saved.content
    assert worker.run_once(now=timezone.now() + timedelta(hours=3)).escalated == 1


def test_a_low_cssrs_is_recorded_as_low_without_an_alert(nurse, patient):
    login(nurse).post(f"/patients/{patient.pk}/measures/new/cssrs_screener/", CSSRS_LOW)
    response = Response.objects.get(patient=patient)
    assert response.severity == "low" and response.definition_version == "2"
    assert not Alert.objects.filter(patient=patient).exists()


def test_a_high_that_cannot_be_ruled_out_is_not_also_raised_as_a_moderate(nurse, patient):
    gaps = {"item_1": "1", "item_2": "1", "item_6": "0"}  # items 3-5 left empty
    login(nurse).post(f"/patients/{patient.pk}/measures/new/cssrs_screener/", gaps)
    assert [(a.kind, a.priority) for a in Alert.objects.filter(patient=patient)] == [
        ("suicide_risk_high", "urgent")]


def test_a_cssrs_stored_under_the_two_tier_version_is_shown_as_recorded_and_re_derived(
        nurse, patient):
    recorded = actions.record_response(patient=patient, instrument="cssrs_screener",
                                       source="clinic", by=nurse,
                                       answers={"1": 1, "2": 1, "3": 1, "4": 0, "5": 0, "6": 0})
    old = {**recorded.response.result, "definition_version": "1", "severity": "lower",
           "severity_label": "Lower tier (Yes to items 1-3, or behaviour more than 3 months "
                             "ago): outpatient referral"}
    set_directly(Response.objects.filter(pk=recorded.response.pk),
        definition_version="1", severity="lower", result=old)
    page = login(nurse).get(f"/patients/{patient.pk}/measures/").content.decode()
    assert "Lower tier (Yes to items 1-3" in page  # as recorded, never rewritten
    assert "under version 2: Moderate risk" in page
    assert Response.objects.get().severity == "lower"


def test_a_stored_prorated_phq9_of_4_5_is_not_counted_as_remission(nurse, patient):
    for days_ago, total in ((20, 18), (10, 4.5)):
        recorded = actions.record_response(
            patient=patient, instrument="phq9", source="clinic", by=nurse,
            answers={str(n): 1 for n in range(1, 10)},
            taken_at=timezone.now() - timedelta(days=days_ago))
        set_directly(Response.objects.filter(pk=recorded.response.pk), total=total)  # as stored once
    outcome_snapshots.refresh(patient, "phq9")
    snapshot = OutcomeSnapshot.objects.get(patient=patient, instrument="phq9")
    assert snapshot.remission_now is False and snapshot.latest_total == 5
    assert Response.objects.filter(total=4.5).exists()  # the record itself is untouched


def test_a_prorated_phq9_shows_its_rounded_total_and_what_it_was_rounded_from(nurse, patient):
    actions.settings_for(patient.clinic_id)
    stored_settings(patient.clinic_id).update(prorate=True)
    answers = {"1": 1, "2": 1, "3": 1, "4": 1, "5": 0, "6": 0, "7": 0, "8": 0, "9": None}
    actions.record_response(patient=patient, instrument="phq9", answers=answers,
                            source="portal", by=None)  # e.g. sent through the API
    client = login(nurse)
    response = Response.objects.get(patient=patient)
    assert response.total == 5 and response.severity == "mild"
    page = client.get(f"/patients/{patient.pk}/measures/").content.decode()
    assert "prorated from 4.5" in page


def test_the_clinic_sets_its_own_pcl5_response_rule_and_there_is_none_by_default(clinic_admin,
                                                                                 clinic_a):
    client = login(clinic_admin)
    page = client.get("/clinic/outcomes/").content.decode()
    assert "no response is called until the clinic sets a rule" in page
    assert "clinical.md" not in page
    assert actions.settings_for(clinic_a).outcome_settings().change_rules == {}
    form = {"relapse_after": "response_or_remission", "relapse_date": "first_of_run",
            "fading_fraction": "0.5", "madrs_remission_max": "10",
            "response_pcl5_kind": "point_reduction", "response_pcl5_at_least": "10"}
    client.post("/clinic/outcomes/", form)
    saved = actions.settings_for(clinic_a)
    assert saved.response_rules == {"pcl5": {"kind": "point_reduction", "at_least": 10.0}}
    assert saved.outcome_settings().change_rules["pcl5"].at_least == 10.0
    bad = client.post("/clinic/outcomes/", {**form, "response_pcl5_at_least": "99"})
    assert bad.status_code == 422


def test_the_dashboard_and_alerts_name_instruments_not_their_ids(nurse, prescriber, patient):
    login(nurse).post(f"/patients/{patient.pk}/measures/new/cssrs_screener/", CSSRS_HIGH)
    actions.start_default_schedule(patient=patient, by=prescriber,
                                   first_due=timezone.now() - timedelta(days=2))
    dashboard = login(prescriber).get("/dashboard/").content.decode()
    assert "PHQ-9 due" in dashboard and "phq9 due" not in dashboard
    chart = login(nurse).get(f"/patients/{patient.pk}/").content.decode()
    assert "<strong>C-SSRS screener</strong>" in chart and "<strong>cssrs_screener</strong>" not in chart
    assert "Urgent alert: C-SSRS High risk" in chart


def test_the_clinic_rounding_default_is_the_phq9_definitions_labelled_default(clinic_a):
    from kapclinic.clinical.instruments import get_instrument

    rounding = get_instrument("phq9").scoring.missing.prorate.rounding
    assert actions.settings_for(clinic_a).prorate_rounding == rounding.default == "half_up"
    assert rounding.evidence == "policy" and "half up" in rounding.label
