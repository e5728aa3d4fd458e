"""The measures forms keep no text-direction controls in free text (a review found two that
did: the crisis text shown to patients, and a clinical event's note)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from kapclinic.measures import actions
from kapclinic.measures.models import ClinicalEvent
from tests.conftest import login

RLO = "\u202e"  # right-to-left override: "Call 911" would read "119 llaC"

SETTINGS = {"crisis_text": "Call the clinic line.", "escalation_minutes": "30",
            "link_days": "3", "default_instruments": "phq9,gad7", "ptsd_instruments": "",
            "default_interval_days": "7", "qids_suicide_item_threshold": "2",
            "madrs_suicide_item_threshold": "4", "version": "1"}


def test_the_crisis_text_shown_to_patients_is_saved_without_direction_controls(
        clinic_admin, clinic_a):
    login(clinic_admin).post("/clinic/measures/", {
        **SETTINGS, "crisis_text": f"Call {RLO}911 now."})
    assert actions.settings_for(clinic_a).crisis_text == "Call 911 now."


def test_a_clinical_event_note_is_saved_without_direction_controls(nurse, patient):
    when = timezone.localtime(timezone.now() - timedelta(days=1))
    page = login(nurse).post(f"/patients/{patient.pk}/measures/events/", {
        "kind": "suicide_attempt", "occurred_at": when.strftime("%Y-%m-%dT%H:%M"),
        "note": f"Seen in {RLO}ED"})
    assert page.status_code == 302
    assert ClinicalEvent.objects.get().note == "Seen in ED"
