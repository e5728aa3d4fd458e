"""Adding someone's existing account is an invitation: it grants nothing, shows nothing of the
person and blocks nothing their own clinic does, until they accept it while logged in."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from kapclinic.accounts import staff
from kapclinic.accounts.models import Invitation, Membership, User
from kapclinic.accounts.roles import Role
from kapclinic.accounts.tokens import issue_token
from kapclinic.audit.models import AuditEntry
from tests.conftest import PASSWORD, login, make_user


def works(secret: str) -> bool:
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}")
    return response.status_code == 200


@pytest.fixture
def nurse_with_email(nurse):
    User.objects.filter(pk=nurse.pk).update(email="nina@a.example")
    nurse.refresh_from_db()
    return nurse


@pytest.fixture
def admin_b(clinic_b):
    return make_user("admin-b", clinic_b, Role.ADMIN, "Ava", "Bee")


def invite(admin, user, role="admin"):
    return login(admin).post("/clinic/users/add/", {
        "username": user.username, "email": user.email, "existing": "on",
        "first_name": "X", "last_name": "Y", "role": role}, follow=True)


def test_another_clinics_admin_adding_an_existing_account_gets_nothing_until_it_is_accepted(
        nurse_with_email, admin_b, clinic_admin, clinic_b):
    nurse = nurse_with_email
    _, secret = issue_token(user=nurse, name="nightly export")
    link = staff.password_link(nurse, "http://testserver/")
    page = invite(admin_b, nurse)
    assert page.status_code == 200 and b"invited" in page.content
    assert not Membership.all_objects.filter(user=nurse, clinic=clinic_b).exists()
    assert Client().get(link, follow=True).context["validlink"]  # their pending link lives

    # admin B sees no token of the person and cannot revoke one
    client_b = login(admin_b)
    assert "nightly export" not in client_b.get("/account/tokens/").content.decode()
    token = nurse.api_tokens.get()
    assert client_b.post("/account/tokens/revoke/", {"token": token.pk}).status_code == 404
    assert works(secret)

    # the person's login events stay out of clinic B's trail
    Client().post("/login/", {"username": "nina", "password": PASSWORD})
    assert AuditEntry.objects.filter(action="login", object_id=str(nurse.pk)).exists()
    assert not AuditEntry.objects.filter(clinic_id=clinic_b.pk, action="login",
                                         object_id=str(nurse.pk)).exists()

    # clinic A's admin still issues a set-password link
    here = login(clinic_admin).post(
        f"/clinic/users/{nurse.memberships.get().pk}/password-link/", follow=True)
    assert b"/account/set-password/" in here.content


def test_the_invited_person_accepts_on_their_home_page_and_then_works_there(
        nurse_with_email, admin_b, clinic_b):
    nurse = nurse_with_email
    invite(admin_b, nurse, role="nurse")
    client = login(nurse)
    home = client.get("/")
    assert home.status_code == 200
    assert b"Clinic B invites you to work there as Nurse" in home.content
    invitation = Invitation.objects.get(user=nurse)
    accepted = client.post("/account/invitations/answer/",
                           {"invitation": invitation.pk, "answer": "accept"}, follow=True)
    assert b"You now work at Clinic B as Nurse" in accepted.content
    assert Membership.objects.get(user=nurse, clinic=clinic_b).role == "nurse"
    entry = AuditEntry.objects.filter(object_type="invitation", clinic_id=clinic_b.pk,
                                      action="update").get()
    assert json.loads(entry.detail_json)["answer"] == "accepted"
    assert entry.actor_username == "nina"
    # now they work in two clinics: clinic A's admin may no longer reset their password
    assert not staff.only_here(nurse, nurse.memberships.get(clinic__slug="clinic-a").clinic)


def test_a_declined_invitation_grants_nothing_and_is_audited(nurse_with_email, admin_b,
                                                             clinic_b, clinic_a):
    nurse = nurse_with_email
    invite(admin_b, nurse)
    client = login(nurse)
    invitation = Invitation.objects.get(user=nurse)
    page = client.post("/account/invitations/answer/",
                       {"invitation": invitation.pk, "answer": "decline"}, follow=True)
    assert b"declined" in page.content
    assert not Membership.all_objects.filter(user=nurse, clinic=clinic_b).exists()
    assert b"invites you" not in client.get("/").content
    assert AuditEntry.objects.filter(object_type="invitation", clinic_id=clinic_b.pk,
                                     detail_json__contains="declined").exists()
    assert staff.only_here(nurse, clinic_a)
    # answering twice does nothing more
    again = client.post("/account/invitations/answer/",
                        {"invitation": invitation.pk, "answer": "accept"})
    assert again.status_code == 404
    assert not Membership.all_objects.filter(user=nurse, clinic=clinic_b).exists()


def test_nobody_else_can_answer_someone_elses_invitation(nurse_with_email, admin_b, clinic_b,
                                                          prescriber):
    invite(admin_b, nurse_with_email)
    invitation = Invitation.objects.get(user=nurse_with_email)
    for who in (prescriber, admin_b):
        assert login(who).post("/account/invitations/answer/", {
            "invitation": invitation.pk, "answer": "accept"}).status_code == 404
    assert not Membership.all_objects.filter(user=nurse_with_email, clinic=clinic_b).exists()


def test_a_clinic_admin_does_not_see_tokens_of_a_member_who_also_works_elsewhere(
        clinic_admin, clinic_b, nurse):
    _, secret = issue_token(user=nurse, name="nightly export")
    Membership.objects.create(user=nurse, clinic=clinic_b, role="nurse")
    client = login(clinic_admin)
    assert "nightly export" not in client.get("/account/tokens/").content.decode()
    assert client.post("/account/tokens/revoke/",
                       {"token": nurse.api_tokens.get().pk}).status_code == 404
    assert works(secret)
