"""What is known about a session when a step is asked for, as the core's ``SessionFacts``.

Read from this app's records (the checklist, the vital signs, the administration, the open
alerts) and from the registry's dose clearances (eligibility and consent: the screening app
vouches for them; this app never imports it). A handful of queries, whatever the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from kapclinic.alerts.models import Alert
from kapclinic.clinical.monitoring import Reading, evaluate
from kapclinic.clinical.protocols import WEIGHT_MAX_AGE_DAYS, Protocol
from kapclinic.clinical.protocols.course import chair_minutes
from kapclinic.clinical.sessions import SessionFacts, facts_for
from kapclinic.platform import extensions
from kapclinic.treatment import infusion
from kapclinic.treatment.models import (
    ALERT_SOURCE,
    READING_RECORD,
    Administration,
    AdministrationEvent,
    AdministrationEventKind,
    Answer,
    ChecklistEntry,
    ChecklistItem,
    Phase,
    Session,
    VitalReading,
)
from kapclinic.treatment.protocols import monitoring_settings, session_protocol


@dataclass
class Gathered:
    """The records the facts were read from (the transition stores a summary)."""

    facts: SessionFacts
    blockers: list[str]
    checklist: dict[str, ChecklistEntry] = field(default_factory=dict)
    administration: Administration | None = None
    weight: ChecklistEntry | None = None


def local_date(when: datetime, session: Session) -> date:
    return when.astimezone(ZoneInfo(session.patient.clinic.time_zone)).date()


def visit_day(session: Session, at: datetime, taken_at: datetime) -> date:
    """The session's "today" for a weight or test taken at ``taken_at``, judged at ``at``.

    A visit is one day even when a late-evening session runs past midnight: a measurement taken
    on any day from the scheduled day to the day of the step is that day's; one taken earlier is
    as old as the scheduled day makes it."""
    first, last = local_date(session.scheduled_at, session), local_date(at, session)
    return min(last, max(first, local_date(taken_at, session)))


def weight_day(session: Session, at: datetime, weight: ChecklistEntry | None) -> date:
    """The day a dose at ``at`` is calculated for: the visit's day for the weight it uses."""
    if weight is None:
        return local_date(session.scheduled_at, session)
    return visit_day(session, at, weight.at)


def other_day(session: Session, now: datetime) -> str:
    """The booked day in words when a check-in now would be on another day ("" when not),
    for the session page's warning."""
    booked, today = local_date(session.scheduled_at, session), local_date(now, session)
    if session.state != "scheduled" or booked == today:
        return ""
    held = timedelta(minutes=chair_minutes(session_protocol(session)))
    if session.scheduled_at <= now <= session.scheduled_at + held:
        return ""  # a late-evening visit running past midnight
    return f"{booked:%A} {booked.day} {booked:%B %Y}"


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def dose_context(session: Session) -> dict[str, int | bool]:
    """What a label's age and day-1 dose rules need (calculate_dose's ``age_years`` and
    ``first_dose``): the patient's age on the session's day, and whether no dose of this
    drug was given to the patient before (doses entered in error do not count)."""
    day = local_date(session.scheduled_at, session)
    earlier = (Administration.objects.filter(session__patient_id=session.patient_id, drug=session.drug,
                                             entered_in_error_at__isnull=True)
               .exclude(session=session).exists())
    return {"age_years": age_on(session.patient.date_of_birth, day), "first_dose": not earlier}


def latest_checklist(session: Session) -> dict[str, ChecklistEntry]:
    """The latest answer to each item (later answers replace earlier ones)."""
    latest: dict[str, ChecklistEntry] = {}
    for entry in ChecklistEntry.objects.filter(session=session).order_by("at", "id"):
        latest[entry.item] = entry
    return latest


def current_administration(session: Session) -> Administration | None:
    return (Administration.objects.filter(session=session, entered_in_error_at__isnull=True)
            .order_by("-started_at", "-id").first())


def reading_of(row: VitalReading) -> Reading:
    return Reading(observed_at=row.observed_at, phase=row.phase, sbp_mmhg=row.sbp_mmhg,
                   dbp_mmhg=row.dbp_mmhg, heart_rate_bpm=row.heart_rate_bpm, spo2_pct=row.spo2_pct,
                   resp_rate_per_min=row.resp_rate_per_min, temp_c=row.temp_c, moaas=row.moaas)


