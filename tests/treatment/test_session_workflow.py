"""The session's steps as the clinic takes them: each guard refuses with its reason, a step is
applied once, and what was checked is kept with the step."""

from __future__ import annotations

import pytest

from kapclinic.audit.models import AuditEntry
from kapclinic.treatment import actions
from kapclinic.treatment.errors import FieldError, SessionConflict, StepRefused
from kapclinic.treatment.models import Administration, Session, SessionEvent
from tests.treatment.helpers import (
    CALM,
    LATE,
    checklist_done,
    cleared,
    eligible_and_consented,
    minutes_ago,
    session,
    step,
)

pytestmark = pytest.mark.django_db


def guards(excinfo) -> set[str]:
    return {u.guard for u in excinfo.value.unmet}


def test_a_scheduled_session_keeps_the_protocol_version_and_its_first_step(patient, prescriber):
    s = session(patient, prescriber)
    assert (s.state, s.version, s.drug, s.route) == ("scheduled", 1, "ketamine", "iv-infusion")
    assert s.protocol_version.startswith("iv_racemic_ketamine@")
    assert len(s.protocol_hash) == 64
    assert list(s.events.values_list("from_state", "to_state")) == [("", "scheduled")]


def test_an_unknown_protocol_is_refused_naming_the_field(patient, prescriber):
    with pytest.raises(FieldError) as exc:
        actions.schedule_session(patient=patient, protocol="nope", scheduled_at=minutes_ago(0),
                                 by=prescriber)
    assert exc.value.field == "protocol"
    assert "iv_racemic_ketamine" in exc.value.message


def test_an_illegal_step_is_refused_naming_where_the_session_can_go(patient, prescriber, nurse):
    s = session(patient, prescriber)
    with pytest.raises(StepRefused) as exc:
        step(s, "discharged", minutes_ago(1), nurse)
    [unmet] = exc.value.unmet
    assert unmet.guard == "allowed_transition"
    assert "checked in" in unmet.message
    s.refresh_from_db()
    assert s.state == "scheduled"


def test_clearing_without_anything_done_names_every_unmet_guard(patient, prescriber, nurse):
    s = session(patient, prescriber, started_minutes_ago=10)
    step(s, "checked_in", minutes_ago(5), nurse)
    with pytest.raises(StepRefused) as exc:
        step(s, "cleared", minutes_ago(1), nurse)
    assert guards(exc) == {"dose_clearance", "fasting", "ride_home", "pregnancy_test",
                           "weight_today", "predose_vitals", "predose_measures", "intention_note"}
    messages = " ".join(u.message for u in exc.value.unmet)
    assert "No prescriber sign-off of eligibility for ketamine" in messages
    assert "No current informed consent" in messages
    assert "Today's weight is not recorded" in messages


def test_a_patient_signed_off_and_consented_with_the_checklist_done_is_cleared(patient, prescriber,
                                                                               nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse)
    assert s.state == "cleared"
    event = s.events.get(to_state="cleared")
    assert event.facts["weight_taken_today"] is True
    assert event.facts["predose_vitals_taken"] is True
    assert event.recorded_by == nurse
    assert event.late_reason == LATE


def test_pre_dose_vitals_outside_the_holds_keep_the_session_from_being_cleared(patient, prescriber,
                                                                               nurse):
    eligible_and_consented(patient, prescriber)
    s = session(patient, prescriber, started_minutes_ago=10)
    step(s, "checked_in", minutes_ago(9), nurse)
    checklist_done(s, nurse, at=minutes_ago(8))
    recorded = actions.record_vitals(s, observed_at=minutes_ago(7), by=nurse,
                                     values={**CALM, "sbp_mmhg": 190, "dbp_mmhg": 95})
    assert {a.kind for a in recorded.alerts} >= {"predose_bp_hold"}
    with pytest.raises(StepRefused) as exc:
        step(s, "cleared", minutes_ago(6), nurse)
    assert guards(exc) == {"predose_vitals"}
    assert "Recheck them" in exc.value.unmet[0].message
    # a calm recheck clears it
    actions.record_vitals(s, observed_at=minutes_ago(3), by=nurse, values=CALM)
    assert step(s, "cleared", minutes_ago(2), nurse).state == "cleared"


