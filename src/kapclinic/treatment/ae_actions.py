"""Every write of an adverse event: recording it, the prescriber's review, the report to the
Spravato REMS, closing it with its outcome, and marking one entered in error.

A serious event (any ICH E2A criterion) raises an urgent alert to the prescriber at once (the
alerts worker escalates it if nobody answers); the prescriber's review acknowledges it, and
the event cannot be closed before that review."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.alerts.actions import acknowledge_alert, raise_alert
from kapclinic.alerts.models import Alert
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.audit.corrections import mark_entered_in_error
from kapclinic.clinical import safety
from kapclinic.clinical.rems import REMS_DRUG
from kapclinic.patients.models import Patient
from kapclinic.treatment.ae_models import (
    ADVERSE_EVENT_RECORD,
    AdverseEvent,
    AdverseEventClosure,
    AdverseEventRemsReport,
    AdverseEventReview,
    AdverseEventSettings,
    Reporter,
    Severity,
)
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import Session

ALERT_SOURCE = "adverse_events"
OTHER = "Other (describe)"
MAX_TEXT = 4000
CLOCK_SKEW = timedelta(minutes=5)
EARLIEST_YEAR = 2000  # an engineering bound: no clinic record is older


def vocabulary_for(clinic_id: int) -> safety.Vocabulary:
    """The clinic's lists over the labelled defaults."""
    return safety.default_vocabulary().with_lists(AdverseEventSettings.for_clinic(clinic_id).lists)


