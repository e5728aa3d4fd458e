"""Fixtures the treatment tests share."""

from __future__ import annotations

import pytest

from kapclinic.treatment import course_actions
from tests.treatment.helpers import IV


@pytest.fixture
def dosed_course(patient, prescriber, nurse, therapist):
    """A course whose first infusion was given half an hour ago."""
    from kapclinic.treatment import actions
    from tests.treatment.helpers import CALM, checklist_done, eligible_and_consented, minutes_ago, step

    eligible_and_consented(patient, prescriber)
    course = course_actions.plan_course(patient=patient, protocol=IV, first_dose_at=minutes_ago(40),
                                        clinician=prescriber, therapist=therapist, by=prescriber)
    first = course.sessions.order_by("scheduled_at").first()
    step(first, "checked_in", minutes_ago(38), nurse)
    checklist_done(first, nurse, at=minutes_ago(36))
    actions.record_vitals(first, observed_at=minutes_ago(35), values=CALM, by=nurse)
    step(first, "cleared", minutes_ago(34), nurse)
    step(first, "dosing", minutes_ago(30), nurse, administration={"dose_mg_per_kg": 0.5})
    return course
