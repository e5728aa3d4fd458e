"""Every write of measurement-based care: responses, alerts, schedules, requests, messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from kapclinic.accounts.models import Clinic, User
from kapclinic.alerts import actions as alert_actions
from kapclinic.alerts import notifications
from kapclinic.alerts.models import Alert
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.audit.corrections import mark_entered_in_error
from kapclinic.clinical import instruments
from kapclinic.clinical.codes import diagnoses
from kapclinic.measures import outcomes as outcome_snapshots
from kapclinic.measures.models import (
    ALERT_SOURCE,
    INTERVAL_DAYS,
    RESPONSE_RECORD,
    ClinicalEvent,
    MeasureRequest,
    MeasureSettings,
    Response,
    Schedule,
    clamp,
)
from kapclinic.patients import links
from kapclinic.patients.models import Patient, PatientLink


def settings_for(clinic: Clinic | int) -> MeasureSettings:
    return MeasureSettings.for_clinic(clinic if isinstance(clinic, int) else clinic.pk)


class SettingsConflict(Exception):
    """The settings were saved by someone else since this form was loaded; nothing was
    written. ``current`` holds the settings as they are now."""

    def __init__(self, current: MeasureSettings):
        super().__init__("These settings were changed by someone else since you opened the "
                         "page: nothing was saved. Reload the page to see their changes, then "
                         "make yours again.")
        self.current = current


@action
def save_settings(*, clinic_id: int, values: dict[str, Any], by: User | None,
                  expected_version: int) -> MeasureSettings:
    """Save the measurement settings page's own columns (``values``: the cleaned fields; the
    outcome rules page saves the others), compare-and-swap on ``version``: a save from a copy
    loaded before someone else's save raises SettingsConflict. Out-of-range values are refused
    here too (ValidationError), whoever calls. The clinic's first save creates its row."""
    MeasureSettings(clinic_id=clinic_id, **values).clean_fields(
        exclude=[f.name for f in MeasureSettings._meta.fields if f.name not in values])
    with transaction.atomic():
        before, _ = MeasureSettings.objects.get_or_create(clinic_id=clinic_id)
        done = MeasureSettings.objects.filter(pk=before.pk, version=expected_version).update(
            **values, version=F("version") + 1)
        if not done:
            raise SettingsConflict(MeasureSettings.objects.get(pk=before.pk))
        saved = MeasureSettings.objects.get(pk=before.pk)
        changed = sorted(name for name in values if getattr(before, name) != getattr(saved, name))
        trail.record("update", object_type="measure_settings", object_id=saved.pk,
                     clinic_id=saved.clinic_id, detail={"fields": changed,
                                                        "version": saved.version})
    return saved


OUTCOME_FIELDS = ("relapse_after", "relapse_date", "fading_fraction", "madrs_remission_max",
                  "relapse_rules", "response_rules")


