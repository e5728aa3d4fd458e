"""The treatment app's demo data: a clinic day and some past sessions, made through the actions
(so every step is checked and audited as in the clinic). Patients are those the screening
demo brought into treatment (signed off for IV ketamine and consented); this loader's own
random stream varies the vital signs, so other apps' demo data stay as they were."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from kapclinic.accounts.roles import Role
from kapclinic.accounts.scoping import for_clinic
from kapclinic.patients.models import Patient
from kapclinic.platform import extensions as ext
from kapclinic.platform.extensions import DemoRun
from kapclinic.treatment import actions, ae_actions, course_actions, note_actions
from kapclinic.treatment import facts as gathered
from kapclinic.treatment.models import Session, State

PROTOCOL = "iv_racemic_ketamine"
ESKETAMINE = "intranasal_esketamine"
LATE = "Demo data, entered after the fact"
# today's sessions, one per patient, in the order patients are taken: every state on the board
TODAY = (State.MONITORING, State.DOSING, State.CLEARED, State.CHECKED_IN, State.SCHEDULED,
         State.DISCHARGED, State.STOPPED, State.CANCELLED)
PAST_SESSIONS = 2          # per patient, a few days apart, discharged, with vitals
PAST_PATIENTS = 6          # kept small: the demo loads in seconds
COURSE_PATIENTS = 3        # planned courses starting next week, for the calendar and course pages
ROOMS = [("Room 1", "A"), ("Room 1", "B"), ("Room 2", "A"), ("Room 2", "B"), ("Room 3", "A")]


def _vitals(run: DemoRun) -> dict[str, float]:
    r = run.rng
    return {"sbp_mmhg": r.randint(112, 134), "dbp_mmhg": r.randint(68, 84),
            "heart_rate_bpm": r.randint(62, 84), "spo2_pct": r.randint(96, 99),
            "resp_rate_per_min": r.randint(12, 16)}


def _take(run: DemoRun, patient: Patient, target: str, start: datetime, place: tuple[str, str],
          protocol: str = PROTOCOL) -> None:
    """A session scheduled at ``start`` taken to ``target`` at a plausible pace."""
    nurse, therapist = run.staff[Role.NURSE], run.staff[Role.THERAPIST]
    now = timezone.now()
    s = actions.schedule_session(patient=patient, protocol=protocol, scheduled_at=start,
                                 room=place[0], chair=place[1], by=run.staff[Role.COORDINATOR],
                                 clinician=run.staff[Role.PRESCRIBER])  # who supervises it
    if target == State.SCHEDULED:
        return

    def late(at: datetime) -> str:
        return LATE if now - at > timedelta(minutes=50) else ""

    def step(to: str, at: datetime, **fields) -> None:
        s.refresh_from_db()
        actions.transition(s, to=to, at=at, by=nurse, expected_version=s.version,
                           late_reason=late(at), **fields)

    if target == State.CANCELLED:
        step(State.CANCELLED, min(start, now - timedelta(minutes=5)),
             reason="Patient called in unwell (demo)")
        return
    t = start
    step(State.CHECKED_IN, t)
    for item, answer, value, note in (
            ("fasting", "yes", None, ""), ("ride_home", "yes", None, ""),
            ("pregnancy_test", "negative" if patient.sex_at_birth == "female" else "not_applicable",
             None, ""),
            ("predose_measures", "yes", None, ""), ("weight_today", "recorded", 72.0, ""),
            ("intention_note", "recorded", None, "To stay with what comes up (demo)"),
            ("nasal_steroid_decongestant_timing", "not_applicable", None, "")):
        if item == "nasal_steroid_decongestant_timing" and protocol != ESKETAMINE:
            continue
        by = therapist if item == "intention_note" else nurse
        actions.record_checklist(s, item=item, answer=answer, value=value, note=note,
                                 at=t + timedelta(minutes=2), by=by, late_reason=late(t))
    actions.record_vitals(s, observed_at=t + timedelta(minutes=4), values=_vitals(run), by=nurse,
                          late_reason=late(t))
    if target == State.CHECKED_IN:
        return
    step(State.CLEARED, t + timedelta(minutes=6))
    if target == State.CLEARED:
        return
    dose_at = t + timedelta(minutes=8)
    if protocol == ESKETAMINE:
        _spray(run, s, dose_at, late)
    else:
        step(State.DOSING, dose_at, administration={
            "dose_mg_per_kg": 0.5, "lot": f"DEMO{run.rng.randint(1000, 9999)}",
            "product_ndc": "0409-2051-05", "concentration_mg_per_ml": 10.0, "rate_mg_per_min": 0.9})
    for minutes in range(10, 41, 10):
        at = dose_at + timedelta(minutes=minutes)
        if at < now:
            actions.record_vitals(s, observed_at=at, values=_vitals(run), by=nurse, late_reason=late(at))
    if target == State.DOSING:
        return
    if target == State.STOPPED:
        step(State.STOPPED, dose_at + timedelta(minutes=12),
             reason="Patient asked to stop; infusion ended early (demo)")
        return
    end = dose_at + timedelta(minutes=40)
    step(State.MONITORING, end)
    for minutes in range(15, 121, 15):
        at = end + timedelta(minutes=minutes)
        if at < now:
            actions.record_vitals(s, observed_at=at, values=_vitals(run), by=nurse, late_reason=late(at))
    if target == State.MONITORING:
        return
    step(State.DISCHARGED, end + timedelta(minutes=125), checklist={
        "sedation_resolved": "yes", "dissociation_resolved": "yes",
        "respiratory_depression_resolved": "yes", "judged_stable": "yes",
        "discharge_score": {"answer": "recorded", "value": 10}})


def _spray(run: DemoRun, s, dose_at: datetime, late) -> None:
    """Esketamine: the label's first dose for the patient's age (or 56 mg), two or three
    devices five minutes apart (Spravato kit NDCs, clinical.md 6.2)."""
    context = gathered.dose_context(s)
    first_mg = 28 if context["age_years"] >= 65 else 56
    mg = first_mg if context["first_dose"] else 56
    devices = int(mg // 28)
    s.refresh_from_db()
    actions.transition(s, to=State.DOSING, at=dose_at, by=run.staff[Role.NURSE], expected_version=s.version,
                       late_reason=late(dose_at), administration={
                           "dose_mg": mg, "lot": f"SPR{run.rng.randint(1000, 9999)}",
                           "product_ndc": "50458-028-02" if devices == 2 else "50458-028-03"})
    for n in range(devices):
        at = dose_at + timedelta(minutes=5 * n)
        if at < timezone.now():
            actions.record_administration_event(s, kind="device", at=at, by=run.staff[Role.NURSE],
                                                late_reason=late(at))


def load(run: DemoRun) -> None:
    treated = [p for p in for_clinic(Patient, run.clinic.pk).order_by("mrn")
               if run.targets.get(p.mrn) in ("in_treatment", "maintenance")]
    now = timezone.now()
    # minutes before now each of today's sessions started, so its state is plausible now
    started = {State.MONITORING: 100, State.DOSING: 25, State.CLEARED: 12, State.CHECKED_IN: 6,
               State.SCHEDULED: -45, State.DISCHARGED: 200, State.STOPPED: 60, State.CANCELLED: -90}
    # patients cleared for esketamine take today's discharged session (its REMS form pending)
    # and, with a second one, the session in observation
    sprays = [p for p in treated if not ext.dose_blockers(p, "esketamine", "intranasal")][:2]
    assigned = list(zip(sprays, (State.DISCHARGED, State.MONITORING), strict=False))
    left = list(TODAY)
    for _, target in assigned:
        left.remove(target)
    assigned += zip([p for p in treated if p not in sprays], left, strict=False)
    assigned.sort(key=lambda pair: TODAY.index(pair[1]))  # rooms in the board's order
    for i, (patient, target) in enumerate(assigned):
        _take(run, patient, target, now - timedelta(minutes=started[target]), ROOMS[i % len(ROOMS)],
              ESKETAMINE if patient in sprays else PROTOCOL)
    for patient in treated[:PAST_PATIENTS]:
        for k in range(PAST_SESSIONS, 0, -1):
            day = now - timedelta(days=3 * k + run.rng.randint(0, 1), hours=run.rng.randint(1, 4))
            _take(run, patient, State.DISCHARGED, day, ROOMS[run.rng.randrange(len(ROOMS))])
    _plan_courses(run, treated[-COURSE_PATIENTS:])
    _adverse_events(run)
    _notes(run)
    _monitor(run)


def _monitor(run: DemoRun) -> None:
    """A bedside monitor at the chair of the session being monitored, registered to its room, has
    sent its last few readings; and one message for an MRN the clinic does not know waits in
    the unmatched queue."""
    import random

    from kapclinic.treatment.monitors import intake, simulate
    from kapclinic.treatment.settings_actions import register_monitor

    watched = (Session.objects.filter(patient__clinic=run.clinic, state=State.MONITORING)
               .select_related("patient").first())
    if watched is None:
        return
    device = f"00A0C9{run.clinic.pk:02X}14C829"[:16]
    register_monitor(clinic_id=run.clinic.pk, device_id=device, label="Bedside monitor 1",
                     room=watched.room or "Room 1", chair=watched.chair, by=run.staff[Role.ADMIN])
    drift = simulate.Drift(random.Random(run.rng.random()))
    now = timezone.now()
    for minutes in (12, 7, 2):
        drift.step()
        intake.receive(simulate.message(control_id=f"demo-{watched.pk}-{minutes}",
                                        mrn=watched.patient.mrn, device=device,
                                        at=now - timedelta(minutes=minutes), patient=drift),
                       clinic=run.clinic, peer="127.0.0.1")
    intake.receive(simulate.message(control_id=f"demo-unmatched-{run.clinic.pk}", mrn="UNKNOWN-7",
                                    device="00A0C914C8290001", at=now - timedelta(minutes=4),
                                    patient=drift), clinic=run.clinic, peer="127.0.0.1")


# what the demo's notes say: (kind, author role, the template's sections in order)
DEMO_NOTES = (
    ("preparation", Role.THERAPIST, ("Less numb, wants to understand the anger at her brother.",
                                     "Worried about feeling sick again and about losing control.",
                                     "Slept well; partner drives home. Eyeshade, low music.", True)),
    ("dosing", Role.NURSE, ("Floating, 'a wide quiet field'; a few minutes of fear at the peak.",
                            "Sat beside her; hand on shoulder with consent; breathing cue.",
                            "None beyond support. Vitals and CADSS are in the session record.")),
    ("integration", Role.THERAPIST, ("Distance from the anger; 'I can see him as small'.",
                                     "Her numbness protects her from grief.",
                                     "Write to her brother, not send it; walk daily.",
                                     "Next infusion as booked; PHQ-9 before it.")),
)


def _notes(run: DemoRun) -> None:
    """Signed preparation, dosing and integration notes for the latest past session of a few
    patients, a psychotherapy note of the therapist's, and one draft left open."""
    sessions = list(Session.objects.filter(patient__clinic=run.clinic, state=State.DISCHARGED,
                                           administrations__isnull=False)
                    .select_related("patient").order_by("-scheduled_at").distinct()[:3])
    for session in sessions:
        for kind, role, texts in DEMO_NOTES:
            author = run.staff[role]
            draft = note_actions.start_draft(patient=session.patient, kind=kind, session=session,
                                             by=author, key=f"demo-{kind}-{session.pk}")
            content = {section["key"]: text for section, text in zip(draft.sections, texts,
                                                                     strict=False)}
            draft = note_actions.save_draft(draft=draft, content=content, part2=False,
                                            expected_version=draft.version, by=author)
            note_actions.sign_draft(draft=draft, expected_version=draft.version, by=author)
    if not sessions:
        return
    therapist, first = run.staff[Role.THERAPIST], sessions[0]
    draft = note_actions.start_draft(patient=first.patient, kind="psychotherapy", session=first,
                                     by=therapist, key=f"demo-pn-{first.pk}")
    draft = note_actions.save_draft(draft=draft, content={"text": "Her father's silence at the table; "
                                    "my sense she is testing whether I will leave too (demo)."},
                                    part2=False, expected_version=draft.version, by=therapist)
    note_actions.sign_draft(draft=draft, expected_version=draft.version, by=therapist)
    draft = note_actions.start_draft(patient=first.patient, kind="progress", by=therapist,
                                     key=f"demo-draft-{first.pk}")
    note_actions.save_draft(draft=draft, content={"progress": "Sleeping better since the second "
                                                  "infusion; "}, part2=False,
                            expected_version=draft.version, by=therapist)


