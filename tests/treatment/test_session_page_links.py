"""The session page leads to what belongs with the session: the CADSS-6 form kept with it
while the dose acts, the printable record, and the course it is part of."""

from __future__ import annotations

import pytest

from kapclinic.treatment import course_actions
from tests.conftest import login
from tests.treatment.helpers import LATE, cleared, eligible_and_consented, minutes_ago, step
from tests.treatment.test_courses import next_monday_9am

pytestmark = pytest.mark.django_db


def test_while_dosing_the_page_offers_the_cadss6_kept_with_this_session(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = step(cleared(patient, prescriber, nurse, start=50), "dosing", minutes_ago(40), nurse,
             late_reason=LATE, administration={"dose_mg_per_kg": 0.5})
    page = login(nurse).get(f"/sessions/{s.pk}/").content.decode()
    assert f"/cadss6/?session={s.pk}" in page
    assert f"/sessions/{s.pk}/record/" in page


def test_before_the_dose_there_is_no_cadss6_to_record(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=10)
    assert f"cadss6/?session={s.pk}" not in login(nurse).get(f"/sessions/{s.pk}/").content.decode()


def test_a_session_of_a_course_links_back_to_its_course(patient, prescriber, nurse):
    course = course_actions.plan_course(patient=patient, protocol="iv_racemic_ketamine",
                                        first_dose_at=next_monday_9am(), by=prescriber)
    first = course.sessions.first()
    page = login(nurse).get(f"/sessions/{first.pk}/").content.decode()
    assert f"/patients/{patient.pk}/courses/{course.pk}/" in page