def open_alerts(session: Session) -> list[Alert]:
    """The session's treatment alerts nobody has acknowledged (one query)."""
    readings = VitalReading.objects.filter(session=session).values("pk")
    return list(Alert.objects.open().filter(source=ALERT_SOURCE, record_type=READING_RECORD,
                                            record_id__in=readings).order_by("raised_at"))


# what makes a reading after the dose one the patient may not leave on: an alert that calls
# to pause the infusion, stop dosing, respond to an emergency or keep the patient under
# continuous observation (deep sedation), or one of a severity that is escalated when not
# acknowledged (vitals.URGENT_SEVERITIES; kept equal by a test)
NOT_FIT_TO_LEAVE_ACTIONS = frozenset({"pause_infusion", "stop_dosing", "emergency_response",
                                      "continuous_observation"})
NOT_FIT_TO_LEAVE_SEVERITIES = frozenset({"hold", "urgent", "emergency"})
OVERDUE_RULES = frozenset({"reading_overdue", "reading_mark_overdue"})


def latest_reading_alerts(readings: list[VitalReading], protocol: Protocol, clinic_id: int,
                          at: datetime) -> tuple[str, ...]:
    """The labels of the alerts the latest valid reading after the dose (of ``readings``, in
    time order) would raise that keep the patient from leaving; the overdue rules aside."""
    valid = sorted((r for r in readings if r.entered_in_error_at is None),
                   key=lambda r: (r.observed_at, r.pk or 0))
    after = [r for r in valid if r.phase != Phase.PRE_DOSE]
    if not after:
        return ()
    latest = after[-1]
    baseline = next((r for r in reversed(valid) if r.phase == Phase.PRE_DOSE
                     and r.observed_at <= latest.observed_at), None)
    alerts = evaluate(reading_of(latest), protocol, monitoring_settings(clinic_id),
                      now=max(at, latest.observed_at), last_reading_at=None,
                      baseline=None if baseline is None else reading_of(baseline))
    return tuple(a.label for a in alerts if a.rule not in OVERDUE_RULES and (
        a.severity in NOT_FIT_TO_LEAVE_SEVERITIES or NOT_FIT_TO_LEAVE_ACTIONS & set(a.actions)))


@dataclass(frozen=True)
class Known:
    """A session's records a page has already read (a read-only preview of a step's guards
    need not read them again): the latest checklist answers, every reading, the dose."""

    checklist: dict[str, ChecklistEntry]
    readings: list[VitalReading]
    administration: Administration | None
    dose_events: list[AdministrationEvent] | None = None  # the dose's devices, pauses...


