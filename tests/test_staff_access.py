"""Who may become staff, and what the add-staff form gives away about other clinics."""

from __future__ import annotations

from kapclinic.accounts.models import Membership, User
from kapclinic.accounts.roles import Role
from tests.conftest import login, make_user

NEW = {"username": "rhea", "first_name": "Rhea", "last_name": "Rivers",
       "email": "rhea@example.org", "role": "nurse"}


def error_of(response) -> str:
    return response.context["add_form"].errors["username"][0]


def test_another_clinics_patient_login_cannot_be_added_as_staff(clinic_admin, clinic_b):
    portal = make_user("brook-portal", clinic_b, Role.PATIENT)
    User.objects.filter(pk=portal.pk).update(email="brook@example.org")
    page = login(clinic_admin).post("/clinic/users/add/", {
        **NEW, "username": "brook-portal", "email": "brook@example.org", "existing": "on"})
    assert page.status_code == 422
    assert list(Membership.all_objects.filter(user=portal).values_list("role", flat=True)) == [
        "patient"]


def test_adding_an_existing_account_answers_the_same_whether_the_username_exists(
        clinic_admin, other_clinician):
    client = login(clinic_admin)
    real = client.post("/clinic/users/add/", {**NEW, "username": other_clinician.username,
                                              "email": "guess@example.org", "existing": "on"})
    ghost = client.post("/clinic/users/add/", {**NEW, "username": "nobody-has-this",
                                               "email": "guess@example.org", "existing": "on"})
    assert real.status_code == ghost.status_code == 422
    assert error_of(real) == error_of(ghost)
    assert not User.objects.filter(username="nobody-has-this").exists()


def test_a_new_account_never_collides_with_another_clinics_username(clinic_admin, clinic_a,
                                                                    other_clinician):
    page = login(clinic_admin).post("/clinic/users/add/", {
        **NEW, "username": other_clinician.username}, follow=True)
    assert b"now works here as Nurse" in page.content
    assert b"their username is clinic-a.bob" in page.content
    created = User.objects.get(username="clinic-a.bob")
    assert created.pk != other_clinician.pk
    assert list(other_clinician.memberships.values_list("clinic__slug", flat=True)) == [
        "clinic-b"]