def test_a_pre_dose_bp_above_the_label_figure_waits_for_the_prescribers_decision(patient, prescriber,
                                                                                 nurse):
    from kapclinic.alerts.actions import acknowledge_alert

    eligible_and_consented(patient, prescriber)
    s = session(patient, prescriber, started_minutes_ago=10)
    step(s, "checked_in", minutes_ago(9), nurse)
    checklist_done(s, nurse, at=minutes_ago(8))
    recorded = actions.record_vitals(s, observed_at=minutes_ago(7), by=nurse,
                                     values={**CALM, "sbp_mmhg": 150, "dbp_mmhg": 85})
    [review] = [a for a in recorded.alerts if a.kind == "predose_bp_above_label_figure"]
    with pytest.raises(StepRefused) as exc:
        step(s, "cleared", minutes_ago(6), nurse)
    assert "The prescriber has not yet decided" in exc.value.unmet[0].message
    acknowledge_alert(alert=review, note="Benefit outweighs a short rise: proceed", by=prescriber)
    assert step(s, "cleared", minutes_ago(5), nurse).state == "cleared"


def test_an_iv_session_runs_from_check_in_to_discharge(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse)
    s = step(s, "dosing", minutes_ago(160), nurse, late_reason=LATE,
             administration={"dose_mg_per_kg": 0.5, "lot": "L123", "product_ndc": "0409-2051-05",
                             "concentration_mg_per_ml": 10, "rate_mg_per_min": 0.875})
    given = Administration.objects.get(session=s)
    assert (given.dose_mg, given.dose_mg_per_kg, given.weight_kg, given.within_protocol) == (
        35.0, 0.5, 70.0, True)
    actions.record_vitals(s, observed_at=minutes_ago(140), values=CALM, by=nurse, late_reason=LATE)
    s = step(s, "monitoring", minutes_ago(120), nurse, late_reason=LATE)
    given.refresh_from_db()
    assert given.ended_at is not None
    with pytest.raises(StepRefused) as exc:
        step(s, "discharged", minutes_ago(60), nurse, late_reason=LATE)
    assert guards(exc) == {"minimum_observation", "effects_resolved", "discharge_criteria"}
    s = step(s, "discharged", minutes_ago(0), nurse, checklist={
        "sedation_resolved": "yes", "dissociation_resolved": "yes",
        "respiratory_depression_resolved": "yes", "judged_stable": "yes",
        "discharge_score": {"answer": "recorded", "value": 10}})
    assert s.state == "discharged"
    assert list(SessionEvent.objects.filter(session=s).order_by("id").values_list(
        "to_state", flat=True)) == [
        "scheduled", "checked_in", "cleared", "dosing", "monitoring", "discharged"]
    assert AuditEntry.objects.filter(action="transition", object_id=str(s.pk)).count() == 5


def test_open_alerts_hold_the_discharge_until_acknowledged(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse)
    s = step(s, "dosing", minutes_ago(160), nurse, late_reason=LATE,
             administration={"dose_mg_per_kg": 0.5})
    recorded = actions.record_vitals(s, observed_at=minutes_ago(150), by=nurse, late_reason=LATE,
                                     values={**CALM, "spo2_pct": 89})
    [low] = [a for a in recorded.alerts if a.kind == "spo2_low"]
    assert "stop dosing" in low.recommended_action.lower() or "stop" in low.recommended_action.lower()
    # the patient recovered (a reading within the thresholds), but nobody answered the alert
    actions.record_vitals(s, observed_at=minutes_ago(140), by=nurse, late_reason=LATE, values=CALM)
    s = step(s, "monitoring", minutes_ago(130), nurse, late_reason=LATE)
    done = {"sedation_resolved": "yes", "dissociation_resolved": "yes",
            "respiratory_depression_resolved": "yes", "judged_stable": "yes",
            "discharge_score": {"answer": "recorded", "value": 9}}
    with pytest.raises(StepRefused) as exc:
        step(s, "discharged", minutes_ago(0), nurse, checklist=done)
    assert guards(exc) == {"alerts_acknowledged"}
    # the refused step kept nothing, not even its checklist answers
    assert not s.checklist.filter(item="judged_stable").exists()


