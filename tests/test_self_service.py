"""Changing your own password, a reset link by email, and a patient's portal login."""

from __future__ import annotations

import re

from django.test import Client

from kapclinic.accounts.models import Membership, User
from kapclinic.alerts.models import OutboxMessage
from kapclinic.audit.models import AuditEntry
from kapclinic.patients.models import Patient
from tests.conftest import PASSWORD, login, set_directly
from tests.outbox import delivered

NEW_PASSWORD = "a much better passphrase"


def logged_in(username: str) -> Client:
    client = Client()
    assert client.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def link_in(text: str) -> str:
    found = re.search(r"http://testserver(/account/set-password/[^/\s]+/[^/\s<]+/)", text)
    assert found, text
    return found.group(1)


def test_a_nurse_changes_her_password_stays_logged_in_and_it_is_audited(nurse):
    client = logged_in("nina")
    wrong = client.post("/account/password/", {"old_password": "not it",
                                                "new_password1": NEW_PASSWORD,
                                                "new_password2": NEW_PASSWORD})
    assert wrong.status_code == 200 and "old_password" in wrong.context["form"].errors
    short = client.post("/account/password/", {"old_password": PASSWORD,
                                                "new_password1": "short",
                                                "new_password2": "short"})
    assert "new_password2" in short.context["form"].errors
    done = client.post("/account/password/", {"old_password": PASSWORD,
                                               "new_password1": NEW_PASSWORD,
                                               "new_password2": NEW_PASSWORD}, follow=True)
    assert b"Your password is changed" in done.content
    assert client.get("/patients/").status_code == 200  # this session was kept
    nurse.refresh_from_db()
    assert nurse.check_password(NEW_PASSWORD)
    assert AuditEntry.objects.filter(object_type="user", object_id=str(nurse.pk),
                                     detail_json__contains="changed by the user").exists()


def test_the_login_page_offers_a_reset_link_by_email(db):
    page = Client().get("/login/")
    assert b'href="/account/forgot-password/"' in page.content


