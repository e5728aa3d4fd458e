"""The worker flags readings a session in progress has missed: one alert per missed due time,
whatever the number of passes, none for a session read on time, each clinic on its own."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kapclinic.alerts.models import Alert
from kapclinic.platform import extensions
from kapclinic.treatment import actions, worker
from kapclinic.treatment.models import TreatmentSettings
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


def dosing(patient, prescriber, nurse, *, dose_minutes_ago: float, protocol: str = "iv_racemic_ketamine",
           **dose):
    s = cleared(patient, prescriber, nurse, protocol, start=dose_minutes_ago + 5)
    return step(s, "dosing", minutes_ago(dose_minutes_ago), nurse, late_reason=LATE,
                administration=dose or {"dose_mg_per_kg": 0.5})


def overdue_alerts(session):
    return list(Alert.objects.filter(source="treatment", kind__startswith="reading_",
                                     patient=session.patient).order_by("id"))


def test_a_session_with_no_reading_past_its_interval_gets_one_overdue_alert_after_two_passes(
        patient, prescriber, nurse, clinic_a):
    eligible_and_consented(patient, prescriber)
    # IV: a reading every 10 minutes while dosing; the last one (pre-dose) was 23 minutes ago
    s = dosing(patient, prescriber, nurse, dose_minutes_ago=20)
    first = extensions.run_worker_steps([clinic_a.pk], timezone.now())
    second = extensions.run_worker_steps([clinic_a.pk], timezone.now())
    alerts = overdue_alerts(s)
    assert [a.kind for a in alerts] == ["reading_overdue"]
    assert "was due every 10 minutes and is 13 minutes late" in alerts[0].label
    assert alerts[0].recommended_action == "A reading is overdue: take the reading now."
    assert (first.done[worker.OVERDUE], second.done[worker.OVERDUE]) == (1, 0)
    assert not first.failed and not second.failed


def test_a_reading_taken_on_time_raises_no_alert(patient, prescriber, nurse, clinic_a):
    eligible_and_consented(patient, prescriber)
    s = dosing(patient, prescriber, nurse, dose_minutes_ago=20)
    actions.record_vitals(s, observed_at=minutes_ago(3), values=CALM, by=nurse)
    extensions.run_worker_steps([clinic_a.pk], timezone.now())
    assert overdue_alerts(s) == []


def test_a_new_miss_after_a_late_reading_is_a_new_alert(patient, prescriber, nurse, clinic_a):
    eligible_and_consented(patient, prescriber)
    s = dosing(patient, prescriber, nurse, dose_minutes_ago=35)
    extensions.run_worker_steps([clinic_a.pk], timezone.now())
    actions.record_vitals(s, observed_at=minutes_ago(18), values=CALM, by=nurse, late_reason=LATE)
    extensions.run_worker_steps([clinic_a.pk], timezone.now())
    assert [a.kind for a in overdue_alerts(s)] == ["reading_overdue", "reading_overdue"]
    assert len({a.record_id for a in overdue_alerts(s)}) == 2


def test_a_missed_40_minute_esketamine_reading_is_flagged_once(patient, prescriber, nurse, clinic_a):
    eligible_and_consented(patient, prescriber, drug="esketamine", route="intranasal")
    s = dosing(patient, prescriber, nurse, dose_minutes_ago=50, protocol=ESKETAMINE, dose_mg=56)
    # every 15 minutes, but none from 35 minutes after the dose (the mark, less 5 minutes' grace)
    actions.record_vitals(s, observed_at=minutes_ago(30), values=CALM, by=nurse)
    actions.record_vitals(s, observed_at=minutes_ago(16), values=CALM, by=nurse)
    for _ in range(2):
        extensions.run_worker_steps([clinic_a.pk], timezone.now())
    alerts = overdue_alerts(s)
    assert [a.kind for a in alerts] == ["reading_mark_overdue_40min"]
    assert alerts[0].label == "The reading due 40 minutes after the dose is overdue"
    assert alerts[0].recommended_action == "Take the 40-minute reading now."


def test_an_open_overdue_alert_shows_on_the_room_board(
        patient, prescriber, nurse, clinic_a):
    from kapclinic.treatment import board

    eligible_and_consented(patient, prescriber)
    s = dosing(patient, prescriber, nurse, dose_minutes_ago=20)
    extensions.run_worker_steps([clinic_a.pk], timezone.now())
    row = board.in_progress(clinic_a.pk, timezone.now())[0]
    assert [a["label"] for a in row["open_alerts"]] == [overdue_alerts(s)[0].label]


def test_another_clinics_failure_does_not_stop_the_overdue_alerts(
        patient, prescriber, nurse, clinic_a, clinic_b, other_clinician):
    eligible_and_consented(patient, prescriber)
    s = dosing(patient, prescriber, nurse, dose_minutes_ago=20)
    # clinic B's stored setting is out of its bounds: its settings cannot be read
    TreatmentSettings.objects.create(clinic=clinic_b,
                                     monitoring_values={"reading_overdue_after_minutes": 999})
    report = extensions.run_worker_steps([clinic_b.pk, clinic_a.pk], timezone.now())
    assert report.failed == [f"{worker.OVERDUE} for clinic {clinic_b.pk}"]
    assert [a.kind for a in overdue_alerts(s)] == ["reading_overdue"]


def test_a_reading_entered_in_error_does_not_count_as_taken(patient, prescriber, nurse, clinic_a):
    eligible_and_consented(patient, prescriber)
    s = dosing(patient, prescriber, nurse, dose_minutes_ago=20)
    wrong = actions.record_vitals(s, observed_at=minutes_ago(2), values=CALM, by=nurse).reading
    actions.mark_vitals_entered_in_error(wrong, reason="Keyed on the wrong patient", by=nurse)
    extensions.run_worker_steps([clinic_a.pk], timezone.now())
    assert [a.kind for a in overdue_alerts(s)] == ["reading_overdue"]
    assert overdue_alerts(s)[0].record_id != wrong.pk

