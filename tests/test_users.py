"""The clinic admin's Users page: add staff, change roles, end and restore access."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from kapclinic.accounts import staff
from kapclinic.accounts.models import Membership, User
from kapclinic.accounts.roles import Role
from kapclinic.accounts.tokens import issue_token
from kapclinic.alerts.models import OutboxMessage
from kapclinic.audit.models import AuditEntry
from tests.conftest import login, make_user
from tests.outbox import delivered

NEW = {"username": "rhea", "first_name": "Rhea", "last_name": "Rivers",
       "email": "rhea@example.org", "role": "nurse"}


def issued_link(response) -> str:
    found = re.search(r"http://testserver/account/set-password/[^/]+/[^/\s<]+/",
                      response.content.decode())
    assert found, "no set-password link on the page"
    return found.group(0).replace("http://testserver", "")


def test_a_new_nurse_is_added_and_sets_her_own_password_through_the_link(clinic_admin,
                                                                         clinic_a):
    added = login(clinic_admin).post("/clinic/users/add/", NEW, follow=True)
    assert b"Rhea Rivers now works here as Nurse" in added.content
    rhea = User.objects.get(username="clinic-a.rhea")
    assert not rhea.has_usable_password()
    assert Membership.objects.get(user=rhea).clinic == clinic_a
    link = issued_link(added)
    assert link in delivered()[0].body
    assert link not in OutboxMessage.objects.get(to="rhea@example.org").body  # kept blanked

    anonymous = Client()
    form = anonymous.get(link, follow=True)
    assert b"Set your password" in form.content and form.context["validlink"]
    target = form.redirect_chain[-1][0]
    short = anonymous.post(target, {"new_password1": "short", "new_password2": "short"})
    assert short.status_code == 200 and "new_password2" in short.context["form"].errors
    done = anonymous.post(target, {"new_password1": "a very good passphrase",
                                   "new_password2": "a very good passphrase"}, follow=True)
    assert b"Your password is set" in done.content
    logged_in = anonymous.post("/login/", {"username": "clinic-a.rhea",
                                           "password": "a very good passphrase"})
    assert logged_in.status_code == 302
    reused = anonymous.get(link, follow=True)
    assert not reused.context["validlink"]  # single use


def test_bad_staff_details_are_refused_naming_the_field(clinic_admin):
    page = login(clinic_admin).post("/clinic/users/add/", {**NEW, "username": "has space",
                                                            "email": "nope", "role": "patient"})
    assert page.status_code == 422
    assert set(page.context["add_form"].errors) == {"username", "email", "role"}
    assert not User.objects.filter(username="has space").exists()


def test_a_user_of_another_clinic_is_invited_here_and_after_accepting_keeps_their_password(
        clinic_admin, other_clinician, clinic_a):
    User.objects.filter(pk=other_clinician.pk).update(email="bob@b.example")
    client = login(clinic_admin)
    taken = client.post("/clinic/users/add/", {**NEW, "username": other_clinician.username,
                                               "existing": "on"})
    assert taken.status_code == 422 and "No account we can add" in taken.context[
        "add_form"].errors["username"][0]
    assert other_clinician.last_name.encode() not in taken.content  # nobody's name leaks
    page = client.post("/clinic/users/add/", {
        **NEW, "username": other_clinician.username, "email": "BOB@b.example",
        "existing": "on"}, follow=True)
    assert b"bob is invited to work here as Nurse" in page.content
    assert b"/account/set-password/" not in page.content
    assert other_clinician.last_name.encode() not in page.content  # not until they accept
    assert list(other_clinician.memberships.values_list("clinic__slug", flat=True)) == [
        "clinic-b"]
    invitation = other_clinician.invitations.get()
    login(other_clinician).post("/account/invitations/answer/",
                                {"invitation": invitation.pk, "answer": "accept"})
    assert set(other_clinician.memberships.values_list("clinic__slug", flat=True)) == {
        "clinic-a", "clinic-b"}
    assert other_clinician.has_usable_password()
    assert b"Bob Elsewhere" in client.get("/clinic/users/").content


def test_a_role_change_is_audited_and_your_own_role_is_not_yours_to_change(clinic_admin,
                                                                          nurse):
    client = login(clinic_admin)
    nurse_membership = nurse.memberships.get()
    client.post(f"/clinic/users/{nurse_membership.pk}/role/", {"role": "prescriber"})
    nurse_membership.refresh_from_db()
    assert nurse_membership.role == "prescriber"
    entry = AuditEntry.objects.get(object_type="membership", action="update")
    assert json.loads(entry.detail_json) == {"role": ["nurse", "prescriber"]}
    own = client.post(f"/clinic/users/{clinic_admin.memberships.get().pk}/role/",
                      {"role": "nurse"}, follow=True)
    assert b"You cannot change your own role" in own.content
    assert clinic_admin.memberships.get().role == "admin"


def test_the_clinic_always_keeps_an_admin(clinic_admin, nurse):
    # Through the page another admin is always left (you cannot touch your own access);
    # the guard also holds for any other caller.
    only = clinic_admin.memberships.get()
    with pytest.raises(staff.StaffError, match="only admin"):
        staff.change_role(membership=only, role="nurse", by=nurse)
    with pytest.raises(staff.StaffError, match="only admin"):
        staff.end_access(membership=only, by=nurse)
    assert Membership.objects.get(pk=only.pk).role == "admin"


def test_ending_access_locks_the_user_out_of_this_clinic_at_once(clinic_admin, nurse):
    nurse_client = login(nurse)
    assert nurse_client.get("/patients/").status_code == 200
    _, secret = issue_token(user=nurse, name="script", scope="read")
    membership = nurse.memberships.get()
    ended = login(clinic_admin).post(f"/clinic/users/{membership.pk}/end/", follow=True)
    assert b"can no longer work in" in ended.content and b"Restore access" in ended.content
    assert nurse_client.get("/patients/").status_code == 403
    assert nurse_client.get("/api/v1/patients",
                            HTTP_AUTHORIZATION=f"Bearer {secret}").status_code in (401, 403)
    assert Membership.all_objects.get(pk=membership.pk).ended_at is not None  # kept
    login(clinic_admin).post(f"/clinic/users/{membership.pk}/restore/")
    assert nurse_client.get("/patients/").status_code == 200


def test_an_admin_ended_by_another_admin_loses_the_users_page(clinic_admin, clinic_a):
    second = make_user("second-admin", clinic_a, Role.ADMIN)
    client = login(second)
    client.post(f"/clinic/users/{clinic_admin.memberships.get().pk}/end/")
    assert login(clinic_admin).get("/clinic/users/").status_code == 403
    self_end = client.post(f"/clinic/users/{second.memberships.get().pk}/end/", follow=True)
    assert b"You cannot end your own access" in self_end.content


def test_another_clinics_membership_is_a_404(clinic_admin, other_clinician):
    theirs = other_clinician.memberships.get()
    client = login(clinic_admin)
    for action in ("role", "end", "restore", "password-link"):
        assert client.post(f"/clinic/users/{theirs.pk}/{action}/",
                           {"role": "nurse"}).status_code == 404
    role_before = theirs.role
    theirs.refresh_from_db()
    assert theirs.ended_at is None and theirs.role == role_before == "prescriber"


def test_a_patients_portal_login_is_not_staff(clinic_admin, clinic_a):
    portal = make_user("portal-ada", clinic_a, Role.PATIENT)
    page = login(clinic_admin).get("/clinic/users/")
    assert b"portal-ada" not in page.content
    membership = portal.memberships.get()
    assert login(clinic_admin).post(f"/clinic/users/{membership.pk}/role/",
                                    {"role": "prescriber"}).status_code == 404
    membership.refresh_from_db()
    assert membership.role == "patient"


def test_no_password_link_for_someone_who_also_works_in_another_clinic(clinic_admin, clinic_a,
                                                                       other_clinician):
    # the password opens clinic B too: an admin of A must not be able to take it over
    shared = Membership.objects.create(user=other_clinician, clinic=clinic_a, role="nurse")
    page = login(clinic_admin).post(f"/clinic/users/{shared.pk}/password-link/", follow=True)
    assert b"also works (or worked) in another clinic" in page.content
    assert b"/account/set-password/" not in page.content and not delivered()


def test_no_password_link_for_someone_whose_access_elsewhere_has_ended(clinic_admin, clinic_a,
                                                                       clinic_b):
    # ended in B today, restored tomorrow: a password set from A would open B again
    user = make_user("roving", clinic_b, Role.NURSE)
    Membership.objects.filter(user=user).update(ended_at="2026-01-01T00:00:00Z")
    here = Membership.objects.create(user=user, clinic=clinic_a, role="nurse")
    page = login(clinic_admin).post(f"/clinic/users/{here.pk}/password-link/", follow=True)
    assert b"also works (or worked) in another clinic" in page.content and not delivered()
    assert AuditEntry.objects.filter(action="denied", object_type="user",
                                     object_id=str(user.pk)).exists()


def test_a_link_stops_working_when_another_clinic_adds_the_user(clinic_admin, clinic_b):
    client = login(clinic_admin)
    added = client.post("/clinic/users/add/", NEW, follow=True)
    link = issued_link(added)
    assert AuditEntry.objects.filter(object_type="user", action="update",
                                     detail_json__contains="password_link").exists()
    Membership.objects.create(user=User.objects.get(username="clinic-a.rhea"), clinic=clinic_b,
                              role="nurse")
    assert not Client().get(link, follow=True).context["validlink"]


def test_a_patients_portal_login_cannot_be_made_staff(clinic_admin, clinic_a):
    portal = make_user("portal-bo", clinic_a, Role.PATIENT)
    User.objects.filter(pk=portal.pk).update(email="bo@example.org")
    Membership.objects.filter(user=portal).update(ended_at="2026-01-01T00:00:00Z")
    page = login(clinic_admin).post("/clinic/users/add/", {
        **NEW, "username": "portal-bo", "email": "bo@example.org", "role": "admin",
        "existing": "on"})
    assert page.status_code == 422 and "No account we can add" in page.context[
        "add_form"].errors["username"][0]
    assert Membership.all_objects.get(user=portal).role == "patient"


def test_an_ended_membership_keeps_its_role(clinic_admin, nurse):
    membership = nurse.memberships.get()
    staff.end_access(membership=membership, by=clinic_admin)
    with pytest.raises(staff.StaffError, match="restore it first"):
        staff.change_role(membership=membership, role="admin", by=clinic_admin)
    assert Membership.all_objects.get(pk=membership.pk).role == "nurse"


def test_an_ended_prescriber_no_longer_gets_alert_emails(clinic_admin, prescriber, patient):
    from kapclinic.alerts.escalation import responders

    User.objects.filter(pk=prescriber.pk).update(email="pres@example.org")
    patient.refresh_from_db()
    assert patient.prescriber_id == prescriber.pk
    assert "pres@example.org" in responders(patient.clinic_id, patient)
    staff.end_access(membership=prescriber.memberships.get(), by=clinic_admin)
    patient.refresh_from_db()
    assert "pres@example.org" not in responders(patient.clinic_id, patient)
