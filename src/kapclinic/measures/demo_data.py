"""Synthetic questionnaire histories for the demo clinic: deterministic for a seed.

Each treated patient gets weekly PHQ-9 and GAD-7: a baseline, relief after treatment
starts, and for some a fading of that relief (a booster candidate). Numbers are invented
to exercise the software, not to resemble any trial.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from kapclinic.accounts.models import User
from kapclinic.accounts.roles import Role
from kapclinic.accounts.scoping import for_clinic
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.clinical import instruments
from kapclinic.measures.actions import stored_result
from kapclinic.measures.models import ClinicalEvent, Response
from kapclinic.patients.models import Patient, Status
from kapclinic.platform.extensions import DemoRun

TREATED = {Status.IN_TREATMENT, Status.MAINTENANCE, Status.DISCHARGED}
BATCH = 5_000


def answers_for_total(instrument: str, total: int, spare: tuple[str, ...] = ()) -> dict[str, int]:
    """Spread ``total`` over the scored items, leaving the ``spare`` items at 0."""
    definition = instruments.get_instrument(instrument)
    items = [i for i in definition.items if i.scored and i.link_id not in spare]
    top = max(items[0].values)
    total = max(0, min(total, top * len(items)))
    answers = {i.link_id: 0 for i in definition.items if i.scored}
    for index, item in enumerate(items):
        share = total // len(items) + (1 if index < total % len(items) else 0)
        answers[item.link_id] = min(share, top)
    return answers


def history(rng: random.Random, weeks: int, now: datetime) -> list[tuple[datetime, int]]:
    """Weekly PHQ-9 totals, oldest first."""
    baseline = rng.randint(12, 24)
    start = rng.randint(1, 3)
    relief = rng.uniform(0.2, 0.85)
    fade_week = rng.randint(start + 4, max(start + 5, weeks)) if rng.random() < 0.3 else None
    first = now - timedelta(weeks=weeks, hours=rng.randint(0, 72))
    points = []
    for week in range(weeks):
        level = float(baseline)
        if week >= start:
            level = baseline * (1 - relief * min(1.0, (week - start + 1) / 2))
        if fade_week is not None and week >= fade_week:
            level += (baseline - level) * min(1.0, (week - fade_week + 1) / 4)
        total = int(round(level + rng.uniform(-2, 2)))
        points.append((first + timedelta(weeks=week), max(0, min(27, total))))
    return points


@action
def demo_responses(patients: list[Patient], rng: random.Random, weeks: int,
                   now: datetime, progress=None, *, by: User | None) -> int:
    """Create (and audit) the responses in batches, in one action; returns how many."""
    made = 0
    batch: list[Response] = []
    for patient in patients:
        span = weeks if patient.status in TREATED else 1
        for week, (taken_at, phq9_total) in enumerate(history(rng, span, now)):
            series = [("phq9", phq9_total), ("gad7", round(phq9_total * 21 / 27))]
            if patient.status in TREATED and week % 2 == 0:  # clinician-rated, fortnightly
                series.append(("madrs", round(phq9_total * 60 / 27)))
            for instrument, total in series:
                answers = answers_for_total(instrument, total,
                                            spare=("9",) if instrument == "phq9" else ())
                result = instruments.score(instrument, answers)
                batch.append(Response(
                    patient=patient, instrument=instrument,
                    definition_version=result.definition_version, answers=answers,
                    total=result.total, severity=result.severity or "", flags=list(result.flags),
                    result=stored_result(result), taken_at=taken_at,
                    source="clinic" if instrument == "madrs" else "link"))
        if len(batch) >= BATCH:
            made += _flush(batch, progress)
    return made + _flush(batch, progress)


def _flush(batch: list[Response], progress) -> int:
    if not batch:
        return 0
    created = Response.objects.bulk_create(batch)
    trail.record_many([trail.Event("create", "response", r.pk, patient_id=r.patient_id,
                                   clinic_id=r.patient.clinic_id) for r in created])
    count = len(batch)
    batch.clear()
    if progress is not None:
        progress(count)
    return count


def refresh_outcomes(patients: list[Patient]) -> None:
    from kapclinic.measures.outcomes import doses_by_patient, refresh

    doses = doses_by_patient([p.pk for p in patients])  # one read, not one per patient
    for patient in patients:
        for instrument in ("phq9", "gad7", "madrs"):
            refresh(patient, instrument, doses=doses.get(patient.pk, []))


@action
def demo_events(patients: list[Patient], rng: random.Random, now: datetime, recorded_by: User,
                *, by: User | None) -> int:
    """A few events that define relapse (about one treated patient in 25): enough for the
    demo's relapse curve and measures pages to show how they count."""
    treated = [p for p in patients if p.status in TREATED]
    chosen = rng.sample(treated, k=len(treated) // 25) if len(treated) >= 25 else treated[:1]
    events = ClinicalEvent.objects.bulk_create([
        ClinicalEvent(patient=p, kind=rng.choice(("hospitalisation_worsening_depression",
                                                  "hospitalisation_suicide_prevention")),
                      occurred_at=now - timedelta(days=rng.randint(3, 40)),
                      note="Demo: admitted after a crisis call", recorded_by=recorded_by)
        for p in chosen])
    trail.record_many([trail.Event("create", "clinical_event", e.pk, patient_id=e.patient_id,
                                   clinic_id=e.patient.clinic_id) for e in events])
    return len(events)


# [demo] CADSS-6 entered about 40 min after each dose (clinical.md 4.2: recorded around
# 40 min); totals invented, as everywhere in the demo
CADSS6_AFTER = timedelta(minutes=40)


@action
def demo_session_scores(patients: list[Patient], rng: random.Random, now: datetime,
                        entered_by: User, *, by: User | None) -> int:
    """A CADSS-6 in each demo session with a dose (the treatment demo's, read through the
    registry), linked to its session, so session peaks and time since the dose show."""
    from kapclinic.platform import extensions as ext

    batch = []
    doses = ext.doses_of([p.pk for p in patients])
    for patient in patients:
        for dose in doses.get(patient.pk, []):
            taken_at = dose.given_at + CADSS6_AFTER
            if taken_at > now:
                continue
            answers = answers_for_total("cadss6", rng.randint(2, 14))
            result = instruments.score("cadss6", answers)
            batch.append(Response(
                patient=patient, instrument="cadss6", definition_version=result.definition_version,
                answers=answers, total=result.total, severity=result.severity or "",
                flags=list(result.flags), result=stored_result(result), taken_at=taken_at,
                source="clinic", entered_by=entered_by, session_id=dose.session_id))
    return _flush(batch, None)


def load(run: DemoRun) -> None:
    """The measures app's demo data for one clinic: questionnaires over ``run.weeks`` weeks,
    a few relapse-defining events, and the outcomes they give."""
    patients = list(for_clinic(Patient.objects.select_related("clinic"), run.clinic.pk)
                    .order_by("mrn"))
    demo_responses(patients, run.rng, run.weeks, run.now, by=None)
    # the demo prescriber is named on the events; the trail names the demo command (by=None)
    demo_events(patients, run.rng, run.now, run.staff[Role.PRESCRIBER], by=None)
    demo_session_scores(patients, run.rng, run.now, run.staff[Role.NURSE], by=None)
    refresh_outcomes(patients)
