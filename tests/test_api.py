"""The JSON API: tokens, patients, and problem details for everything that goes wrong."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from kapclinic.accounts.models import ApiToken, hash_token
from kapclinic.accounts.tokens import issue_token, revoke_token
from kapclinic.patients.models import Patient
from tests.conftest import login

NEW = {"mrn": "A-0200", "given_name": "Rosalind", "family_name": "Franklin",
       "date_of_birth": "1960-07-25", "sex_at_birth": "female"}


class Api:
    def __init__(self, user, scope="write"):
        self.token, self.secret = issue_token(user=user, name="test", scope=scope)
        self.client = Client()

    def call(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return self.client.generic(method, f"/api/v1{path}", data=data,
                                   content_type="application/json",
                                   HTTP_AUTHORIZATION=f"Bearer {self.secret}")


def problem_fields(response) -> dict[str, str]:
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == response.status_code and body["title"]
    return {error["field"]: error["message"] for error in body.get("errors", [])}


def test_a_token_is_stored_only_as_its_hash_and_acts_as_its_user(prescriber):
    api = Api(prescriber)
    assert not ApiToken.objects.filter(token_hash=api.secret).exists()
    assert ApiToken.objects.filter(token_hash=hash_token(api.secret)).exists()
    me = api.call("GET", "/me").json()
    assert me["username"] == "alice" and me["active_clinic"]["role"] == "prescriber"


def test_a_missing_wrong_expired_or_revoked_token_is_refused_with_401(prescriber):
    assert Client().get("/api/v1/me").status_code == 401
    wrong = Client().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer kap_not-a-token")
    assert wrong.status_code == 401 and "token create" in wrong.json()["detail"]
    expired = Api(prescriber)
    ApiToken.objects.filter(pk=expired.token.pk).update(expires_at=timezone.now() - timedelta(1))
    assert expired.call("GET", "/me").status_code == 401
    revoked = Api(prescriber)
    revoke_token(revoked.token)
    assert revoked.call("GET", "/me").status_code == 401


def test_a_read_only_token_may_read_but_not_write(prescriber, patient):
    api = Api(prescriber, scope="read")
    assert api.call("GET", f"/patients/{patient.pk}").status_code == 200
    refused = api.call("POST", "/patients", NEW)
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]


def test_patients_are_listed_searched_and_paginated(prescriber, patient, patient_b):
    api = Api(prescriber)
    page = api.call("GET", "/patients?q=love").json()
    assert page["count"] == 1 and page["results"][0]["mrn"] == patient.mrn
    assert api.call("GET", "/patients?q=other").json()["count"] == 0  # clinic B's patient
    assert api.call("GET", "/patients?page=0").status_code == 422


def test_a_patient_is_created_read_and_updated_with_its_version(prescriber):
    api = Api(prescriber)
    created = api.call("POST", "/patients", {**NEW, "prescriber_id": prescriber.pk})
    assert created.status_code == 201
    patient = created.json()
    assert patient["version"] == 1 and patient["status"] == "referred"
    updated = api.call("PATCH", f"/patients/{patient['id']}",
                       {"version": 1, "status": "screening", "phone": "555-0100"})
    assert updated.status_code == 200
    assert (updated.json()["version"], updated.json()["status"]) == (2, "screening")
    assert api.call("GET", f"/patients/{patient['id']}").json()["phone"] == "555-0100"


def test_a_stale_version_gets_a_409_and_changes_nothing(prescriber, patient):
    api = Api(prescriber)
    assert api.call("PATCH", f"/patients/{patient.pk}", {"version": 1, "phone": "1"}).status_code == 200
    stale = api.call("PATCH", f"/patients/{patient.pk}", {"version": 1, "phone": "2"})
    assert stale.status_code == 409 and "version" in problem_fields(stale)
    patient.refresh_from_db()
    assert patient.phone == "1"


@pytest.mark.parametrize("body, field", [
    ({**NEW, "date_of_birth": "not a date"}, "date_of_birth"),
    ({**NEW, "sex_at_birth": "dragon"}, "sex_at_birth"),
    ({**NEW, "favourite_colour": "blue"}, "favourite_colour"),
    ({k: v for k, v in NEW.items() if k != "mrn"}, "mrn"),
    ({**NEW, "date_of_birth": "2999-01-01"}, "date_of_birth"),
    ({**NEW, "mrn": ["A", "B"]}, "mrn"),
    ({**NEW, "prescriber_id": 999999}, "prescriber_id"),
])
def test_bad_fields_get_a_422_naming_the_field(prescriber, body, field):
    response = Api(prescriber).call("POST", "/patients", body)
    assert response.status_code == 422
    assert field in problem_fields(response)
    assert not Patient.objects.exists()


def test_malformed_json_is_a_problem_not_a_crash(prescriber):
    response = Api(prescriber).call("POST", "/patients", raw='{"mrn": ')
    assert response.status_code in (400, 422)
    assert response["Content-Type"] == "application/problem+json"


def test_another_clinics_patient_is_a_404_problem(prescriber, patient_b):
    api = Api(prescriber)
    for method, body in (("GET", None), ("PATCH", {"version": 1, "phone": "x"})):
        response = api.call(method, f"/patients/{patient_b.pk}", body)
        assert response.status_code == 404 and response.json()["title"] == "Not found"
    patient_b.refresh_from_db()
    assert patient_b.phone == ""


def test_the_browser_session_works_with_csrf_and_without_it_is_refused(prescriber, patient):
    client = Client(enforce_csrf_checks=True)
    client.force_login(prescriber)
    assert client.get(f"/api/v1/patients/{patient.pk}").status_code == 200
    assert client.post("/api/v1/patients", NEW, content_type="application/json").status_code == 403


def test_the_openapi_document_describes_the_patient_endpoints(db):
    schema = Client().get("/api/v1/openapi.json").json()
    assert "/api/v1/patients" in schema["paths"] and "/api/v1/patients/{patient_id}" in schema["paths"]


def test_logged_in_clinicians_use_the_api_from_the_browser(prescriber, patient):
    assert login(prescriber).get("/api/v1/me").json()["username"] == "alice"


def test_a_token_naming_a_clinic_its_user_is_not_in_is_refused(prescriber, clinic_b, patient):
    api = Api(prescriber)
    for header in (str(clinic_b.pk), "²", "abc"):
        response = api.client.get("/api/v1/patients", HTTP_AUTHORIZATION=f"Bearer {api.secret}",
                                  HTTP_X_KAPCLINIC_CLINIC=header)
        assert response.status_code == 403, header
    own = api.client.get("/api/v1/patients", HTTP_AUTHORIZATION=f"Bearer {api.secret}",
                         HTTP_X_KAPCLINIC_CLINIC=str(patient.clinic_id))
    assert own.status_code == 200


def test_the_api_cannot_move_an_ineligible_patient_into_treatment(clinic_a, nurse):
    from tests.conftest import new_patient

    patient = new_patient(clinic_a, status="ineligible")
    response = Api(nurse).call("PATCH", f"/patients/{patient.pk}",
                               {"version": patient.version, "status": "in_treatment"})
    assert response.status_code == 422
    assert "cannot go from ineligible to in treatment" in problem_fields(response)["status"]
    patient.refresh_from_db()
    assert patient.status == "ineligible"


def test_the_api_cannot_create_a_patient_already_in_treatment(prescriber):
    response = Api(prescriber).call("POST", "/patients", {**NEW, "status": "in_treatment"})
    assert response.status_code == 422 and "status" in problem_fields(response)
    assert not Patient.objects.exists()
