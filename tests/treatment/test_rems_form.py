"""The Spravato REMS Patient Monitoring Form of an esketamine session: built from what the
session recorded (hand-checked against sessions.md 1.1), marked submitted once, and a reminder
when it is still not submitted 5 days after the treatment (it is due within 7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kapclinic.alerts.actions import acknowledge_alert
from kapclinic.alerts.models import Alert
from kapclinic.audit.models import AuditEntry
from kapclinic.platform import extensions
from kapclinic.treatment import actions, rems
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import Administration
from kapclinic.treatment.rems_models import RemsFormDetails, RemsSubmission
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


def esketamine_session(patient, prescriber, nurse, *, lot: str = "SPR-0042"):
    """Dosed 160 min ago (56 mg), BP ~40 min after, effects resolved at 80 min, discharged
    by the nurse at 130 min after the first device."""
    eligible_and_consented(patient, prescriber, drug="esketamine", route="intranasal")
    s = cleared(patient, prescriber, nurse, ESKETAMINE)  # pre-dose 122/78 at 168 min ago
    s = step(s, "dosing", minutes_ago(160), nurse, late_reason=LATE,
             administration={"dose_mg": 56, "lot": lot})
    for ago in (160, 154):  # the dose's two devices, before observation starts
        actions.record_administration_event(s, kind="device", at=minutes_ago(ago), by=nurse, late_reason=LATE)
    vitals = [(145, {**CALM, "sbp_mmhg": 130, "dbp_mmhg": 84, "moaas": 4}),
              (120, {**CALM, "sbp_mmhg": 136, "dbp_mmhg": 86}),
              (60, {**CALM, "sbp_mmhg": 124, "dbp_mmhg": 80, "moaas": 5})]
    for ago, values in vitals[:1]:
        actions.record_vitals(s, observed_at=minutes_ago(ago), values=values, by=nurse, late_reason=LATE)
    s = step(s, "monitoring", minutes_ago(140), nurse, late_reason=LATE)
    for ago, values in vitals[1:]:
        actions.record_vitals(s, observed_at=minutes_ago(ago), values=values, by=nurse, late_reason=LATE)
    for item in ("sedation_resolved", "dissociation_resolved", "respiratory_depression_resolved"):
        actions.record_checklist(s, item=item, answer="yes", at=minutes_ago(80), by=nurse,
                                 late_reason=LATE)
    actions.record_vitals(s, observed_at=minutes_ago(35), by=nurse,
                          values={**CALM, "sbp_mmhg": 120, "dbp_mmhg": 78, "moaas": 5})
    return step(s, "discharged", minutes_ago(30), nurse, checklist={"judged_stable": "yes"})


def shown(content) -> dict[str, dict[str, str]]:
    return {s.label: {f.label: f.shown for f in s.fields} for s in content.sections}


def test_the_form_is_filled_from_what_the_session_recorded(patient, prescriber, nurse):
    RemsFormDetails.objects.create(clinic=patient.clinic, address="1 Pier Rd", city="Portland",
                                   state="ME", zip_code="04101")
    s = esketamine_session(patient, prescriber, nurse)
    form = shown(rems.form_for(s))
    assert form["Patient"] == {"First name": "Ada", "Middle initial": "", "Last name": "Lovelace",
                               "Date of birth": "1985-12-10", "Sex": "Female"}
    # the discharging nurse is the monitoring clinician (no phone kept for staff)
    assert form["Monitoring clinician"] == {"First name": "Nina", "Last name": "Nurse", "Phone": "",
                                            "Email": ""}
    assert form["Healthcare setting"] == {"Name": "Clinic A", "Address": "1 Pier Rd",
                                          "City": "Portland", "State": "ME", "ZIP": "04101"}
    dosed = Administration.objects.get(session=s).started_at
    assert form["Treatment"] == {"Date of treatment": timezone.localtime(
        dosed, patient.clinic.zone).date().isoformat(), "Dose given": "56 mg", "Lot number": "SPR-0042"}
    # first device 160 min ago, discharged 30 min ago: 130; effects resolved 80 min ago: 80
    assert list(form["Duration"].values()) == ["130"]
    assert list(form["REMS evaluation"].values()) == ["80"]
    assert form["Vital signs"] == {"Acceptable before dosing": "Yes",
                                   "Acceptable before the session ended": "Yes"}
    assert form["Blood pressure (mmHg)"] == {"Before dosing": "122/78",
                                             "About 40 minutes after dosing": "136/86",
                                             "Before the end of the session": "120/78"}
    assert form["Adverse effects"]["Sedation"] == "Yes"  # MOAA/S 4 at 15 min
    missing = rems.form_for(s).missing
    assert any(m.startswith("Concomitant medications: Benzodiazepines") for m in missing)
    assert any(m.startswith("Adverse effects: Dissociation") for m in missing)


def test_only_an_esketamine_session_with_a_dose_has_a_form(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    iv = cleared(patient, prescriber, nurse)
    assert rems.form_for(iv) is None
    with pytest.raises(FieldError) as exc:
        rems.mark_rems_submitted(session=iv, submitted_on=timezone.localdate(), method="fax", by=nurse)
    assert exc.value.field == "session"


def test_marking_it_submitted_twice_stores_it_once_and_a_different_day_is_refused(
        patient, prescriber, nurse):
    s = esketamine_session(patient, prescriber, nurse)
    today = timezone.localtime(timezone.now(), patient.clinic.zone).date()
    first = rems.mark_rems_submitted(session=s, submitted_on=today, method="fax", by=nurse)
    again = rems.mark_rems_submitted(session=s, submitted_on=today, method="fax", by=nurse)
    assert first.pk == again.pk and RemsSubmission.objects.filter(session=s).count() == 1
    assert AuditEntry.objects.filter(object_type="rems_submission").count() == 1
    assert first.content["sections"][4]["fields"][2]["shown"] == "SPR-0042"  # as filed
    with pytest.raises(FieldError, match="already marked submitted on"):
        rems.mark_rems_submitted(session=s, submitted_on=today, method="online", by=nurse)
    rems.mark_rems_submission_entered_in_error(first, reason="Marked on the wrong day", by=nurse)
    corrected = rems.mark_rems_submitted(session=s, submitted_on=today, method="online", by=nurse)
    assert RemsSubmission.objects.filter(session=s).count() == 2  # the first stays, marked
    assert rems.standing_submission(s) == corrected


def test_a_submission_day_in_the_future_is_refused(patient, prescriber, nurse):
    s = esketamine_session(patient, prescriber, nurse)
    with pytest.raises(FieldError) as exc:
        rems.mark_rems_submitted(session=s, submitted_on=timezone.localdate() + timedelta(days=2),
                                 method="fax", by=nurse)
    assert exc.value.field == "submitted_on"


def test_a_reminder_is_raised_5_days_after_the_treatment_and_only_once(patient, prescriber, nurse):
    s = esketamine_session(patient, prescriber, nurse)
    dosed = Administration.objects.get(session=s).started_at
    clinic = patient.clinic_id
    assert rems.remind_unsubmitted(clinic, dosed + timedelta(days=5) - timedelta(minutes=1)) == 0
    assert rems.remind_unsubmitted(clinic, dosed + timedelta(days=5)) == 1
    assert rems.remind_unsubmitted(clinic, dosed + timedelta(days=5, hours=1)) == 0
    [alert] = Alert.objects.filter(kind=rems.REMINDER_KIND)
    assert alert.patient_id == patient.pk and alert.priority == Alert.Priority.FOLLOW_UP
    assert "not yet submitted" in alert.label
    due = (timezone.localtime(dosed, patient.clinic.zone).date() + timedelta(days=7)).isoformat()
    assert f"by {due}" in alert.recommended_action


def test_the_worker_reminds_through_its_registered_step_and_not_once_submitted(
        patient, prescriber, nurse):
    s = esketamine_session(patient, prescriber, nurse)
    dosed = Administration.objects.get(session=s).started_at
    assert "treatment.rems_reminder" in {step.key for step in extensions.worker_steps()}
    rems.mark_rems_submitted(session=s, submitted_on=timezone.localtime(
        timezone.now(), patient.clinic.zone).date(), method="online", by=nurse)
    report = extensions.run_worker_steps([patient.clinic_id], dosed + timedelta(days=6))
    assert report.done[rems.REMINDING] == 0 and not report.failed
    assert not Alert.objects.filter(kind=rems.REMINDER_KIND).exists()


def test_another_clinics_worker_pass_does_not_remind_about_this_clinics_form(
        patient, prescriber, nurse, clinic_b):
    s = esketamine_session(patient, prescriber, nurse)
    dosed = Administration.objects.get(session=s).started_at
    assert rems.remind_unsubmitted(clinic_b.pk, dosed + timedelta(days=6)) == 0


@pytest.mark.parametrize("peak, ticked", [(6.0, "Yes"), (0.0, "No")])
def test_dissociation_is_filled_from_the_cadss6_scored_in_the_session(patient, prescriber, nurse,
                                                                      peak, ticked):
    from kapclinic.platform import extensions as ext

    s = esketamine_session(patient, prescriber, nurse)
    with ext.registrations_undone():
        ext.register(ext.SessionScores("cadss", lambda ids: {sid: {"cadss6": peak} for sid in ids}))
        content = rems.form_for(s)
    assert shown(content)["Adverse effects"]["Dissociation"] == ticked
    assert not any(m.startswith("Adverse effects: Dissociation") for m in content.missing)


def test_acceptable_before_the_session_ended_is_blank_under_observation_then_follows_the_readings(
        patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber, drug="esketamine", route="intranasal")
    s = cleared(patient, prescriber, nurse, ESKETAMINE)  # pre-dose 122/78
    s = step(s, "dosing", minutes_ago(160), nurse, late_reason=LATE, administration={"dose_mg": 56})
    for ago in (160, 154):
        actions.record_administration_event(s, kind="device", at=minutes_ago(ago), by=nurse, late_reason=LATE)
    s = step(s, "monitoring", minutes_ago(140), nurse, late_reason=LATE)
    actions.record_vitals(s, observed_at=minutes_ago(120), by=nurse, late_reason=LATE,
                          values={**CALM, "sbp_mmhg": 150, "dbp_mmhg": 92})  # ~40 min, no alert

    under_observation = shown(rems.form_for(s))["Vital signs"]
    assert under_observation["Acceptable before the session ended"] == ""

    for item in ("sedation_resolved", "dissociation_resolved", "respiratory_depression_resolved"):
        actions.record_checklist(s, item=item, answer="yes", at=minutes_ago(80), by=nurse,
                                 late_reason=LATE)
    # the last reading before the end: a large rise from before dosing (the prescriber called)
    actions.record_vitals(s, observed_at=minutes_ago(35), by=nurse, late_reason=LATE,
                          values={**CALM, "sbp_mmhg": 166, "dbp_mmhg": 96, "moaas": 5})
    for alert in Alert.objects.open():
        acknowledge_alert(alert=alert, note="Prescriber reviewed; settling", by=nurse)
    s = step(s, "discharged", minutes_ago(30), nurse, checklist={"judged_stable": "yes"})

    ended = shown(rems.form_for(s))["Vital signs"]
    assert ended["Acceptable before the session ended"] == "No"
