"""The Spravato REMS Patient Monitoring Form of an esketamine session (sessions.md 1.1).

    form_for(session) -> FormContent | None
        the form built from the session (clinical.rems.build_form); None: not an esketamine
        session with a dose, so no form.
    mark_rems_submitted(*, session, submitted_on, method, by) -> RemsSubmission
        an @action; marking it again with the same day and method stores nothing more; a
        different day or method is refused (mark the first entered in error, then again).
    mark_rems_submission_entered_in_error(submission, *, reason, by) -> bool
    remind_unsubmitted(clinic_id, now) -> int
        the worker step: a follow-up alert for each form still not submitted the clinic's
        reminder days (default 5) after the treatment, once per session (the form is due
        within 7 days: sessions.md 1 Patient Monitoring Form row).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Exists, Min, OuterRef, Q
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.accounts.scoping import for_clinic
from kapclinic.alerts.actions import raise_alert
from kapclinic.alerts.models import Alert
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.audit.corrections import mark_entered_in_error
from kapclinic.clinical import rems
from kapclinic.platform import extensions
from kapclinic.platform import extensions as ext
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import (
    ALERT_SOURCE,
    READING_RECORD,
    Administration,
    Answer,
    ChecklistEntry,
    ChecklistItem,
    Phase,
    Session,
    SessionEvent,
    State,
    VitalReading,
)
from kapclinic.treatment.rems_models import RemsFormDetails, RemsSubmission, SubmissionMethod

SESSION_RECORD = "treatment.session"  # what a reminder alert names (alerts.Alert.record_type)
REMINDER_KIND = "rems_form_not_submitted"
REMINDING = "REMS form reminders"  # the step's label in the worker's report
BATCH = 200
RESOLVED_ITEMS = (ChecklistItem.SEDATION_RESOLVED, ChecklistItem.DISSOCIATION_RESOLVED,
                  ChecklistItem.RESPIRATORY_DEPRESSION_RESOLVED)


def has_form(session: Session) -> bool:
    return session.drug == rems.REMS_DRUG


def _given(session: Session) -> Administration | None:
    """The dose the form reports (the first given; one marked in error does not count)."""
    return (Administration.objects.filter(session=session, entered_in_error_at__isnull=True)
            .select_related("session").order_by("started_at", "id").first())


def _zone(session: Session) -> ZoneInfo:
    return ZoneInfo(session.patient.clinic.time_zone)


def _ended(session: Session) -> SessionEvent | None:
    return (SessionEvent.objects.filter(session=session, to_state__in=(State.DISCHARGED, State.STOPPED))
            .select_related("recorded_by").first())


def _resolved_at(session: Session) -> datetime | None:
    latest: dict[str, ChecklistEntry] = {}
    for entry in ChecklistEntry.objects.filter(session=session, item__in=RESOLVED_ITEMS).order_by("at", "id"):
        latest[entry.item] = entry
    if len(latest) < len(RESOLVED_ITEMS) or any(e.answer != Answer.YES for e in latest.values()):
        return None
    return max(e.at for e in latest.values())


def _acceptable_before_dosing(session: Session) -> bool | None:
    """From the step into 'cleared': pre-dose readings taken and none holding the dose."""
    cleared = SessionEvent.objects.filter(session=session, to_state=State.CLEARED).first()
    if cleared is None or not cleared.facts.get("predose_vitals_taken"):
        return None
    return not cleared.facts.get("predose_hold_alerts")


def _acceptable_before_end(readings: list[VitalReading], ended: SessionEvent | None) -> bool | None:
    """The last reading after the dose (up to the end) raised no alert; blank (None) until the
    session has ended: while it is under observation nobody knows yet."""
    after = [r for r in readings if r.phase != Phase.PRE_DOSE]
    if ended is None or not after:
        return None
    return not Alert.objects.filter(source=ALERT_SOURCE, record_type=READING_RECORD,
                                    record_id=after[-1].pk, entered_in_error_at__isnull=True).exists()


def form_facts(session: Session, given: Administration) -> rems.RemsFacts:
    """What the session, the patient, the discharging clinician and the clinic's details
    say, as the plain facts the form is built from."""
    patient, zone = session.patient, _zone(session)
    ended = _ended(session)
    clinician: User | None = ended.recorded_by if ended is not None else None
    details = RemsFormDetails.for_clinic(patient.clinic_id)
    readings = list(VitalReading.objects.filter(session=session, entered_in_error_at__isnull=True)
                    .order_by("observed_at", "id"))
    if ended is not None:
        readings = [r for r in readings if r.observed_at <= ended.at]
    return rems.RemsFacts(
        patient_first_name=patient.given_name, patient_last_name=patient.family_name,
        patient_date_of_birth=patient.date_of_birth, patient_sex=patient.get_sex_at_birth_display(),
        clinician_first_name="" if clinician is None else clinician.first_name,
        clinician_last_name="" if clinician is None else clinician.last_name,
        clinician_email="" if clinician is None else clinician.email,
        setting_name=details.setting_name or patient.clinic.name, setting_address=details.address,
        setting_city=details.city, setting_state=details.state, setting_zip=details.zip_code,
        treatment_date=given.started_at.astimezone(zone).date(), dose_mg=given.dose_mg, lot=given.lot,
        first_device_at=given.started_at, monitoring_ended_at=None if ended is None else ended.at,
        effects_resolved_at=_resolved_at(session),
        vitals_acceptable_before_dosing=_acceptable_before_dosing(session),
        vitals_acceptable_before_end=_acceptable_before_end(readings, ended),
        dissociation=_dissociation(session),
        readings=tuple(rems.Reading(observed_at=r.observed_at, after_dose=r.phase != Phase.PRE_DOSE,
                                    sbp_mmhg=r.sbp_mmhg, dbp_mmhg=r.dbp_mmhg, moaas=r.moaas)
                       for r in readings))


def _dissociation(session: Session) -> bool | None:
    """Whether dissociation occurred: yes when the nurse recorded it as a side effect or a
    CADSS-6 scored in the session endorsed any item (a total above 0: every item scored 0 is
    "not at all"); no when a CADSS-6 of 0 was the session's highest and none was recorded;
    unknown otherwise (the form asks to tick it)."""
    if session.observations.filter(kind="side_effect", code="dissociation").exists():
        return True
    peak = ext.session_peaks([session.pk]).get(session.pk, {}).get("cadss6")
    return None if peak is None else peak > 0


def form_for(session: Session) -> rems.FormContent | None:
    """The session's form, or None when it has none (not esketamine, or no dose given)."""
    if not has_form(session):
        return None
    given = _given(session)
    if given is None:
        return None
    version = RemsFormDetails.for_clinic(session.patient.clinic_id).form_version
    return rems.build_form(rems.get_form(version), form_facts(session, given))


