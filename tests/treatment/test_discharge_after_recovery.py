"""Discharge waits for the patient, not for paperwork: a latest reading after the dose that
would itself call to pause or stop (low SpO2, slow breathing) refuses the discharge even once
its alerts are acknowledged and the effects ticked resolved, until a reading within the
thresholds is recorded; and a discharge score below the protocol's threshold refuses it even
where the protocol's criterion is a clinician's judgement."""

from __future__ import annotations

import pytest

from kapclinic.alerts.actions import acknowledge_alert
from kapclinic.alerts.models import Alert
from kapclinic.treatment import actions, facts, vitals
from kapclinic.treatment.errors import StepRefused
from kapclinic.treatment.models import VitalReading
from tests.conftest import login
from tests.treatment.helpers import (
    CALM,
    ESKETAMINE,
    LATE,
    cleared,
    eligible_and_consented,
    minutes_ago,
    step,
)

pytestmark = pytest.mark.django_db

RESOLVED = {"sedation_resolved": "yes", "dissociation_resolved": "yes",
            "respiratory_depression_resolved": "yes", "judged_stable": "yes"}
DEPRESSED = {"spo2_pct": 86, "resp_rate_per_min": 7, "moaas": 2}


def guards(excinfo) -> set[str]:
    return {u.guard for u in excinfo.value.unmet}


def observed(patient, prescriber, nurse):
    """An IV session dosed 160 minutes ago, under observation since 130."""
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse)
    s = step(s, "dosing", minutes_ago(160), nurse, late_reason=LATE,
             administration={"dose_mg_per_kg": 0.5})
    actions.record_vitals(s, observed_at=minutes_ago(150), values=CALM, by=nurse, late_reason=LATE)
    return step(s, "monitoring", minutes_ago(130), nurse, late_reason=LATE)


def acknowledge_all(nurse):
    for alert in Alert.objects.open():
        acknowledge_alert(alert=alert, note="Oxygen given, stayed with the patient", by=nurse)


def test_a_patient_whose_latest_reading_shows_respiratory_depression_is_not_discharged(
        patient, prescriber, nurse):
    s = observed(patient, prescriber, nurse)
    actions.record_vitals(s, observed_at=minutes_ago(5), values={**CALM, **DEPRESSED}, by=nurse,
                          late_reason=LATE)
    acknowledge_all(nurse)
    score = {"discharge_score": {"answer": "recorded", "value": 9}}

    with pytest.raises(StepRefused) as exc:
        step(s, "discharged", minutes_ago(0), nurse, checklist={**RESOLVED, **score})

    assert guards(exc) == {"latest_reading_within_thresholds"}
    [message] = [u.message for u in exc.value.unmet]
    assert "record a reading within the thresholds before discharge" in message.lower()
    assert "SpO2" in message
    s.refresh_from_db()
    assert s.state == "monitoring"


def test_a_reading_within_the_thresholds_after_it_lets_the_patient_leave(patient, prescriber,
                                                                          nurse):
    s = observed(patient, prescriber, nurse)
    actions.record_vitals(s, observed_at=minutes_ago(10), values={**CALM, **DEPRESSED}, by=nurse,
                          late_reason=LATE)
    acknowledge_all(nurse)
    actions.record_vitals(s, observed_at=minutes_ago(2), values={**CALM, "moaas": 5}, by=nurse)
    score = {"discharge_score": {"answer": "recorded", "value": 9}}

    s = step(s, "discharged", minutes_ago(0), nurse, checklist={**RESOLVED, **score})

    assert s.state == "discharged"


def test_deep_sedation_on_the_latest_reading_alone_keeps_the_patient(patient, prescriber, nurse):
    s = observed(patient, prescriber, nurse)
    actions.record_vitals(s, observed_at=minutes_ago(5), values={**CALM, "moaas": 2}, by=nurse,
                          late_reason=LATE)
    acknowledge_all(nurse)
    score = {"discharge_score": {"answer": "recorded", "value": 9}}

    with pytest.raises(StepRefused) as exc:
        step(s, "discharged", minutes_ago(0), nurse, checklist={**RESOLVED, **score})

    assert guards(exc) == {"latest_reading_within_thresholds"}


def test_a_reading_entered_in_error_does_not_count_as_the_latest(patient, prescriber, nurse):
    s = observed(patient, prescriber, nurse)
    bad = actions.record_vitals(s, observed_at=minutes_ago(3), values={**CALM, "spo2_pct": 86},
                                by=nurse, late_reason=LATE)
    acknowledge_all(nurse)
    def keeping_the_patient() -> tuple[str, ...]:
        return facts.latest_reading_alerts(list(VitalReading.objects.filter(session=s)),
                                           facts.session_protocol(s), patient.clinic_id, minutes_ago(0))

    assert keeping_the_patient()
    actions.mark_vitals_entered_in_error(bad.reading, reason="another patient's probe", by=nurse)
    assert keeping_the_patient() == ()


def test_the_escalated_severities_match_those_the_alerts_are_escalated_for():
    assert facts.NOT_FIT_TO_LEAVE_SEVERITIES == vitals.URGENT_SEVERITIES


def test_a_discharge_score_below_the_threshold_refuses_an_esketamine_discharge_judged_stable(
        patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber, drug="esketamine", route="intranasal")
    s = cleared(patient, prescriber, nurse, ESKETAMINE, start=170)
    s = step(s, "dosing", minutes_ago(160), nurse, late_reason=LATE, administration={"dose_mg": 56})
    for ago in (159, 158):
        actions.record_administration_event(s, kind="device", at=minutes_ago(ago), by=nurse,
                                            late_reason=LATE)
    actions.record_vitals(s, observed_at=minutes_ago(150), values=CALM, by=nurse, late_reason=LATE)
    s = step(s, "monitoring", minutes_ago(130), nurse, late_reason=LATE)
    low = {"discharge_score": {"answer": "recorded", "value": 7}}

    with pytest.raises(StepRefused) as exc:
        step(s, "discharged", minutes_ago(0), nurse, checklist={**RESOLVED, **low})

    assert guards(exc) == {"discharge_criteria"}
    assert "7" in exc.value.unmet[0].message and "9 or more" in exc.value.unmet[0].message
    ok = {"discharge_score": {"answer": "recorded", "value": 9}}
    assert step(s, "discharged", minutes_ago(0), nurse, checklist={**RESOLVED, **ok}).state == "discharged"


def test_a_discharged_sessions_page_stops_its_counters_at_the_discharge(patient, prescriber, nurse):
    """Dosed 160 minutes ago, observed from 130, discharged 5 minutes ago: the page counts to
    the discharge, not on to now."""
    s = observed(patient, prescriber, nurse)
    score = {"discharge_score": {"answer": "recorded", "value": 9}}
    s = step(s, "discharged", minutes_ago(5), nurse, checklist={**RESOLVED, **score}, late_reason=LATE)

    page = login(nurse).get(f"/sessions/{s.pk}/").content.decode()

    status = page[page.index('aria-label="Session status"'):page.index("</section>", page.index(
        'aria-label="Session status"'))]
    assert "155 min" in status and "125 of 120 min" in status  # at the discharge, 5 minutes ago
    assert "until discharged at" in status