def clean_text(field: str, value: str, *, required: bool = False, max_length: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise FieldError(field, "is required")
    if len(value) > max_length:
        raise FieldError(field, f"is longer than {max_length} characters")
    return value


def _one_of(field: str, value: str, allowed, *, required: bool = True) -> str:
    value = (value or "").strip()
    if not value and not required:
        return ""
    if value not in allowed:
        raise FieldError(field, f"choose one of the clinic's list ({', '.join(list(allowed)[:6])}...)")
    return value


def _past(field: str, when: datetime, *, not_before: datetime | None = None) -> datetime:
    if timezone.is_naive(when):
        raise FieldError(field, "needs a time zone")
    if when > timezone.now() + CLOCK_SKEW:
        raise FieldError(field, "is in the future")
    if when.year < EARLIEST_YEAR:
        raise FieldError(field, f"is before {EARLIEST_YEAR}: check the year")
    if not_before is not None and when < not_before:
        raise FieldError(field, "is before the session it happened in was booked")
    return when


@action
def record_event(*, patient: Patient, term: str, onset_at: datetime | None, severity: str,
                 grade: int | None,
                 serious_criteria: list[str], key: str, by: User | None,
                 session: Session | None = None, description: str = "", action_taken: str = "",
                 reported_by: str = Reporter.CHART) -> AdverseEvent:
    """An adverse event as seen or told. ``key`` is the form's one-time key: the same key again
    (a retried request) returns the event first recorded and writes nothing."""
    key = clean_text("key", key, required=True, max_length=64)
    existing = AdverseEvent.objects.filter(clinic_id=patient.clinic_id, key=key).first()
    if existing is not None:
        return existing
    vocabulary = vocabulary_for(patient.clinic_id)
    term = _one_of("term", term, vocabulary.terms)
    description = clean_text("description", description, required=term == OTHER)
    if session is not None and session.patient_id != patient.pk:
        raise FieldError("session", "is not this patient's session")
    if onset_at is None and reported_by != Reporter.PATIENT:
        raise FieldError("onset_at", "is required: when did it start?")
    if onset_at is not None:
        onset_at = _past("onset_at", onset_at,
                         not_before=session.scheduled_at - timedelta(days=1) if session else None)
    if severity not in Severity.values:
        raise FieldError("severity", "choose mild, moderate or severe")
    if grade is None and reported_by == Reporter.PATIENT:
        pass  # the patient says how strong, not the grade
    elif not isinstance(grade, int) or isinstance(grade, bool) or grade not in vocabulary.grades:
        raise FieldError("grade", "choose a grade from 1 to 5")
    allowed = dict(vocabulary.seriousness)
    criteria = [c for c in dict.fromkeys(serious_criteria or []) if c]
    if any(c not in allowed for c in criteria):
        raise FieldError("serious_criteria", "choose from the ICH E2A criteria listed")
    if problem := vocabulary.grade_problem(grade, criteria):
        raise FieldError("grade", problem)
    if reported_by not in Reporter.values:
        raise FieldError("reported_by", "is not a way an event is reported")
    try:
        with transaction.atomic():
            event = AdverseEvent.objects.create(
                clinic_id=patient.clinic_id, patient=patient, session=session, term=term,
                description=description, onset_at=onset_at, severity=severity, grade=grade,
                serious_criteria=criteria,
                action_taken=_one_of("action_taken", action_taken, vocabulary.action_taken,
                                     required=False),
                reported_by=reported_by, key=key, recorded_by=by)
    except IntegrityError:  # the same form sent twice at once: the first stands
        return AdverseEvent.objects.get(clinic_id=patient.clinic_id, key=key)
    trail.record("create", object_type="adverse_event", object_id=event.pk, patient_id=patient.pk,
                 detail={"term": term, "serious": bool(criteria), "session": getattr(session, "pk", None)})
    if criteria:
        raise_alert(clinic_id=patient.clinic_id, source=ALERT_SOURCE, kind="serious_adverse_event",
                    patient=patient, record_type=ADVERSE_EVENT_RECORD, record_id=event.pk,
                    label=f"Serious adverse event: {term} ("
                          + "; ".join(vocabulary.seriousness_label(c).lower() for c in criteria) + ")",
                    recommended_action="The prescriber reviews the event and judges causality; "
                                       "it cannot be closed before that review.",
                    by=by)
    return event


def latest_review(event: AdverseEvent) -> AdverseEventReview | None:
    return event.reviews.order_by("-reviewed_at", "-id").first()


@action
def review_event(*, event: AdverseEvent, causality: str, note: str = "", by: User) -> AdverseEventReview:
    """The prescriber's judgement of causality (a later review stands over an earlier one);
    it acknowledges the event's alert."""
    if event.entered_in_error_at is not None:
        raise FieldError("event", "was marked entered in error")
    causality = _one_of("causality", causality, vocabulary_for(event.clinic_id).causality)
    review = AdverseEventReview.objects.create(event=event, clinic_id=event.clinic_id,
                                               causality=causality, note=clean_text("note", note),
                                               reviewed_by=by)
    trail.record("create", object_type="adverse_event_review", object_id=review.pk,
                 patient_id=event.patient_id, detail={"event": event.pk, "causality": causality})
    alert = Alert.objects.filter(source=ALERT_SOURCE, record_type=ADVERSE_EVENT_RECORD,
                                 record_id=event.pk, acknowledged_at__isnull=True).first()
    if alert is not None:
        acknowledge_alert(alert=alert, note=f"Reviewed by the prescriber: {causality.lower()}"
                                            + (f". {review.note}" if review.note else ""), by=by)
    return review


def is_esketamine(event: AdverseEvent) -> bool:
    return event.session is not None and event.session.drug == REMS_DRUG


@action
def report_to_rems(*, event: AdverseEvent, reported_on: date, reference: str = "",
                   by: User) -> AdverseEventRemsReport:
    """An esketamine event reported to the Spravato REMS (once; a retry returns it)."""
    if not is_esketamine(event):
        raise FieldError("reported_on", "only an event of an esketamine session is reported to the "
                                        "Spravato REMS")
    found = AdverseEventRemsReport.objects.filter(event=event).first()
    if found is not None:
        return found
    today = timezone.localdate(timezone.now(), event.clinic.zone)
    if reported_on > today or reported_on < timezone.localdate(event.onset_at, event.clinic.zone):
        raise FieldError("reported_on", "must be from the event's day to today")
    try:
        with transaction.atomic():
            report = AdverseEventRemsReport.objects.create(
                event=event, clinic_id=event.clinic_id, reported_on=reported_on,
                reference=clean_text("reference", reference, max_length=100), recorded_by=by)
    except IntegrityError:
        return AdverseEventRemsReport.objects.get(event=event)
    trail.record("create", object_type="adverse_event_rems_report", object_id=report.pk,
                 patient_id=event.patient_id, detail={"event": event.pk})
    return report


@action
def close_event(*, event: AdverseEvent, outcome: str, note: str = "", by: User) -> AdverseEventClosure:
    """The event closed with its outcome (once; a retry returns the closing). A serious event
    waits for the prescriber's review."""
    found = AdverseEventClosure.objects.filter(event=event).first()
    if found is not None:
        return found
    if event.entered_in_error_at is not None:
        raise FieldError("event", "was marked entered in error")
    vocabulary = vocabulary_for(event.clinic_id)
    outcome = _one_of("outcome", outcome, vocabulary.outcome)
    if (event.serious or outcome in vocabulary.fatal_outcomes) and not event.reviews.exists():
        raise FieldError("outcome", "a serious event, or one whose outcome is death, is closed only "
                                    "after the prescriber's review")
    try:
        with transaction.atomic():
            closure = AdverseEventClosure.objects.create(event=event, clinic_id=event.clinic_id,
                                                         outcome=outcome, note=clean_text("note", note),
                                                         closed_by=by)
    except IntegrityError:
        return AdverseEventClosure.objects.get(event=event)
    trail.record("create", object_type="adverse_event_closure", object_id=closure.pk,
                 patient_id=event.patient_id, detail={"event": event.pk, "outcome": outcome})
    return closure


@action
def mark_event_entered_in_error(event: AdverseEvent, *, reason: str, by: User, role: str | None) -> bool:
    """An event recorded for the wrong patient, or twice, stays on file marked. A serious event
    the prescriber has not reviewed is marked only by a prescriber (else it would slip past the
    review); its open alert is answered with the reason."""
    from kapclinic.accounts.permissions import Action, role_can

    reason = clean_text("reason", reason, required=True, max_length=500)
    if event.serious and not event.reviews.exists() and not role_can(role, Action.ADVERSE_EVENT_REVIEW):
        trail.record("denied", object_type="adverse_event", object_id=event.pk,
                     patient_id=event.patient_id, detail={"reason": "serious, not reviewed"})
        raise FieldError("reason", "a serious event not yet reviewed is marked entered in error "
                                   "only by the prescriber")
    done = mark_entered_in_error(event, reason=reason, by=by, object_type="adverse_event",
                                 what="adverse event")
    if done:
        for alert in Alert.objects.filter(source=ALERT_SOURCE, record_type=ADVERSE_EVENT_RECORD,
                                          record_id=event.pk, acknowledged_at__isnull=True):
            acknowledge_alert(alert=alert, note=f"The event was marked entered in error: {reason}", by=by)
    return done


@action
def save_lists(*, clinic_id: int, lists: dict[str, list[str]], by: User) -> AdverseEventSettings:
    """The clinic's own terms, actions, outcomes and causality scale (each given replaces the
    stored one; an empty one goes back to the labelled default)."""
    current = AdverseEventSettings.for_clinic(clinic_id)
    stored = dict(current.lists)
    for name, entries in lists.items():
        if not entries:
            stored.pop(name, None)
            continue
        try:
            stored[name] = safety.clean_list(name, entries)
        except ValueError as exc:
            raise FieldError(name, str(exc)) from exc
    if stored == current.lists and current.pk is not None:
        return current
    if current.pk is None:
        current.lists = stored
        current.save()
    else:
        AdverseEventSettings.objects.filter(pk=current.pk, version=current.version).update(
            lists=stored, version=current.version + 1)
    trail.record("update", object_type="adverse_event_settings", object_id=clinic_id,
                 detail={"lists": sorted(lists)})
    return AdverseEventSettings.for_clinic(clinic_id)