def test_cancelling_needs_a_reason_and_keeps_it(patient, prescriber, nurse):
    s = session(patient, prescriber, started_minutes_ago=5)
    with pytest.raises(StepRefused) as exc:
        step(s, "cancelled", minutes_ago(1), nurse)
    assert guards(exc) == {"reason_written"}
    s = step(s, "cancelled", minutes_ago(1), nurse, reason="Patient unwell with a cold")
    assert (s.state, s.end_reason) == ("cancelled", "Patient unwell with a cold")


def test_a_step_from_a_stale_version_is_refused_and_not_applied_twice(patient, prescriber, nurse):
    s = session(patient, prescriber, started_minutes_ago=5)
    actions.transition(s, to="checked_in", at=minutes_ago(2), by=nurse, expected_version=1)
    with pytest.raises(SessionConflict):
        actions.transition(s, to="checked_in", at=minutes_ago(1), by=nurse, expected_version=1)
    assert SessionEvent.objects.filter(session=s, to_state="checked_in").count() == 1
    assert Session.objects.get(pk=s.pk).version == 2


def test_a_time_in_the_future_is_refused(patient, prescriber, nurse):
    s = session(patient, prescriber, started_minutes_ago=5)
    with pytest.raises(FieldError) as exc:
        step(s, "checked_in", minutes_ago(-30), nurse)
    assert exc.value.field == "at"
    assert "future" in exc.value.message


def test_a_step_recorded_long_after_it_happened_needs_a_reason(patient, prescriber, nurse):
    s = session(patient, prescriber, started_minutes_ago=200)
    with pytest.raises(FieldError) as exc:
        step(s, "checked_in", minutes_ago(90), nurse)
    assert exc.value.field == "late_reason"
    assert "60 minutes" in exc.value.message
    assert step(s, "checked_in", minutes_ago(90), nurse, late_reason="monitor was down").state == \
        "checked_in"


def _late_evening(patient, days_ago: int = 2):
    """23:50 in the clinic's zone ``days_ago`` days back, and a helper for minutes after it."""
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    zone = ZoneInfo(patient.clinic.time_zone)
    day = timezone.now().astimezone(zone).date() - timedelta(days=days_ago)
    start = datetime.combine(day, time(23, 50), tzinfo=zone)
    return start, lambda minutes: start + timedelta(minutes=minutes)


def test_a_late_evening_session_running_past_midnight_takes_the_weight_and_test_taken_after_it(
        patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    start, after = _late_evening(patient)
    s = actions.schedule_session(patient=patient, protocol="iv_racemic_ketamine", scheduled_at=start,
                                 room="Room 1", chair="A", by=prescriber)
    step(s, "checked_in", after(5), nurse, late_reason=LATE)
    checklist_done(s, nurse, at=after(12), late_reason=LATE)  # 00:02 the next day
    actions.record_vitals(s, observed_at=after(13), values=CALM, by=nurse, late_reason=LATE)
    s = step(s, "cleared", after(15), nurse, late_reason=LATE)
    assert s.state == "cleared"
    assert s.events.get(to_state="cleared").facts["pregnancy_test_negative_today"] is True
    s = step(s, "dosing", after(20), nurse, late_reason=LATE,
             administration={"dose_mg_per_kg": 0.5, "lot": "L1", "rate_mg_per_min": 0.9})
    assert s.administrations.get().dose_mg == 35.0  # 0.5 mg/kg x 70 kg weighed at 00:02


def test_a_weight_taken_the_day_before_the_session_is_still_not_todays(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    start, after = _late_evening(patient, days_ago=3)
    s = actions.schedule_session(patient=patient, protocol="iv_racemic_ketamine",
                                 scheduled_at=after(24 * 60 - 5), room="Room 1", chair="A",
                                 by=prescriber)  # 23:45 the next evening
    step(s, "checked_in", after(24 * 60), nurse, late_reason=LATE)
    checklist_done(s, nurse, at=after(0), late_reason=LATE)  # 23:50 the evening before
    actions.record_vitals(s, observed_at=after(24 * 60 + 1), values=CALM, by=nurse, late_reason=LATE)
    with pytest.raises(StepRefused) as exc:
        step(s, "cleared", after(24 * 60 + 2), nurse, late_reason=LATE)
    assert {"weight_today", "pregnancy_test"} <= guards(exc)