def test_a_reset_link_is_emailed_through_the_outbox_and_works_once(nurse):
    User.objects.filter(pk=nurse.pk).update(email="nina@example.org")
    anonymous = Client()
    sent = anonymous.post("/account/forgot-password/", {"email": "NINA@example.org"})
    assert b"If a kapclinic login uses that address" in sent.content
    assert len(delivered()) == 1 and delivered()[0].to == ["nina@example.org"]
    link = link_in(delivered()[0].body)
    assert link not in OutboxMessage.objects.get(to="nina@example.org").body
    form = anonymous.get(link, follow=True)
    assert form.context["validlink"]
    target = form.redirect_chain[-1][0] if form.redirect_chain else link
    anonymous.post(target, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    nurse.refresh_from_db()
    assert nurse.check_password(NEW_PASSWORD)
    assert not Client().get(link, follow=True).context["validlink"]  # single use


def test_the_reset_page_answers_the_same_whether_or_not_the_account_exists(nurse):
    User.objects.filter(pk=nurse.pk).update(email="nina@example.org")
    known = Client().post("/account/forgot-password/", {"email": "nina@example.org"})
    unknown = Client().post("/account/forgot-password/", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
    assert strip.sub(b"", known.content) == strip.sub(b"", unknown.content)
    assert len(delivered()) == 1


def test_a_user_whose_access_ended_gets_no_reset_link(nurse):
    User.objects.filter(pk=nurse.pk).update(email="nina@example.org")
    Membership.objects.filter(user=nurse).update(ended_at="2026-01-01T00:00:00Z")
    Client().post("/account/forgot-password/", {"email": "nina@example.org"})
    assert not delivered()


def test_a_coordinator_gives_a_patient_a_portal_login_with_a_set_password_link(
        coordinator, patient):
    set_directly(Patient.objects.filter(pk=patient.pk), email="ada@example.org")
    client = login(coordinator)
    chart = client.get(f"/patients/{patient.pk}/")
    assert f'href="/patients/{patient.pk}/portal-login/"'.encode() in chart.content
    done = client.post(f"/patients/{patient.pk}/portal-login/", {"username": "ada"}, follow=True)
    assert b"can now log in to the portal as clinic-a.ada" in done.content
    link = link_in(done.content.decode())
    assert link in delivered()[0].body and delivered()[0].to == ["ada@example.org"]
    patient.refresh_from_db()
    assert patient.user.username == "clinic-a.ada" and not patient.user.has_usable_password()
    anonymous = Client()
    form = anonymous.get(link, follow=True)
    target = form.redirect_chain[-1][0] if form.redirect_chain else link
    anonymous.post(target, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert anonymous.post("/login/", {"username": "clinic-a.ada",
                                      "password": NEW_PASSWORD}).status_code == 302
    assert anonymous.get("/", follow=True).redirect_chain[-1][0] == "/portal/"


def test_only_roles_that_edit_a_patient_give_a_portal_login(therapist, clinic_admin, patient,
                                                            other_clinician):
    for user in (therapist, clinic_admin):
        assert login(user).post(f"/patients/{patient.pk}/portal-login/",
                                {"username": "ada"}).status_code == 403
    assert login(other_clinician).post(f"/patients/{patient.pk}/portal-login/",
                                       {"username": "ada"}).status_code == 404
    patient.refresh_from_db()
    assert patient.user_id is None


# ---- reset links are rate limited (security review F4) -------------------------------------

RESET = "/account/forgot-password/"


def ask_for_reset(email: str, address: str = "198.51.100.7"):
    return Client(REMOTE_ADDR=address).post(RESET, {"email": email})


def reset_messages(email: str = "nina@example.org"):
    return OutboxMessage.objects.filter(to=email, subject="Reset your kapclinic password")


def test_asking_again_for_a_reset_link_within_fifteen_minutes_sends_no_second_email(
        nurse, monkeypatch):
    from kapclinic.platform import ratelimit

    User.objects.filter(pk=nurse.pk).update(email="nina@example.org")
    now = [1_800_000_000.0]
    monkeypatch.setattr(ratelimit, "_clock", lambda: now[0])
    first = ask_for_reset("nina@example.org")
    assert len(delivered()) == 1
    again = [ask_for_reset("nina@example.org", f"203.0.113.{n}") for n in range(5)]
    assert len(delivered()) == 1 and reset_messages().count() == 1
    strip = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
    assert all(a.status_code == 200 and strip.sub(b"", a.content) == strip.sub(b"", first.content)
               for a in again)  # the same answer: nothing says a limit or an account is there
    now[0] += 15 * 60
    ask_for_reset("nina@example.org")
    assert len(delivered()) == 2


def test_a_reset_link_still_waiting_in_the_outbox_is_not_queued_again(nurse, monkeypatch):
    from kapclinic.platform import ratelimit

    User.objects.filter(pk=nurse.pk).update(email="nina@example.org")
    now = [1_800_000_000.0]
    monkeypatch.setattr(ratelimit, "_clock", lambda: now[0])
    ask_for_reset("nina@example.org")
    now[0] += 60 * 60  # long after the limit's window, but the mail server was down
    ask_for_reset("NINA@example.org")
    assert reset_messages().count() == 1


def test_one_address_cannot_ask_for_reset_links_to_many_accounts(clinic_a, settings):
    from tests.conftest import make_user

    per_address = settings.KAPCLINIC_RATE_LIMITS["password-reset"]["per_address"]
    for n in range(per_address + 3):
        user = make_user(f"staff{n}", clinic_a, "nurse")
        User.objects.filter(pk=user.pk).update(email=f"staff{n}@example.org")
        assert ask_for_reset(f"staff{n}@example.org").status_code == 200
    queued = OutboxMessage.objects.filter(subject="Reset your kapclinic password").count()
    assert queued == per_address
    assert ask_for_reset("staff0@example.org", "192.0.2.99").status_code == 200