@action
def save_outcome_settings(*, clinic_id: int, values: dict[str, Any],
                          by: User | None) -> MeasureSettings:
    """Save the clinic's outcome rules (``values``: OUTCOME_FIELDS, cleaned). A change bumps
    the version (with the old and new values in the audit trail) and recomputes a first batch
    of snapshots at once; the worker recomputes the rest."""
    unknown = set(values) - set(OUTCOME_FIELDS)
    if unknown:
        raise ValueError(f"not an outcome setting: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        MeasureSettings.objects.get_or_create(clinic_id=clinic_id)
        before = MeasureSettings.objects.select_for_update().get(clinic_id=clinic_id)
        changes = {name: [getattr(before, name), value] for name, value in values.items()
                   if getattr(before, name) != value}
        if changes:
            MeasureSettings.objects.filter(pk=before.pk).update(
                **values, outcome_version=F("outcome_version") + 1)
            trail.record("update", object_type="outcome_settings", object_id=before.pk,
                         clinic_id=clinic_id,
                         detail={"changes": changes, "version": before.outcome_version + 1})
        saved = MeasureSettings.objects.get(pk=before.pk)
    if changes:
        outcome_snapshots.refresh_stale(clinic_id=clinic_id, seconds=2.0)
    return saved


def instrument_settings(instrument: str, clinic_settings: MeasureSettings) -> dict[str, int]:
    if instrument == "qids_sr16":
        return {"suicide_item_threshold": clinic_settings.qids_suicide_item_threshold}
    if instrument == "madrs":
        return {"suicide_item_threshold": clinic_settings.madrs_suicide_item_threshold}
    return {}


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


class WhenError(ValueError):
    """A time that cannot be when a questionnaire was taken or an event happened."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def check_when(value: datetime, field: str) -> None:
    """Refuse a time without a UTC offset, before 1900 or in the future, naming ``field``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise WhenError(field, "needs a UTC offset (e.g. 2026-11-25T09:30:00-05:00)")
    if value < EARLIEST:
        raise WhenError(field, "is before 1900: check the year")
    if value > timezone.now():
        raise WhenError(field, "is in the future: record it after it happened")


class Unreachable(Exception):
    """The patient has no email address or phone number to send a link to."""


class LinkUsed(Exception):
    """The link was already answered (a double tap); nothing new was recorded."""


@dataclass(frozen=True)
class Recorded:
    response: Response
    alerts: list[Alert]

    @property
    def crisis(self) -> bool:
        return self.response.crisis


def score_answers(patient: Patient, instrument: str, answers: dict[str, Any]):
    """Score with the clinic's settings; raises instruments.AnswerError naming the item."""
    clinic_settings = settings_for(patient.clinic_id)
    return instruments.score(
        instrument, answers, prorate=clinic_settings.prorate,
        rounding=clinic_settings.prorate_rounding,
        settings=instrument_settings(instrument, clinic_settings),
        sex=patient.sex_at_birth if patient.sex_at_birth in ("female", "male") else None)


def stored_result(result) -> dict[str, Any]:
    """The score as stored with the response: everything but the definition's static note."""
    data = result.to_dict()
    data.get("missing_handling", {}).pop("note", None)
    return data


@action
def record_response(*, patient: Patient, instrument: str, answers: dict[str, Any],
                    source: str, by: User | None, taken_at: datetime | None = None,
                    link: PatientLink | None = None, session_id: int | None = None) -> Recorded:
    """``session_id``: the dosing session it was taken in, already checked to be the
    patient's (anchoring.session_dose); an answer by link takes its request's session."""
    if taken_at is not None:
        check_when(taken_at, "taken_at")
    if session_id is None and link is not None:
        session_id = MeasureRequest.objects.filter(link=link).values_list(
            "session_id", flat=True).first()
    result = score_answers(patient, instrument, answers)
    definition = instruments.get_instrument(instrument)
    labels = {rule.id: rule.label for rule in definition.alerts}
    priority = {rule.id: rule.priority for rule in definition.alerts}
    raised = [*result.flags, *result.undetermined_flags]
    if any(priority.get(flag, "urgent") == "urgent" for flag in raised):
        # the urgent path covers the lower level too (C-SSRS: a High that could not be
        # ruled out is not also raised as a Moderate to follow up)
        follow_up_only = {f for f in raised if priority.get(f) == "follow_up"}
    else:
        follow_up_only = set()
    with transaction.atomic():
        if link is not None and not links.close_link(link):
            raise LinkUsed("These answers were already received.")
        response = Response.objects.create(
            patient=patient, instrument=instrument, definition_version=result.definition_version,
            answers=answers, total=result.total, severity=result.severity or "",
            flags=list(result.flags), result=stored_result(result), taken_at=taken_at or timezone.now(),
            source=source, entered_by=by, link=link, session_id=session_id)
        raise_for = [(flag, labels.get(flag, flag)) for flag in result.flags
                     if flag not in follow_up_only]
        raise_for += [(flag, "Could not be ruled out (an answer is missing): "
                             f"{labels.get(flag, flag)}")
                      for flag in result.undetermined_flags if flag not in follow_up_only]
        trail.record("create", object_type="response", object_id=response.pk,
                     patient_id=patient.pk, clinic_id=patient.clinic_id,
                     detail={"instrument": instrument, "alerts": [f for f, _ in raise_for],
                             **({"session": session_id} if session_id is not None else {})})
        alerts = [raise_answer_alert(response, flag, label, priority.get(flag, "urgent"), by=by)
                  for flag, label in raise_for]
        outcome_snapshots.refresh(patient, instrument)
    return Recorded(response, alerts)


# [policy] what the alerts page asks of the clinician for an alert raised by an answer
RECOMMENDED_ACTION = {
    Alert.Priority.URGENT: "Contact the patient now and follow the clinic's crisis protocol.",
    Alert.Priority.FOLLOW_UP: "Follow up with the patient by the clinic's protocol.",
}


def raise_answer_alert(response: Response, flag: str, label: str, priority: str, *,
                       by: User | None) -> Alert:
    """The alert a response's answers raise (once, however often it is retried)."""
    return alert_actions.raise_alert(
        clinic_id=response.patient.clinic_id, patient=response.patient, source=ALERT_SOURCE,
        kind=flag, label=label, priority=priority, record_type=RESPONSE_RECORD,
        record_id=response.pk, recommended_action=RECOMMENDED_ACTION.get(priority, ""), by=by)


@action
def mark_response_entered_in_error(response: Response, *, reason: str, by: User) -> bool:
    with transaction.atomic():
        done = mark_entered_in_error(response, reason=reason, by=by, object_type="response",
                                     what="questionnaire")
        if done:
            outcome_snapshots.refresh(response.patient, response.instrument)
    return done


@action
def record_clinical_event(*, patient: Patient, kind: str, occurred_at: datetime, note: str,
                          by: User) -> ClinicalEvent:
    """An event that can define relapse (clinical.md 2); outcomes are recomputed with it."""
    if kind not in ClinicalEvent.KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(ClinicalEvent.KINDS)}")
    if not note.strip():
        raise ValueError("note: say what happened.")
    check_when(occurred_at, "occurred_at")
    with transaction.atomic():
        event = ClinicalEvent.objects.create(patient=patient, kind=kind, occurred_at=occurred_at,
                                             note=note.strip(), recorded_by=by)
        trail.record("create", object_type="clinical_event", object_id=event.pk,
                     patient_id=patient.pk, clinic_id=patient.clinic_id, detail={"kind": kind})
        outcome_snapshots.refresh_all(patient)
    return event