def _adverse_events(run: DemoRun) -> None:
    """Two adverse events of past sessions: nausea, reviewed and closed; and a blood-pressure
    rise judged serious (an important medical event) that waits for the prescriber's review,
    so the alert and the safety listing have something to show."""
    past = list(Session.objects.filter(patient__clinic=run.clinic, state=State.DISCHARGED,
                                       administrations__isnull=False)
                .order_by("scheduled_at").distinct()[:2])
    nurse, prescriber = run.staff[Role.NURSE], run.staff[Role.PRESCRIBER]
    for session, term, criteria in zip(past, ("Nausea", "Hypertension (blood pressure rise)"),
                                       ([], ["important_medical_event"]), strict=False):
        event = ae_actions.record_event(
            patient=session.patient, session=session, term=term,
            onset_at=session.scheduled_at + timedelta(minutes=35),
            severity="mild" if not criteria else "severe", grade=1 if not criteria else 3,
            serious_criteria=criteria, key=f"demo-{session.pk}", by=nurse,
            action_taken="No change" if not criteria else "Infusion paused",
            description="" if not criteria else "Blood pressure 188/112 at 30 minutes (demo)")
        if not criteria:
            ae_actions.review_event(event=event, causality="Related", by=prescriber)
            ae_actions.close_event(event=event, outcome="Resolved", by=nurse)


def _plan_courses(run: DemoRun, patients: list[Patient]) -> None:
    """Courses from next Monday, an hour apart, in the rooms the clinic uses."""
    zone = ZoneInfo(run.clinic.time_zone)
    today = timezone.now().astimezone(zone).date()
    monday = today + timedelta(days=7 - today.weekday())
    for i, patient in enumerate(patients):
        first = datetime(monday.year, monday.month, monday.day, 9 + 2 * i, 0, tzinfo=zone)
        room, chair = ROOMS[i % len(ROOMS)]
        course_actions.plan_course(patient=patient, protocol=PROTOCOL, first_dose_at=first, room=room,
                                   chair=chair, clinician=run.staff[Role.PRESCRIBER],
                                   therapist=run.staff[Role.THERAPIST], by=run.staff[Role.COORDINATOR])
