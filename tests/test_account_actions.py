"""Account changes are actions: the trail names who acted (``by=``), even from a script or the
command line, and a change is kept only with its audit entry."""

from __future__ import annotations

import argparse
import json

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapclinic.accounts import mfa, staff
from kapclinic.accounts.models import User
from kapclinic.alerts.models import OutboxMessage
from kapclinic.audit import context
from kapclinic.audit.models import AuditEntry
from tests.conftest import PASSWORD


def user_entries(user: User, words: str):
    return AuditEntry.objects.filter(object_type="user", object_id=str(user.pk),
                                     detail_json__contains=words)


def test_an_authenticator_reset_run_for_an_admin_outside_a_request_names_the_admin(
        clinic_admin, nurse):
    TOTPDevice.objects.create(user=nurse, name="phone", confirmed=True)
    assert staff.reset_authenticator(membership=nurse.memberships.get(), by=clinic_admin)
    assert not TOTPDevice.objects.filter(user=nurse).exists()
    entry = user_entries(nurse, '"reset"').get()
    assert (entry.actor_id, entry.actor_username) == (clinic_admin.pk, clinic_admin.username)


def test_a_set_password_link_issued_for_an_admin_outside_a_request_names_the_admin(
        clinic_admin, nurse):
    staff.issue_password_link(membership=nurse.memberships.get(), base_url="http://testserver/",
                              by=clinic_admin)
    entry = user_entries(nurse, "issued").get()
    assert entry.actor_username == clinic_admin.username


def test_saying_who_resets_an_authenticator_is_required(clinic_admin, nurse):
    with pytest.raises(TypeError, match="by="):
        staff.reset_authenticator(membership=nurse.memberships.get())
    with pytest.raises(TypeError, match="by="):
        mfa.reset(nurse)


def test_the_command_line_authenticator_reset_is_audited_as_that_command(nurse):
    from kapclinic.cli import cmd_mfa_reset

    TOTPDevice.objects.create(user=nurse, name="phone", confirmed=True)
    try:
        assert cmd_mfa_reset(argparse.Namespace(username=nurse.username)) == 0
    finally:
        context.set_system_actor()
    entry = user_entries(nurse, '"reset"').get()
    assert (entry.actor_id, entry.actor_username, entry.role) == (None, "kapclinic mfa reset",
                                                                  "system")


def test_nobody_changes_another_persons_password_as_their_own(clinic_admin, nurse):
    with pytest.raises(staff.StaffError, match="Only the person themselves"):
        staff.change_own_password(user=nurse, password="a much better passphrase",
                                  by=clinic_admin)
    nurse.refresh_from_db()
    assert nurse.check_password(PASSWORD)
    assert not user_entries(nurse, "password").exists()


def test_a_reset_request_whose_email_cannot_be_queued_leaves_no_entry_behind(nurse):
    User.objects.filter(pk=nurse.pk).update(email="nina@example.org")

    def broken_outbox(user, clinic_id, link):
        OutboxMessage.objects.create(clinic_id=clinic_id, channel="email", to=user.email,
                                     subject="half written", body="")
        raise ConnectionError("the outbox is unavailable")

    with pytest.raises(ConnectionError):
        staff.request_password_reset(email="nina@example.org", base_url="http://testserver/",
                                     send=broken_outbox, by=None)
    assert not user_entries(nurse, "requested by email").exists()
    assert not OutboxMessage.objects.exists()


def test_a_forgotten_password_is_audited_as_an_anonymous_request_in_the_users_clinic(
        nurse, clinic_a):
    User.objects.filter(pk=nurse.pk).update(email="nina@example.org")
    Client().post("/account/forgot-password/", {"email": "nina@example.org"})
    entry = user_entries(nurse, "requested by email").get()
    assert (entry.actor_username, entry.clinic_id) == ("anonymous", clinic_a.pk)
    assert OutboxMessage.objects.filter(to="nina@example.org").count() == 1


def test_a_password_set_through_a_link_is_audited_once_and_the_link_is_spent(clinic_admin,
                                                                            nurse):
    link = staff.issue_password_link(membership=nurse.memberships.get(),
                                     base_url="http://testserver/", by=clinic_admin)
    browser = Client()
    form = browser.get(link.replace("http://testserver", ""), follow=True)
    target = form.redirect_chain[-1][0]
    done = browser.post(target, {"new_password1": "a much better passphrase",
                                 "new_password2": "a much better passphrase"}, follow=True)
    assert b"Your password is set" in done.content
    entry = user_entries(nurse, "set through a link").get()
    assert entry.actor_username == "anonymous"
    assert json.loads(entry.detail_json) == {"password": "set through a link"}
    again = browser.get(target, follow=True)
    assert not again.context["validlink"]