def standing_submission(session: Session) -> RemsSubmission | None:
    return RemsSubmission.objects.filter(session=session, entered_in_error_at__isnull=True).first()


def _today(session: Session) -> date:
    return timezone.now().astimezone(_zone(session)).date()


@action
def mark_rems_submitted(*, session: Session, submitted_on: date, method: str,
                        by: User | None) -> RemsSubmission:
    """Mark the session's form submitted on ``submitted_on`` by ``method`` (online, fax),
    keeping the form's content as filed. Idempotent; a different day or method is refused
    (FieldError) rather than overwriting what was recorded."""
    if method not in SubmissionMethod.values:
        raise FieldError("method", f"'{method}' is not one of {', '.join(SubmissionMethod.values)}")
    session = Session.objects.select_related("patient__clinic").get(pk=session.pk)
    content = form_for(session)
    given = _given(session)
    if content is None or given is None:
        raise FieldError("session", "only an esketamine session with a dose has a REMS form")
    treated_on = given.started_at.astimezone(_zone(session)).date()
    if submitted_on > _today(session):
        raise FieldError("submitted_on", "is in the future: mark the form once it is submitted")
    if submitted_on < treated_on:
        raise FieldError("submitted_on", f"is before the treatment ({treated_on.isoformat()})")
    existing = standing_submission(session)
    if existing is not None:
        if (existing.submitted_on, existing.method) == (submitted_on, method):
            return existing  # a double click or a retry: stored once
        raise FieldError("submitted_on", f"the form was already marked submitted on "
                                         f"{existing.submitted_on.isoformat()} "
                                         f"({existing.get_method_display().lower()}): mark that "
                                         "entered in error first")
    submission = RemsSubmission.objects.create(
        session=session, patient_id=session.patient_id, form_version=content.version,
        submitted_on=submitted_on, method=method, content=content.to_dict(), recorded_by=by)
    trail.record("create", object_type="rems_submission", object_id=submission.pk,
                 patient_id=session.patient_id,
                 detail={"session": session.pk, "submitted_on": submitted_on.isoformat(),
                         "method": method, "form_version": content.version})
    return submission


