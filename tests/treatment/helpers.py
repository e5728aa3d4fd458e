"""Sessions made the way the app makes them, for the treatment tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from kapclinic.screening import actions as screening
from kapclinic.treatment import actions
from kapclinic.treatment.models import Session
from tests import factories

IV = "iv_racemic_ketamine"
ESKETAMINE = "intranasal_esketamine"
CALM = {"sbp_mmhg": 122, "dbp_mmhg": 78, "heart_rate_bpm": 72, "spo2_pct": 98, "resp_rate_per_min": 14}


def minutes_ago(n: float) -> datetime:
    return timezone.now() - timedelta(minutes=n)


def eligible_and_consented(patient, prescriber, *, drug="ketamine", route="iv-infusion") -> None:
    decision = factories.decision(patient, prescriber, drug=drug, route=route)
    screening.sign_off(decision=decision, accept=False, final_status="eligible",
                       reason="Reviewed in clinic", by=prescriber)
    factories.consent(patient, prescriber)


def session(patient, by, protocol=IV, *, started_minutes_ago: float = 180) -> Session:
    return actions.schedule_session(patient=patient, protocol=protocol,
                                    scheduled_at=minutes_ago(started_minutes_ago), room="Room 1",
                                    chair="A", by=by)


LATE = "entered after the session"


def checklist_done(s: Session, nurse, *, at: datetime, weight_kg: float = 70, late_reason: str = "",
                   skip: tuple[str, ...] = ()) -> None:
    """Every pre-dose checklist item answered so that it passes (but those in ``skip``)."""
    answers = {"fasting": ("yes", None, ""), "ride_home": ("yes", None, ""),
               "pregnancy_test": ("negative", None, ""), "predose_measures": ("yes", None, ""),
               "nasal_steroid_decongestant_timing": ("yes", None, ""),
               "weight_today": ("recorded", weight_kg, ""),
               "intention_note": ("recorded", None, "To meet the grief with curiosity")}
    for item, (answer, value, note) in answers.items():
        if item not in skip:
            actions.record_checklist(s, item=item, answer=answer, value=value, note=note, at=at,
                                     by=nurse, late_reason=late_reason)


def step(s: Session, to: str, at: datetime, by, **fields) -> Session:
    s.refresh_from_db()
    return actions.transition(s, to=to, at=at, by=by, expected_version=s.version, **fields)


def cleared(patient, prescriber, nurse, protocol=IV, *, start: float = 170) -> Session:
    """A session checked in and cleared to dose, its steps from ``start`` minutes ago."""
    s = session(patient, prescriber, protocol, started_minutes_ago=start + 10)
    step(s, "checked_in", minutes_ago(start), nurse, late_reason=LATE)
    checklist_done(s, nurse, at=minutes_ago(start - 1), late_reason=LATE)
    actions.record_vitals(s, observed_at=minutes_ago(start - 2), values=CALM, by=nurse, late_reason=LATE)
    return step(s, "cleared", minutes_ago(start - 3), nurse, late_reason=LATE)
