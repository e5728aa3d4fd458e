"""Keep each patient's outcome snapshot in step with their responses, events and the
clinic's outcome rules.

All the clinical judgement (baseline, response, remission, relapse, fading) is
kapclinic.clinical.outcomes'; this module only loads the scores and events, passes the
clinic's settings and stores the summary with the settings version it was computed under.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce

from kapclinic.accounts.scoping import for_clinic
from kapclinic.clinical import instruments, outcomes
from kapclinic.clinical.codes import diagnoses
from kapclinic.measures.models import ClinicalEvent, MeasureSettings, OutcomeSnapshot, Response
from kapclinic.patients.models import Patient
from kapclinic.platform import extensions as ext

log = logging.getLogger(__name__)


def condition_group(patient: Patient) -> str:
    """The patient's first active diagnosis group (for the dashboard's by-condition rates)."""
    table = diagnoses()
    for condition in patient.conditions.all():
        if condition.is_active:
            found = table.get(condition.code)
            if found is not None:
                return found.group_label
    return "No diagnosis recorded"


def relapse_events(patient: Patient) -> list[outcomes.ClinicalEvent]:
    return [outcomes.ClinicalEvent(kind, at) for kind, at in
            ClinicalEvent.objects.filter(patient=patient, entered_in_error_at__isnull=True)
            .values_list("kind", "occurred_at")]


def whole_totals(instrument: str, points: list, rounding: str) -> list:
    """Stored totals as outcomes read them. A prorated total stored before prorated totals
    were rounded (e.g. a PHQ-9 of 4.5) is read through the clinic's rounding rule (4.5 is
    5, not remission), as the scorer now does; the stored value itself is not rewritten."""
    try:
        how = instruments.chosen_rounding(instruments.get_instrument(instrument), rounding)
    except (instruments.UnknownInstrumentError, instruments.SettingError):
        return points
    if how is None:
        return points
    return [(at, instruments.round_total(total, how) if total != int(total) else total)
            for at, total in points]


@dataclass(frozen=True)
class Attribution:
    """What a patient's outcome is attributed to: the protocol and route of their latest dose
    and, when that dose belongs to a course, the course's first dose (the episode start)."""

    protocol_label: str = ""
    route: str = ""
    episode_start: datetime | None = None


def attribution(doses: list[ext.Dose]) -> Attribution:
    """From the patient's doses, oldest first (ext.doses_of). The episode baseline is then the
    core's (outcomes.baseline): the last score on or before the course's first dose."""
    if not doses:
        return Attribution()
    latest = doses[-1]
    start = None
    if latest.course_id is not None:
        start = min(d.given_at for d in doses if d.course_id == latest.course_id)
    return Attribution(latest.protocol_label, latest.route, start)


def doses_by_patient(patient_ids) -> dict[int, list[ext.Dose]]:
    """Every patient's doses in one read (the treatment app's, through the registry)."""
    return ext.doses_of(patient_ids)


def refresh(patient: Patient, instrument: str, settings: MeasureSettings | None = None,
            doses: list[ext.Dose] | None = None) -> OutcomeSnapshot | None:
    """Recompute one snapshot. The row is locked first, so a response saved meanwhile and
    the worker's recomputation cannot overwrite each other with an older reading. ``doses``:
    the patient's doses when the caller has read them already (else read here)."""
    settings = settings or MeasureSettings.for_clinic(patient.clinic_id)
    if doses is None:
        doses = doses_by_patient([patient.pk]).get(patient.pk, [])
    given = attribution(doses)
    with transaction.atomic():
        list(OutcomeSnapshot.objects.select_for_update()
             .filter(patient=patient, instrument=instrument).values_list("pk", flat=True))
        points = list(Response.objects.filter(
            patient=patient, instrument=instrument, entered_in_error_at__isnull=True,
            total__isnull=False).exclude(result__partial=True)  # an item not rated
            .order_by("taken_at").values_list("taken_at", "total"))
        points = whole_totals(instrument, points, settings.prorate_rounding)
        summary = None
        if points:
            try:
                series = outcomes.ScoreSeries.from_pairs(
                    instrument, points, episode_start=given.episode_start,
                    course_start=given.episode_start)
                summary = outcomes.summarise(series, settings=settings.outcome_settings(),
                                             events=relapse_events(patient))
            except (instruments.UnknownInstrumentError, outcomes.SeriesError) as exc:
                # The definition was removed or changed under stored scores: say so in the
                # log; the scores stay on record, only the derived outcome goes.
                log.warning("no outcome for patient %s on %s: %s", patient.pk, instrument, exc)
        if summary is None:
            # Derived data only: with no valid score left there is no outcome to show.
            OutcomeSnapshot.objects.filter(patient=patient, instrument=instrument).delete()
            return None
        data = summary.to_dict()
        values = {
            "condition_group": condition_group(patient),
            "baseline_total": (data.get("baseline") or {}).get("total"),
            "latest_total": (data.get("latest") or {}).get("total"),
            "latest_at": points[-1][0],
            "reduction_pct": data.get("reduction_pct"),
            "response_now": bool(data.get("response_now")),
            "remission_now": bool(data.get("remission_now")),
            "ever_responded": data.get("first_response_at") is not None,
            "time_to_response_days": data.get("time_to_response_days"),
            "has_relapse_rule": bool(data.get("rules", {}).get("relapse")),
            "relapsed": bool(data.get("relapsed")),
            "durability_days": data.get("durability_days"),
            "relief_fading": bool(data.get("relief_fading")),
            "summary": data,
            "settings_version": settings.outcome_version,
            "protocol_label": given.protocol_label,
            "route": given.route,
            "episode_start": given.episode_start,
        }
        snapshot, _ = OutcomeSnapshot.objects.update_or_create(
            patient=patient, instrument=instrument, defaults=values)
    return snapshot