@action
def mark_event_entered_in_error(event: ClinicalEvent, *, reason: str, by: User) -> bool:
    with transaction.atomic():
        done = mark_entered_in_error(event, reason=reason, by=by, object_type="clinical_event",
                                     what="event")
        if done:
            outcome_snapshots.refresh_all(event.patient)
    return done


# ---- schedules, requests and messages ---------------------------------------------------

def default_instruments(patient: Patient, clinic_settings: MeasureSettings) -> list[str]:
    """The clinic default (e.g. PHQ-9 + GAD-7), plus the PTSD set for a PTSD diagnosis."""
    chosen = [i.strip() for i in clinic_settings.default_instruments.split(",") if i.strip()]
    table = diagnoses()
    groups = {getattr(table.get(c.code), "group", None) for c in patient.conditions.all()
              if c.is_active}
    if "ptsd" in groups:
        chosen += [i.strip() for i in clinic_settings.ptsd_instruments.split(",") if i.strip()]
    return list(dict.fromkeys(chosen))


def self_report_refusal(instrument: str) -> str | None:
    """Why ``instrument`` is not sent to a patient to answer alone (None: it can be)."""
    try:
        return instruments.get_instrument(instrument).self_report_refusal
    except instruments.UnknownInstrumentError:
        return f"{instrument} is no longer installed."


@action
def start_default_schedule(*, patient: Patient, by: User | None,
                           first_due: datetime | None = None) -> list[Schedule]:
    clinic_settings = settings_for(patient.clinic_id)
    first_due = first_due or timezone.now()
    made = []
    with transaction.atomic():
        for instrument in default_instruments(patient, clinic_settings):
            if self_report_refusal(instrument):
                # saved before the settings refused it: a patient would see numbered items
                continue
            schedule, created = Schedule.objects.get_or_create(
                patient=patient, instrument=instrument,
                defaults={"interval_days": clinic_settings.bounded("default_interval_days"),
                          "next_due_at": first_due})
            if not created and not schedule.active:
                Schedule.objects.filter(pk=schedule.pk).update(active=True, next_due_at=first_due)
                schedule.active, schedule.next_due_at = True, first_due
            made.append(schedule)
        trail.record_many([trail.Event("update", "schedule", s.pk, patient_id=patient.pk,
                                       clinic_id=patient.clinic_id,
                                       detail={"instrument": s.instrument, "active": True})
                           for s in made])
    return made