def gather(session: Session, protocol: Protocol, at: datetime, *, reason: str = "",
           known: Known | None = None) -> Gathered:
    """The facts of ``session`` for a step at clinical time ``at`` (from ``known`` records
    where given: only for a preview, never for the step itself)."""
    patient = session.patient
    blockers = extensions.dose_blockers(patient, session.drug, session.route)
    checklist = known.checklist if known else latest_checklist(session)

    def said(item: str, *answers: str) -> bool:
        entry = checklist.get(item)
        return entry is not None and entry.answer in answers

    def taken_for_today(when: datetime, max_age_days: float) -> bool:
        taken = local_date(when, session)
        return 0 <= (visit_day(session, at, when) - taken).days <= max_age_days

    weight = checklist.get(ChecklistItem.WEIGHT_TODAY)
    weight_today = (weight is not None and weight.value is not None
                    and taken_for_today(weight.at, WEIGHT_MAX_AGE_DAYS.default))
    pregnancy = checklist.get(ChecklistItem.PREGNANCY_TEST)
    pregnancy_applies = patient.sex_at_birth == "female" and not said(
        ChecklistItem.PREGNANCY_TEST, Answer.NOT_APPLICABLE)
    pregnancy_negative = (pregnancy is not None and pregnancy.answer == Answer.NEGATIVE
                          and taken_for_today(pregnancy.at, 0))
    intention = checklist.get(ChecklistItem.INTENTION_NOTE)

    if known:
        every_reading = [r for r in known.readings if r.entered_in_error_at is None]
    else:
        every_reading = list(VitalReading.objects.filter(session=session, entered_in_error_at__isnull=True)
                             .order_by("observed_at", "id"))
    readings = [r for r in every_reading if r.phase == Phase.PRE_DOSE]
    hold: tuple[str, ...] = ()
    review: tuple[str, ...] = ()
    if readings:
        latest = readings[-1]
        alerts = evaluate(reading_of(latest), protocol, monitoring_settings(patient.clinic_id),
                          now=max(at, latest.observed_at), last_reading_at=None)
        hold = tuple(a.label for a in alerts if a.severity == "hold")
        reviewed = alerts and set(Alert.objects.filter(
            source=ALERT_SOURCE, record_type=READING_RECORD, record_id=latest.pk,
            acknowledged_at__isnull=False).values_list("kind", flat=True))
        review = tuple(a.label for a in alerts if a.severity == "review"
                       and a.rule not in (reviewed or set()))

    administration = known.administration if known else current_administration(session)
    devices_expected, devices_given = None, 0
    per_device = infusion.device_mg(protocol)
    if administration is not None and per_device is not None:
        devices_expected = infusion.devices_for(administration.dose_mg, per_device)
        if known is not None and known.dose_events is not None:
            devices_given = sum(1 for e in known.dose_events if e.administration_id == administration.pk
                                and e.kind == AdministrationEventKind.DEVICE)
        else:
            devices_given = AdministrationEvent.objects.filter(
                administration=administration, kind=AdministrationEventKind.DEVICE).count()
    minutes_observed = None
    if administration is not None:
        start = administration.started_at if protocol.observation_counted_from == "dose_start" \
            else administration.ended_at
        if start is not None:
            minutes_observed = max(0.0, (at - start).total_seconds() / 60)
    resolved = frozenset(effect for effect in ("sedation", "dissociation", "respiratory_depression")
                         if said(f"{effect}_resolved", Answer.YES))
    score = checklist.get(ChecklistItem.DISCHARGE_SCORE)
    booked = session.scheduled_at
    facts = facts_for(
        protocol,
        booked_on=local_date(booked, session).isoformat(), step_on=local_date(at, session).isoformat(),
        within_booked_visit=booked <= at <= booked + timedelta(minutes=chair_minutes(protocol)),
        consent_current=not blockers,
        eligibility_signed_for=frozenset({(session.drug, session.route)}) if not blockers else frozenset(),
        fasting_confirmed=said(ChecklistItem.FASTING, Answer.YES),
        ride_home_confirmed=said(ChecklistItem.RIDE_HOME, Answer.YES),
        pregnancy_test_applies=pregnancy_applies,
        pregnancy_test_negative_today=pregnancy_negative,
        weight_taken_today=weight_today,
        predose_vitals_taken=bool(readings),
        predose_hold_alerts=hold,
        predose_review_alerts_undecided=review,
        predose_measures_done=said(ChecklistItem.PREDOSE_MEASURES, Answer.YES),
        intention_note_written=intention is not None and bool(intention.note.strip()),
        nasal_steroid_decongestant_timing_confirmed=said(ChecklistItem.NASAL_TIMING, Answer.YES,
                                                         Answer.NOT_APPLICABLE),
        dose_within_protocol=None if administration is None else administration.within_protocol,
        dose_override_reason="" if administration is None else administration.override_reason,
        second_clinician_confirmed=administration is not None
        and administration.second_clinician_confirmed_at is not None,
        administration_recorded=administration is not None,
        devices_expected=devices_expected, devices_given=devices_given,
        minutes_observed=minutes_observed,
        effects_resolved=resolved,
        discharge_score=None if score is None else score.value,
        clinician_judged_stable=said(ChecklistItem.JUDGED_STABLE, Answer.YES),
        open_alerts=tuple(a.label for a in open_alerts(session)),
        latest_reading_alerts=latest_reading_alerts(every_reading, protocol, patient.clinic_id, at),
        reason=reason,
    )
    return Gathered(facts, blockers, checklist, administration, weight)


def summary(facts: SessionFacts) -> dict:
    """The facts as stored on the step (JSON: sets as sorted lists)."""
    out = {}
    for name, value in facts.__dict__.items():
        if isinstance(value, frozenset):
            value = sorted(list(v) if isinstance(v, tuple) else v for v in value)
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out