@action
def mark_rems_submission_entered_in_error(submission: RemsSubmission, *, reason: str,
                                          by: User) -> bool:
    """A submission marked on the wrong session or day stays on file, marked."""
    return mark_entered_in_error(submission, reason=reason, by=by, object_type="rems_submission",
                                 what="submission")


# ---- the reminder (a worker step) ----------------------------------------------------------

def due_reminders(clinic_id: int, now: datetime):
    """The clinic's esketamine sessions whose form is still not submitted the reminder days
    after the dose, and not reminded yet."""
    days = RemsFormDetails.for_clinic(clinic_id).remind_after_days
    standing = RemsSubmission.objects.filter(session=OuterRef("pk"), entered_in_error_at__isnull=True)
    reminded = Alert.objects.filter(source=ALERT_SOURCE, kind=REMINDER_KIND,
                                    record_type=SESSION_RECORD, record_id=OuterRef("pk"))
    return (for_clinic(Session.objects.filter(drug=rems.REMS_DRUG), clinic_id)
            .annotate(dosed_at=Min("administrations__started_at",
                                   filter=Q(administrations__entered_in_error_at__isnull=True)))
            .filter(dosed_at__lte=now - timedelta(days=days))
            .exclude(Exists(standing)).exclude(Exists(reminded))
            .select_related("patient__clinic").order_by("dosed_at")[:BATCH])


def remind_unsubmitted(clinic_id: int, now: datetime) -> int:
    """One follow-up alert per form still not submitted (raise_alert is idempotent per
    session, so two workers or two passes raise it once)."""
    raised = 0
    for session in due_reminders(clinic_id, now):
        form = rems.get_form(RemsFormDetails.for_clinic(clinic_id).form_version)
        treated_on = session.dosed_at.astimezone(_zone(session)).date()
        due_on = treated_on + timedelta(days=form.submit_within_days)
        raise_alert(
            clinic_id=clinic_id, source=ALERT_SOURCE, kind=REMINDER_KIND,
            label=f"Spravato REMS monitoring form of {treated_on.isoformat()} not yet submitted",
            patient=session.patient, record_type=SESSION_RECORD, record_id=session.pk,
            recommended_action=f"Submit the Patient Monitoring Form (online or by fax) by "
                               f"{due_on.isoformat()}, then mark it submitted on the session's "
                               "REMS form page.",
            priority=Alert.Priority.FOLLOW_UP, raised_at=now, by=None)
        raised += 1
    return raised


def worker_step() -> extensions.WorkerStep:
    # after the alerts app's escalation (30): a reminder is a follow-up, never escalated
    return extensions.WorkerStep("treatment.rems_reminder", REMINDING, remind_unsubmitted, order=35)
