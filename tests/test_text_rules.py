"""Invisible text-direction characters (a right-to-left override makes "Ada‮evoL" show as
"AdaLove") are refused in names and identifiers, naming the field, and removed from free
text (security issue, item 9)."""

from __future__ import annotations

import pytest

from kapclinic.patients.models import Patient
from tests.conftest import login
from tests.test_api import NEW, Api, problem_fields

RLO, LRI, RLM = "\u202e", "\u2066", "\u200f"
FORM = {"mrn": "A-0300", "given_name": "Rosalind", "family_name": "Franklin",
        "date_of_birth": "1960-07-25", "sex_at_birth": "female", "status": "screening"}


@pytest.mark.parametrize("field, label", [("given_name", "Given name"),
                                          ("family_name", "Family name"), ("mrn", "MRN")])
def test_a_name_or_mrn_with_a_direction_override_is_refused_naming_the_field(prescriber, field,
                                                                             label):
    page = login(prescriber).post("/patients/new/", {**FORM, field: f"Ro{RLO}dnilas"})
    assert page.status_code == 422
    message = " ".join(page.context["form"].errors[field])
    assert message.startswith(label) and "U+202E" in message and "Type it again" in message
    assert not Patient.objects.exists()


def test_the_api_refuses_a_direction_isolate_in_a_name_naming_the_field(prescriber):
    response = Api(prescriber).call("POST", "/patients", {**NEW, "family_name": f"Fr{LRI}anklin"})
    assert response.status_code == 422 and "family_name" in problem_fields(response)
    assert not Patient.objects.exists()


def test_a_direction_control_in_an_address_is_removed_and_the_rest_kept(prescriber):
    login(prescriber).post("/patients/new/", {**FORM, "address": f"12 High St{RLO}\n{RLM}Leeds"})
    assert Patient.objects.get().address == "12 High St\nLeeds"


def test_a_staff_name_with_a_direction_override_is_refused(clinic_admin):
    page = login(clinic_admin).post("/clinic/users/add/", {
        "username": "rhea", "first_name": f"Rh{RLO}ae", "last_name": "Rivers", "email": "",
        "role": "nurse"})
    assert page.status_code == 422
    assert "First name contains an invisible character" in page.content.decode()


def test_a_condition_note_loses_direction_controls(prescriber,
                                                                                 patient):
    client = login(prescriber)
    client.post(f"/patients/{patient.pk}/conditions/", {"code": "F33.2",
                                                         "note": f"since 2019{RLO} per GP"})
    condition = patient.conditions.get()
    assert condition.note == "since 2019 per GP"
