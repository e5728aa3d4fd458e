"""The demo's clinic day and the chart's sessions section."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic import demo
from kapclinic.accounts.models import Clinic
from kapclinic.platform import extensions
from kapclinic.treatment.chart import load_section, section_events
from kapclinic.treatment.models import Course, Session, State, VitalReading
from tests.conftest import PASSWORD
from tests.treatment.helpers import cleared, eligible_and_consented, session

pytestmark = pytest.mark.django_db


def test_the_demo_shows_a_clinic_day_in_every_state_an_esketamine_rems_form_pending_and_planned_courses():
    demo.load_demo(patients=24, seed=3, password=PASSWORD, weeks=4)
    clinic = Clinic.objects.get(slug="harbor")
    states = set(Session.objects.filter(patient__clinic=clinic).values_list("state", flat=True))
    assert states == set(State.values)
    past = Session.objects.filter(patient__clinic=clinic, state=State.DISCHARGED).count()
    assert past > 1
    assert VitalReading.objects.filter(patient__clinic=clinic, phase="after_dose").exists()
    sprayed = Session.objects.get(patient__clinic=clinic, drug="esketamine", state=State.DISCHARGED)
    assert not sprayed.rems_submissions.exists()  # one REMS monitoring form pending
    assert sprayed.administration_events.filter(kind="device").count() == 2
    planned = Course.objects.filter(patient__clinic=clinic, state="active")
    assert planned.count() == 3
    assert all(course.therapy_visits.filter(kind="preparation").exists() for course in planned)


def test_a_small_demo_still_has_an_esketamine_session_with_its_rems_form_pending():
    demo.load_demo(patients=12, seed=7, password=PASSWORD, weeks=2)
    sprayed = Session.objects.filter(drug="esketamine", state=State.DISCHARGED)
    assert sprayed.exists()
    assert not sprayed.first().rems_submissions.exists()


def test_a_session_still_in_progress_after_midnight_stays_first_on_the_chart(patient, prescriber, nurse):
    """Booked before midnight and not over yet: still the session a clinician looks for first,
    not one of the past (it failed a test run shortly after midnight in the clinic's zone). The
    clinic is put in the zone where it is now between midnight and one in the morning."""
    from datetime import UTC, datetime, timedelta

    ahead = next(h for h in range(-12, 15) if (datetime.now(UTC) + timedelta(hours=h)).hour == 0)
    Clinic.objects.filter(pk=patient.clinic_id).update(time_zone=f"Etc/GMT{-ahead:+d}")
    patient.clinic.refresh_from_db()
    zone = patient.clinic.zone
    with timezone.override(zone):
        midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    minutes_since = (timezone.now() - midnight).total_seconds() / 60
    eligible_and_consented(patient, prescriber)
    late = cleared(patient, prescriber, nurse, start=minutes_since + 20)  # booked 30 min before midnight
    with timezone.override(zone):
        data = load_section(patient)
    assert late.scheduled_at < midnight and [s.pk for s in data.upcoming] == [late.pk]
    assert late.pk not in [s.pk for s in data.sessions]


def test_the_chart_lists_todays_sessions_first_even_with_a_course_planned_ahead_in_four_queries(
        patient, prescriber, nurse):
    from kapclinic.treatment import course_actions
    from tests.treatment.test_courses import next_monday_9am

    eligible_and_consented(patient, prescriber)
    earlier = cleared(patient, prescriber, nurse, start=40)
    later = session(patient, prescriber, started_minutes_ago=5)
    course_actions.plan_course(patient=patient, protocol="iv_racemic_ketamine",
                               first_dose_at=next_monday_9am(), by=prescriber)
    zone = patient.clinic.zone  # a request runs in its clinic's time zone (accounts.middleware)
    with timezone.override(zone), CaptureQueriesContext(connection) as queries:
        data = load_section(patient)
        events = section_events(patient, data)
    assert len(queries) == 4  # today's and next, the earlier ones, their steps, the courses
    assert [s.pk for s in data.upcoming[:2]] == [earlier.pk, later.pk]
    assert len(data.upcoming) == 5 and data.active_course is not None
    assert [e.title.split(": ")[1] for e in events] == ["checked in", "cleared to dose"]
    assert any(section.key == "treatment" for section in extensions.chart_sections())