def refresh_all(patient: Patient, doses: list[ext.Dose] | None = None) -> None:
    """After a diagnosis, an event or a dose: every instrument's snapshot of the patient."""
    settings = MeasureSettings.for_clinic(patient.clinic_id)
    instruments_measured = list(OutcomeSnapshot.objects.filter(patient=patient)
                                .values_list("instrument", flat=True))
    if instruments_measured and doses is None:
        doses = doses_by_patient([patient.pk]).get(patient.pk, [])
    for instrument in instruments_measured:
        refresh(patient, instrument, settings, doses)


def stale(clinic_id: int | None = None):
    """Snapshots computed under an older version of their clinic's outcome rules."""
    # a clinic that never saved its settings has the defaults (no row: reading never writes)
    current = Coalesce(F("patient__clinic__measure_settings__outcome_version"),
                       MeasureSettings._meta.get_field("outcome_version").default)
    found = OutcomeSnapshot.objects.alias(current_version=current).exclude(
        settings_version=F("current_version"))
    return found if clinic_id is None else for_clinic(found, clinic_id)


def refresh_stale(*, clinic_id: int | None = None, limit: int = 500,
                  seconds: float | None = None) -> int:
    """Recompute up to ``limit`` stale snapshots (within ``seconds`` if given); the
    worker runs this in batches, and saving the settings runs a first batch at once."""
    deadline = None if seconds is None else time.monotonic() + seconds
    done = 0
    settings_by_clinic: dict[int, MeasureSettings] = {}
    batch = list(stale(clinic_id).select_related("patient").order_by("pk")[:limit])
    doses = doses_by_patient({snapshot.patient_id for snapshot in batch}) if batch else {}
    for snapshot in batch:
        patient = snapshot.patient
        if patient.clinic_id not in settings_by_clinic:
            settings_by_clinic[patient.clinic_id] = MeasureSettings.for_clinic(patient.clinic_id)
        refresh(patient, snapshot.instrument, settings_by_clinic[patient.clinic_id],
                doses.get(patient.pk, []))
        done += 1
        if deadline is not None and time.monotonic() > deadline:
            break
    return done


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def present(snapshot: OutcomeSnapshot, outcome_version: int) -> dict:
    """The stored summary as the patient's measures page shows it (datetimes parsed)."""
    data = snapshot.summary
    relapse = data.get("relapse")
    return {
        "snapshot": snapshot,
        "baseline": data.get("baseline") and {**data["baseline"],
                                               "taken_at": _when(data["baseline"]["taken_at"])},
        "latest": data.get("latest") and {**data["latest"],
                                           "taken_at": _when(data["latest"]["taken_at"])},
        "reduction_pct": data.get("reduction_pct"),
        "reduction_points": data.get("reduction_points"),
        "response_now": data.get("response_now"),
        "remission_now": data.get("remission_now"),
        "first_response_at": _when(data.get("first_response_at")),
        "time_to_response_days": data.get("time_to_response_days"),
        "first_remission_at": _when(data.get("first_remission_at")),
        "relapse": relapse and {**relapse, "at": _when(relapse["at"]),
                                "criterion_label": ClinicalEvent.KINDS.get(
                                    relapse["criterion"], "score criterion")},
        "durability_days": data.get("durability_days"),
        "durability_censored": data.get("durability_censored"),
        "durability_from": data.get("durability_from"),
        "fading": data.get("fading"),
        "rules": [(name, rule, data.get("evidence", {}).get(name, ""))
                  for name, rule in sorted(data.get("rules", {}).items())],
        "notes": data.get("notes", []),
        "stale": snapshot.settings_version != outcome_version,
    }
