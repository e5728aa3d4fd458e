"""Measures anchored to a dose (issue 12): the follow-up self-reports each dose schedules,
the questionnaires taken in a session, and their peaks per session.

The treatment app records doses and calls ``dose_given`` (an extension DoseHook) inside the
transaction that recorded one; this app never imports it and reads doses only through
``platform.extensions.doses_of``. A session id is stored as a plain reference, and only
after the patient's own dose in that session was read back: another patient's (or clinic's)
session id is never attached to a questionnaire.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from kapclinic import config
from kapclinic.accounts.scoping import for_clinic
from kapclinic.alerts import notifications
from kapclinic.audit import trail
from kapclinic.measures import actions
from kapclinic.measures import outcomes as outcome_snapshots
from kapclinic.measures.models import DoseFollowUp, MeasureSettings, Response, Schedule
from kapclinic.patients.models import Patient, Status
from kapclinic.platform import extensions as ext

log = logging.getLogger(__name__)

# The self-report depression questionnaires a follow-up may use, in the order one is preferred
# when a patient is measured on several (MADRS is clinician-rated: never sent).
DEPRESSION_SELF_REPORTS = ("phq9", "qids_sr16")
FALLBACK_INSTRUMENT = "phq9"  # issue 12: "PHQ-9 or the course's instrument"
BATCH = 200

# why a follow-up was not sent, in the words the measures page shows
RECORDED_LATE = "The dose was recorded after this follow-up was due."
DOSE_WITHDRAWN = "The dose was marked entered in error."


def followup_instrument(patient: Patient) -> str:
    """The patient's usual depression questionnaire: the one their active schedule sends
    (the course's instrument until courses say otherwise), else the PHQ-9."""
    scheduled = set(Schedule.objects.filter(patient=patient, active=True,
                                            instrument__in=DEPRESSION_SELF_REPORTS)
                    .values_list("instrument", flat=True))
    for instrument in DEPRESSION_SELF_REPORTS:
        if instrument in scheduled and actions.self_report_refusal(instrument) is None:
            return instrument
    return FALLBACK_INSTRUMENT


def offsets(settings: MeasureSettings) -> list[tuple[str, timedelta]]:
    """The clinic's follow-ups after a dose (a setting of 0 turns one off)."""
    chosen = [(DoseFollowUp.Anchor.HOURS, timedelta(hours=settings.bounded("followup_hours"))),
              (DoseFollowUp.Anchor.DAYS, timedelta(days=settings.bounded("followup_days")))]
    return [(anchor, after) for anchor, after in chosen if after]


def dose_given(patient: Patient, dose: ext.Dose) -> None:
    """The DoseHook: schedule the follow-ups anchored to ``dose`` (once per session and
    anchor, however often the dose is reported) and attribute the patient's outcomes to it.
    Runs inside the transaction that recorded the dose: its audit entries name whoever
    recorded it, and a failure here leaves no dose recorded."""
    settings = MeasureSettings.for_clinic(patient.clinic_id)
    instrument = followup_instrument(patient)
    now = timezone.now()
    made = []
    for anchor, after in offsets(settings):
        due = dose.given_at + after
        late = due <= now  # entered after the fact: a "24 h" questionnaire days later is not one
        try:
            with transaction.atomic():  # a savepoint: a retry's duplicate leaves the rest intact
                followup, created = DoseFollowUp.objects.get_or_create(
                    patient=patient, session_id=dose.session_id, anchor=anchor,
                    defaults={"instrument": instrument, "dose_given_at": dose.given_at,
                              "due_at": due, "skipped_at": now if late else None,
                              "skipped_reason": RECORDED_LATE if late else ""})
        except IntegrityError:  # the same dose reported at the same moment elsewhere
            continue
        if created:
            made.append(followup)
    trail.record_many([trail.Event("create", "dose_follow_up", f.pk, patient_id=patient.pk,
                                   clinic_id=patient.clinic_id,
                                   detail={"session": f.session_id, "anchor": f.anchor,
                                           "instrument": f.instrument,
                                           "skipped": bool(f.skipped_reason)})
                       for f in made])
    # the dashboard's protocol and route, and the episode baseline, follow the latest dose
    doses = outcome_snapshots.doses_by_patient([patient.pk]).get(patient.pk, [])
    if not any(d.session_id == dose.session_id and d.given_at == dose.given_at for d in doses):
        doses = sorted([*doses, dose], key=lambda d: d.given_at)
    outcome_snapshots.refresh_all(patient, doses)


def send_followups(clinic_id: int, now: datetime, url: str | None = None) -> int:
    """The worker step: send the clinic's due follow-ups (a link each, by email and SMS,
    through actions.send_request), each claimed by a conditional update so two workers never
    send one twice. A follow-up of a dose since marked entered in error is skipped; one for a
    patient with no email or phone stays due (it is sent once they have one: the answer shows
    its true time after the dose)."""
    url = url or config.base_url()
    actions.settings_for(clinic_id).bounded("link_days")  # read and checked before any claim
    due = list(for_clinic(DoseFollowUp.objects.filter(sent_at__isnull=True,
                                                      skipped_at__isnull=True, due_at__lte=now),
                          clinic_id)
               .exclude(patient__status=Status.DISCHARGED)
               .select_related("patient", "patient__clinic").order_by("due_at")[:BATCH])
    if not due:
        return 0
    doses = ext.doses_of({f.patient_id for f in due})
    sent = 0
    for followup in due:
        sessions = {d.session_id for d in doses.get(followup.patient_id, [])}
        if followup.session_id not in sessions:
            skip(followup, DOSE_WITHDRAWN, now)
            continue
        if not notifications.can_reach(followup.patient):
            continue
        try:
            with transaction.atomic():
                if not DoseFollowUp.objects.filter(pk=followup.pk, sent_at__isnull=True,
                                                   skipped_at__isnull=True).update(sent_at=now):
                    continue  # another worker took it
                request = actions.send_request(
                    patient=followup.patient, instrument=followup.instrument,
                    due_at=followup.due_at, base_url=url, by=None, session_id=followup.session_id)
                DoseFollowUp.objects.filter(pk=followup.pk).update(request=request)
                sent += 1
        except Exception:  # noqa: BLE001 (one bad follow-up never stops the others)
            log.exception("worker: sending dose follow-up %s failed; it stays due", followup.pk)
    return sent


def skip(followup: DoseFollowUp, reason: str, now: datetime) -> bool:
    with transaction.atomic():
        done = DoseFollowUp.objects.filter(pk=followup.pk, sent_at__isnull=True,
                                           skipped_at__isnull=True).update(
            skipped_at=now, skipped_reason=reason)
        if done:
            trail.record("update", object_type="dose_follow_up", object_id=followup.pk,
                         patient_id=followup.patient_id, clinic_id=followup.patient.clinic_id,
                         detail={"skipped": reason})
    return bool(done)


# ---- questionnaires taken in a session ------------------------------------------------------

def session_dose(patient: Patient, session_id: int | None,
                 doses: list[ext.Dose] | None = None) -> ext.Dose | None:
    """The patient's own dose in ``session_id`` (the first, if the session had several), or
    None: no such session, no dose in it yet, or someone else's. What makes a session id safe
    to store on the patient's questionnaire."""
    if session_id is None:
        return None
    if doses is None:
        doses = ext.doses_of([patient.pk]).get(patient.pk, [])
    return next((d for d in doses if d.session_id == session_id and d.patient_id == patient.pk),
                None)


def session_peaks(session_ids: Iterable[int]) -> dict[int, dict[str, float]]:
    """The SessionScores point: each instrument's highest total entered in clinic during each
    session (CADSS-6 at ~40 min...), in one query. The follow-ups a session's dose scheduled
    carry its id too but were answered days later at home: they are not peaks of the session."""
    ids = [int(i) for i in session_ids]
    if not ids:
        return {}
    found: dict[int, dict[str, float]] = {}
    rows = (Response.objects.filter(session_id__in=ids, source=Response.Source.CLINIC,
                                    entered_in_error_at__isnull=True, total__isnull=False)
            .values("session_id", "instrument").annotate(peak=Max("total"))
            .order_by("session_id", "instrument"))
    for row in rows:
        found.setdefault(row["session_id"], {})[row["instrument"]] = row["peak"]
    return found
