"""Status changes that belong to an action (the prescriber's screening sign-off) are refused
by the edit form and the API, with a message naming the action to use."""

from __future__ import annotations

import pytest

from tests.conftest import login, new_patient
from tests.test_api import Api, problem_fields

SIGN_OFF = "screening sign-off"
FORM = {"given_name": "Ada", "family_name": "Lovelace", "date_of_birth": "1985-12-10",
        "sex_at_birth": "female"}


@pytest.mark.parametrize("role", ["nurse", "coordinator"])
def test_the_api_cannot_put_an_ineligible_patient_into_treatment(request, clinic_a, role):
    patient = new_patient(clinic_a, status="ineligible")
    response = Api(request.getfixturevalue(role)).call(
        "PATCH", f"/patients/{patient.pk}", {"version": patient.version, "status": "in_treatment"})
    assert response.status_code == 422
    assert "cannot go from ineligible to in treatment" in problem_fields(response)["status"]
    patient.refresh_from_db()
    assert patient.status == "ineligible"


@pytest.mark.parametrize("status", ["eligible", "ineligible"])
@pytest.mark.parametrize("role", ["nurse", "coordinator", "prescriber"])
def test_the_edit_form_refuses_a_status_owned_by_the_sign_off_naming_it(request, clinic_a, role,
                                                                       status):
    patient = new_patient(clinic_a)
    response = login(request.getfixturevalue(role)).post(
        f"/patients/{patient.pk}/edit/", {**FORM, "mrn": patient.mrn, "status": status,
                                          "version": patient.version})
    assert response.status_code == 422
    message = response.context["form"].errors["status"][0]
    assert SIGN_OFF in message and "screening page" in message
    patient.refresh_from_db()
    assert patient.status == "screening"


@pytest.mark.parametrize("role", ["nurse", "coordinator"])
def test_the_api_refuses_a_status_owned_by_the_sign_off_naming_it(request, clinic_a, role):
    patient = new_patient(clinic_a, status="ineligible")
    response = Api(request.getfixturevalue(role)).call(
        "PATCH", f"/patients/{patient.pk}", {"version": patient.version, "status": "eligible"})
    assert response.status_code == 422
    message = problem_fields(response)["status"]
    assert SIGN_OFF in message and "screening page" in message
    patient.refresh_from_db()
    assert patient.status == "ineligible"


def test_a_new_patient_cannot_be_created_eligible_through_the_api(prescriber):
    response = Api(prescriber).call("POST", "/patients", {
        "mrn": "N-1", "given_name": "Nia", "family_name": "New", "date_of_birth": "1990-01-01",
        "sex_at_birth": "female", "status": "eligible"})
    assert response.status_code == 422
    assert SIGN_OFF in problem_fields(response)["status"]