@action
def set_schedule_active(*, schedule: Schedule, active: bool, by: User) -> bool:
    """Pause or resume one instrument's questionnaires; False if it already was so."""
    with transaction.atomic():
        done = Schedule.objects.filter(pk=schedule.pk, active=not active).update(active=active)
        if done:
            trail.record("update", object_type="schedule", object_id=schedule.pk,
                         patient_id=schedule.patient_id,
                         detail={"instrument": schedule.instrument, "active": active})
    return bool(done)


def claim_due_schedule(schedule_id: int, due_at: datetime) -> bool:
    """Compare-and-swap the schedule forward: exactly one worker wins a due slot."""
    schedule = Schedule.objects.filter(pk=schedule_id).values("interval_days").first()
    if schedule is None:
        return False
    # an interval stored out of range (before the bounds) is read within them, never overflows
    days = clamp(schedule["interval_days"], INTERVAL_DAYS, 7)
    return Schedule.objects.filter(pk=schedule_id, next_due_at=due_at, active=True).update(
        next_due_at=due_at + timedelta(days=days)) == 1


@action
def send_request(*, patient: Patient, instrument: str, due_at: datetime, base_url: str,
                 by: User | None = None, session_id: int | None = None) -> MeasureRequest:
    """Create the single-use link for one questionnaire and send it by email and SMS.
    Raises ``Unreachable`` (nothing created) when the patient has neither. ``session_id``:
    the session whose dose it follows up (a DoseFollowUp's)."""
    if not notifications.can_reach(patient):
        raise Unreachable("The patient has no email or phone on record: add one first.")
    clinic_settings = settings_for(patient.clinic_id)
    with transaction.atomic():
        link, token = links.issue_link(patient=patient, purpose=PatientLink.Purpose.MEASURE,
                                       by=by, days=clinic_settings.bounded("link_days"))
        request = MeasureRequest.objects.create(patient=patient, instrument=instrument,
                                                link=link, due_at=due_at,
                                                sent_at=timezone.now(), session_id=session_id)
        name = instruments.get_instrument(instrument).short_name
        url = base_url.rstrip("/") + reverse("self-report", args=[token])
        expires = timezone.localtime(link.expires_at, patient.clinic.zone)
        notifications.send_to_patient(
            patient, subject=f"{patient.clinic.name}: your {name} questionnaire",
            body=(f"Hello {patient.given_name},\n\nPlease answer a short questionnaire ({name}) "
                  f"for your care team: {url}\n\nThe link works once, until "
                  f"{expires:%Y-%m-%d %H:%M %Z}."), secret=token)
        trail.record("create", object_type="measure_request", object_id=request.pk,
                     patient_id=patient.pk, clinic_id=patient.clinic_id,
                     detail={"instrument": instrument,
                             **({"session": session_id} if session_id is not None else {})})
    return request


@action
def remind(*, request: MeasureRequest, now: datetime, by: User | None = None) -> bool:
    """The one reminder for a questionnaire sent and not answered: claimed by a conditional
    update, so two workers never send it twice. False when it was already sent."""
    if not MeasureRequest.objects.filter(pk=request.pk, reminded_at__isnull=True).update(
            reminded_at=now):
        return False
    patient = request.patient
    sent_on = timezone.localtime(request.sent_at, patient.clinic.zone)
    notifications.send_to_patient(
        patient, subject=f"{patient.clinic.name}: a reminder",
        body=(f"Hello {patient.given_name},\n\nA questionnaire sent on "
              f"{sent_on:%Y-%m-%d} is still waiting: please use the link in that message."))
    trail.record("update", object_type="measure_request", object_id=request.pk,
                 patient_id=patient.pk, clinic_id=patient.clinic_id, detail={"reminded": True})
    return True
