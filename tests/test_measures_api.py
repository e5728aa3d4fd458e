"""The questionnaire API: instruments, scoring, a patient's responses and outcomes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kapclinic.alerts.models import Alert
from kapclinic.audit.models import AuditEntry
from kapclinic.measures.models import Response
from tests.test_api import Api, problem_fields
from tests.test_outcomes_dashboard import record_series

PHQ9 = {str(n): 1 for n in range(1, 10)} | {"9": 0}


def test_the_instruments_are_listed_with_their_ids(nurse):
    listed = Api(nurse).call("GET", "/instruments").json()
    assert {"phq9", "madrs", "cssrs_screener"} <= {row["id"] for row in listed}


def test_answers_are_scored_without_being_stored(nurse):
    scored = Api(nurse).call("POST", "/instruments/phq9/score", {"answers": PHQ9 | {"9": 2}})
    body = scored.json()
    assert scored.status_code == 200
    assert (body["total"], body["severity"], body["flags"]) == (10, "moderate",
                                                                ["suicidal_ideation"])
    assert not Response.objects.exists() and not Alert.objects.exists()


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/instruments/phq9/score", {"answers": PHQ9 | {"4": 7}}, "answers.4"),
    ("/instruments/phq9/score", {"answers": PHQ9 | {"99": 1}}, "answers.99"),
    ("/instruments/nonesuch/score", {"answers": {}}, "instrument"),
    ("/instruments/audit_c/score", {"answers": {}, "sex": "other"}, "sex"),
])
def test_bad_answers_are_a_422_naming_the_item(nurse, path, body, field):
    response = Api(nurse).call("POST", path, body)
    assert response.status_code == 422 and field in problem_fields(response)


def test_a_questionnaire_is_recorded_scored_and_its_alert_raised(nurse, patient):
    taken = (timezone.now() - timedelta(hours=2)).isoformat()
    response = Api(nurse).call("POST", f"/patients/{patient.pk}/responses",
                               {"instrument": "phq9", "answers": PHQ9 | {"9": 1},
                                "taken_at": taken})
    body = response.json()
    assert response.status_code == 201
    assert body["response"]["total"] == 9 and body["crisis"] is True
    assert [a["kind"] for a in body["alerts"]] == ["suicidal_ideation"]
    assert Alert.objects.get().patient == patient
    stored = Response.objects.get()
    assert stored.entered_by == nurse and stored.taken_at.isoformat() == taken


@pytest.mark.parametrize(("changes", "field"), [
    ({"answers": PHQ9 | {"3": "often"}}, "answers.3"),
    ({"instrument": "nonesuch"}, "instrument"),
    ({"taken_at": "2026-01-01T09:00:00"}, "taken_at"),
    ({"taken_at": "2999-01-01T09:00:00+00:00"}, "taken_at"),
    ({"taken_at": "0001-01-01T00:00:00+14:00"}, "taken_at"),
    ({"answers": PHQ9 | {"3": True}}, "answers.3"),
    ({"answers": PHQ9 | {"3": "2"}}, "answers.3"),
    ({"severity": "mild"}, "severity"),
])
def test_a_bad_questionnaire_is_refused_naming_the_field_and_nothing_is_stored(
        nurse, patient, changes, field):
    body = {"instrument": "phq9", "answers": PHQ9} | changes
    response = Api(nurse).call("POST", f"/patients/{patient.pk}/responses", body)
    assert response.status_code == 422 and field in problem_fields(response)
    assert not Response.objects.exists()


def test_responses_and_outcomes_are_read_and_the_reads_audited(nurse, prescriber, patient):
    record_series(patient, "phq9", [20, 8, 6], prescriber)
    api = Api(nurse)
    page = api.call("GET", f"/patients/{patient.pk}/responses?instrument=phq9").json()
    assert page["count"] == 3 and [r["total"] for r in page["results"]] == [6, 8, 20]
    outcomes = api.call("GET", f"/patients/{patient.pk}/outcomes").json()
    assert outcomes[0]["instrument"] == "phq9" and outcomes[0]["ever_responded"] is True
    assert outcomes[0]["rules"]["response"] == "phq9@2:response"
    assert outcomes[0]["current_rules"] is True
    audited = AuditEntry.objects.filter(actor_username=nurse.username, patient_id=patient.pk)
    assert audited.filter(object_type="response", action="list").count() == 3
    assert audited.filter(object_type="outcome", action="read").count() == 1


def test_another_clinics_patient_has_no_responses_for_you(nurse, patient_b):
    api = Api(nurse)
    for method, path, body in (
            ("GET", f"/patients/{patient_b.pk}/responses", None),
            ("POST", f"/patients/{patient_b.pk}/responses",
             {"instrument": "phq9", "answers": PHQ9}),
            ("GET", f"/patients/{patient_b.pk}/outcomes", None)):
        assert api.call(method, path, body).status_code == 404
    assert not Response.objects.exists()


def test_a_coordinator_may_not_record_a_questionnaire(coordinator, patient):
    response = Api(coordinator).call("POST", f"/patients/{patient.pk}/responses",
                                     {"instrument": "phq9", "answers": PHQ9})
    assert response.status_code == 403 and not Response.objects.exists()


def test_an_absurd_page_number_is_a_422_not_a_crash(nurse, patient):
    response = Api(nurse).call("GET", f"/patients/{patient.pk}/responses?page=100000000000000000")
    assert response.status_code == 422 and "page" in problem_fields(response)
