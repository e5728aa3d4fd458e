"""The portal asks the patient, from the day after a dosing session, how they have been; any
effect they report lands as a patient-reported adverse event for the care team to review
(a follow-up alert). Asked once per session, for a few days."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from kapclinic.alerts.actions import raise_alert
from kapclinic.alerts.models import Alert
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.patients.models import Patient
from kapclinic.treatment import ae_actions
from kapclinic.treatment.ae_chart import CHECK_IN_RECORD
from kapclinic.treatment.ae_models import (
    ADVERSE_EVENT_RECORD,
    AdverseEvent,
    AfterSessionCheckIn,
    Feeling,
    Reporter,
    Severity,
)
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import Administration, Session, State

# [policy: labelled default; the reference is silent] the question is shown from the day after
# the dose for this many days, then left (the care team sees the session on the chart)
ASK_FOR_DAYS = 3


def sessions_to_ask(patient: Patient, now=None) -> list[Session]:
    """The patient's sessions dosed from 1 to ASK_FOR_DAYS days ago (the clinic's days) that
    have ended (discharged, or stopped early) and are not yet answered, most recent first;
    each carries ``dosed_at`` (when the dose started), which the question names."""
    now = now or timezone.now()
    today = timezone.localdate(now, patient.clinic.zone)
    dosed = (Administration.objects.filter(session__patient=patient, entered_in_error_at__isnull=True,
                                           session__state__in=(State.DISCHARGED, State.STOPPED),
                                           started_at__gte=now - timedelta(days=ASK_FOR_DAYS + 1))
             .select_related("session").order_by("-started_at"))
    found: dict[int, Session] = {}
    for given in dosed:
        days = (today - timezone.localdate(given.started_at, patient.clinic.zone)).days
        if 1 <= days <= ASK_FOR_DAYS and not hasattr(given.session, "after_check_in"):
            given.session.dosed_at = given.started_at
            found.setdefault(given.session_id, given.session)
    return list(found.values())


@action
def answer(*, session: Session, feeling: str, effects: list[str], severity: str, note: str,
           by) -> AfterSessionCheckIn:
    """The patient's answer; each effect named becomes a patient-reported event (as strong as
    they say, not graded, onset not known) with what they wrote, and the care team gets an
    alert to review it: urgent for what the label's boxed warnings name (suicidal thoughts,
    breathing) or anything the patient calls severe, a follow-up otherwise. Words alone, with
    no effect ticked, reach the care team as a follow-up too."""
    if feeling not in Feeling.values:
        raise FieldError("feeling", "choose how you have been")
    if feeling == Feeling.EFFECTS and severity not in Severity.values:
        raise FieldError("severity", "say how strong the effects were")
    if session.pk not in {s.pk for s in sessions_to_ask(session.patient)}:
        found = AfterSessionCheckIn.objects.filter(session=session).first()
        if found is not None:
            return found  # answered already (a retry)
        raise FieldError("session", "this session is not one we are asking about now")
    vocabulary = ae_actions.vocabulary_for(session.patient.clinic_id)
    terms = vocabulary.terms
    effects = [e for e in dict.fromkeys(effects) if e]
    if feeling == Feeling.EFFECTS and not effects and not (note or "").strip():
        raise FieldError("effects", "tick the effects you have had, or describe them")
    if any(e not in terms for e in effects):
        raise FieldError("effects", "choose from the list, or describe the effect below")
    note = ae_actions.clean_text("note", note)
    try:
        with transaction.atomic():
            check_in = AfterSessionCheckIn.objects.create(
                session=session, clinic_id=session.patient.clinic_id, patient=session.patient,
                feeling=feeling, note=note)
    except IntegrityError:
        return AfterSessionCheckIn.objects.get(session=session)
    trail.record("create", object_type="after_session_check_in", object_id=check_in.pk,
                 patient_id=session.patient_id, detail={"feeling": feeling, "effects": len(effects)})
    if feeling == Feeling.EFFECTS:
        for term in effects or [ae_actions.OTHER]:
            event = ae_actions.record_event(
                patient=session.patient, session=session, term=term, description=note,
                onset_at=None, severity=severity, grade=None, serious_criteria=[],
                key=f"portal-{check_in.pk}-{term}"[:64], reported_by=Reporter.PATIENT, by=by)
            _ask_for_review(event, urgent=urgent(vocabulary, [term], severity))
    elif note:
        raise_alert(clinic_id=session.patient.clinic_id, source=ae_actions.ALERT_SOURCE,
                    kind="patient_note", patient=session.patient, record_type=CHECK_IN_RECORD,
                    record_id=check_in.pk, priority=Alert.Priority.FOLLOW_UP,
                    label="Patient wrote after their session (feels fine)",
                    recommended_action="Read what they wrote; call them if it needs it.", by=None)
    return check_in



def urgent(vocabulary, effects: list[str], severity: str) -> bool:
    """Whether what the patient reports reaches the care team as urgent."""
    return severity == Severity.SEVERE or any(e in vocabulary.urgent_when_patient_reports for e in effects)


def _ask_for_review(event: AdverseEvent, *, urgent: bool) -> Alert:
    return raise_alert(clinic_id=event.clinic_id, source=ae_actions.ALERT_SOURCE,
                       kind="patient_reported_event", patient=event.patient,
                       record_type=ADVERSE_EVENT_RECORD, record_id=event.pk,
                       priority=Alert.Priority.URGENT if urgent else Alert.Priority.FOLLOW_UP,
                       label=f"Patient reported after their session: {event.term}"
                             + (f" ({event.get_severity_display().lower()})" if urgent else ""),
                       recommended_action="Call the patient; then review the event: its "
                                          "seriousness and causality." if urgent else
                                          "Review the event: its seriousness and causality.",
                       by=None)
