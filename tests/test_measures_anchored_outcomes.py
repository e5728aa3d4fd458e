"""Issue 12: trajectories show the time since the nearest dose, the outcomes dashboard breaks
response and remission down by protocol and by route, a course's outcome is measured from
its episode baseline, and the patients whose relief fades are offered to the course page."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kapclinic.measures.models import OutcomeSnapshot
from kapclinic.measures.since_dose import span_words
from kapclinic.patients.actions import add_condition
from kapclinic.platform import extensions as ext
from kapclinic.treatment import actions as treatment
from tests.conftest import login, new_patient
from tests.factories import response
from tests.factories import responses as record_series
from tests.test_api import Api
from tests.treatment.helpers import cleared, eligible_and_consented, minutes_ago

pytestmark = pytest.mark.django_db

IV = ("iv_racemic_ketamine", "IV racemic ketamine", "iv-infusion")
ESKETAMINE = ("intranasal_esketamine", "Intranasal esketamine", "intranasal")


class Doses:
    """Doses as the treatment app reports them (DoseRecords and DoseHook), given at any time
    and in courses, which the treatment app does not make yet."""

    def __init__(self):
        self.given: dict[int, list[ext.Dose]] = {}
        self.sessions = 5000

    def read(self, patient_ids):
        wanted = set(patient_ids)
        return {pid: list(doses) for pid, doses in self.given.items() if pid in wanted}

    def give(self, patient, at: datetime, protocol=IV, course: int | None = None) -> ext.Dose:
        self.sessions += 1
        dose = ext.Dose(patient_id=patient.pk, session_id=self.sessions, course_id=course,
                        protocol=protocol[0], protocol_label=protocol[1], drug="ketamine",
                        route=protocol[2], dose_mg=35.0, given_at=at)
        self.given.setdefault(patient.pk, []).append(dose)
        self.given[patient.pk].sort(key=lambda d: d.given_at)
        ext.dose_given(patient, dose)
        return dose


@pytest.fixture
def doses():
    recorded = Doses()
    with ext.registrations_undone():
        ext.register(ext.DoseRecords("treatment", recorded.read))
        yield recorded


@pytest.fixture
def treated(clinic_a, prescriber):
    patient = new_patient(clinic_a, prescriber, mrn="A-T1", family_name="Treated")
    add_condition(patient=patient, code="F33.2", by=prescriber)
    return patient


def days_ago(n: float) -> datetime:
    return timezone.now() - timedelta(days=n)


def test_time_since_a_dose_reads_in_minutes_then_hours_then_days():
    assert [span_words(timedelta(minutes=m)) for m in (38, 60, 24 * 60, 47 * 60 + 59)] == [
        "38 min", "1 h", "24 h", "47 h"]
    assert [span_words(timedelta(days=d)) for d in (2, 7, -3)] == ["2 days", "7 days", "3 days"]


def test_each_answer_on_the_measures_page_says_how_long_from_the_nearest_dose(
        doses, treated, prescriber, nurse):
    given = timezone.localtime(days_ago(10), treated.clinic.zone)
    doses.give(treated, given)
    for after in (timedelta(hours=-2), timedelta(hours=24), timedelta(days=3)):
        response(treated, prescriber, "phq9", total=12, taken_at=given + after)
    text = login(nurse).get(f"/patients/{treated.pk}/measures/").content.decode()
    day = f"{given.day} {given:%b}"
    if given.year != timezone.localtime(timezone.now(), treated.clinic.zone).year:
        day += f" {given.year}"
    # a score before any dose reads as pre-treatment
    for words in ("2 h before the first dose", "24 h after the dose", "3 days after the dose"):
        assert f"{words} of {day}</span>" in text


def test_an_answer_is_placed_against_the_nearer_of_two_doses(doses, treated, prescriber, nurse):
    doses.give(treated, days_ago(14))
    later = doses.give(treated, days_ago(4), protocol=ESKETAMINE)
    response(treated, prescriber, "phq9", total=10, taken_at=later.given_at - timedelta(days=1))
    text = login(nurse).get(f"/patients/{treated.pk}/measures/").content.decode()
    # two protocols: each line names its dose's
    assert "24 h before the dose of" in text and "(Intranasal esketamine)</span>" in text


def test_the_api_lists_each_response_with_its_time_since_the_dose(doses, treated, prescriber,
                                                                   nurse):
    dose = doses.give(treated, days_ago(3))
    response(treated, prescriber, "phq9", total=9, taken_at=dose.given_at + timedelta(hours=24))
    [row] = Api(nurse).call("GET", f"/patients/{treated.pk}/responses").json()["results"]
    assert row["session_id"] is None  # answered at home, not linked to the session
    since = row["since_dose"]
    assert (since["minutes"], since["dose"]["session_id"], since["dose"]["route"]) == (
        24 * 60, dose.session_id, "iv-infusion")
    assert since["words"].startswith("24 h after the dose of")


def test_the_dashboard_breaks_response_and_remission_down_by_protocol_and_route(
        doses, clinic_a, prescriber, nurse):
    series = {"iv-responder": ([20, 8], IV), "iv-not": ([20, 18], IV),
              "esk-remitter": ([18, 4], ESKETAMINE), "undosed": ([20, 9], None)}
    for n, (name, (totals, protocol)) in enumerate(series.items()):
        patient = new_patient(clinic_a, prescriber, mrn=f"A-P{n}", family_name=name)
        if protocol is not None:
            doses.give(patient, days_ago(20), protocol=protocol)
        record_series(patient, "phq9", totals, prescriber)
    page = login(nurse).get("/dashboard/")
    by = page.context["by_treatment"]
    assert [(r["label"], r["n"], r["responders"], r["remitters"]) for r in by["protocol"]] == [
        ("IV racemic ketamine", 2, 1, 0), ("Intranasal esketamine", 1, 1, 1),
        ("No dose on record", 1, 1, 0)]
    assert [(r["label"], r["n"]) for r in by["route"]] == [
        ("IV infusion", 2), ("Intranasal", 1), ("No dose on record", 1)]
    assert b"Response and remission by protocol and by route" in page.content


def test_a_new_dose_moves_the_patients_outcome_to_its_protocol(treated, prescriber, nurse):
    record_series(treated, "phq9", [20, 9], prescriber)
    assert OutcomeSnapshot.objects.get().protocol_label == ""
    eligible_and_consented(treated, prescriber)
    session = cleared(treated, prescriber, nurse, start=20)
    treatment.record_administration(session, at=minutes_ago(5), by=nurse, dose_mg_per_kg=0.5)
    snapshot = OutcomeSnapshot.objects.get()
    assert (snapshot.protocol_label, snapshot.route) == (session.protocol_label, session.route)


def test_a_course_is_measured_from_the_last_score_before_its_first_dose(
        doses, treated, prescriber, nurse):
    # PHQ-9 24 at intake, 20 the day before the course starts, 9 after: from the intake it
    # would be a 62% drop; from the episode baseline (20) it is 55%, a response either way
    for total, ago in ((24, 60), (20, 15), (9, 1)):
        response(treated, prescriber, "phq9", total=total, taken_at=days_ago(ago))
    first = doses.give(treated, days_ago(14), course=7)
    doses.give(treated, days_ago(10), course=7)
    snapshot = OutcomeSnapshot.objects.get()
    assert (snapshot.baseline_total, snapshot.episode_start) == (20, first.given_at)
    assert snapshot.reduction_pct == pytest.approx(55)
    text = login(nurse).get(f"/patients/{treated.pk}/measures/").content.decode()
    assert "this course's episode baseline: the last score before its first dose" in text


def test_a_patient_in_no_course_keeps_their_first_score_as_baseline(doses, treated, prescriber):
    for total, ago in ((24, 60), (20, 15), (9, 1)):
        response(treated, prescriber, "phq9", total=total, taken_at=days_ago(ago))
    doses.give(treated, days_ago(14))
    snapshot = OutcomeSnapshot.objects.get()
    assert (snapshot.baseline_total, snapshot.episode_start) == (24, None)


def test_a_new_course_starts_a_new_episode_baseline(doses, treated, prescriber):
    for total, ago in ((22, 90), (6, 60), (19, 31), (8, 2)):
        response(treated, prescriber, "phq9", total=total, taken_at=days_ago(ago))
    doses.give(treated, days_ago(88), course=1)
    second = doses.give(treated, days_ago(30), course=2)
    snapshot = OutcomeSnapshot.objects.get()
    assert (snapshot.baseline_total, snapshot.episode_start) == (19, second.given_at)


def test_fading_relief_offers_the_clinics_booster_candidates_to_the_course_page(
        treated, prescriber, clinic_b):
    record_series(treated, "phq9", [20, 8, 6, 15, 17], prescriber)
    assert ext.fading_patients(treated.clinic_id) == {treated.pk}
    assert ext.fading_patients(clinic_b.pk) == set()


def page_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_dashboard_and_measures_page_cost_the_same_queries_for_few_or_many_doses(
        doses, clinic_a, prescriber, nurse, treated):
    client = login(nurse)

    def add(count: int, start: int) -> None:
        for n in range(start, start + count):
            patient = new_patient(clinic_a, prescriber, mrn=f"A-D{n}")
            doses.give(patient, days_ago(30), protocol=IV if n % 2 else ESKETAMINE, course=n)
            record_series(patient, "phq9", [20, 9], prescriber)
        for k in range(count):
            doses.give(treated, days_ago(40 - start - k))
            response(treated, prescriber, "phq9", total=12, taken_at=days_ago(39 - start - k))

    add(2, 0)
    few = (page_queries(client, "/dashboard/"),
           page_queries(client, f"/patients/{treated.pk}/measures/"))
    add(10, 2)
    assert (page_queries(client, "/dashboard/"),
            page_queries(client, f"/patients/{treated.pk}/measures/")) == few
