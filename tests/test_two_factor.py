"""Two-factor login: a code from an authenticator app after the password (TOTP)."""

from __future__ import annotations

import json
import re

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.tokens import issue_token
from kapclinic.audit.models import AuditEntry
from tests.conftest import code_from_secret, login


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, steps_ahead):06d}"


@pytest.fixture
def enrolled(nurse) -> TOTPDevice:
    return TOTPDevice.objects.create(user=nurse, name="phone", confirmed=True)


def test_a_user_with_an_authenticator_gives_its_code_before_any_page(nurse, enrolled):
    client = login(nurse)
    page = client.get("/patients/")
    assert page.status_code == 302 and page["Location"] == "/login/verify/?next=%2Fpatients%2F"
    wrong = client.post("/login/verify/", {"code": "000000", "next": "/patients/"})
    assert wrong.status_code == 422 and b"That code is not right" in wrong.content
    TOTPDevice.objects.filter(pk=enrolled.pk).update(throttling_failure_count=0,
                                                     throttling_failure_timestamp=None)  # later
    right = client.post("/login/verify/", {"code": code_for(enrolled), "next": "/patients/"})
    assert right.status_code == 302 and right["Location"] == "/patients/"
    assert client.get("/patients/").status_code == 200
    actions = list(AuditEntry.objects.filter(object_type="user", object_id=str(nurse.pk))
                   .values_list("action", flat=True))
    assert "mfa_failed" in actions and "mfa_verified" in actions


def test_wrong_codes_are_throttled(nurse, enrolled):
    client = login(nurse)
    client.post("/login/verify/", {"code": "000000"})
    again = client.post("/login/verify/", {"code": code_for(enrolled)})
    assert again.status_code == 422 and b"Too many wrong codes" in again.content


def test_the_menu_offers_nothing_until_the_code_is_given(nurse, enrolled):
    page = login(nurse).get("/login/verify/")
    assert page.status_code == 200
    assert b'href="/patients/"' not in page.content and b"One more step" in page.content


def test_the_verify_page_never_sends_the_user_to_another_site(nurse, enrolled):
    client = login(nurse)
    done = client.post("/login/verify/", {"code": code_for(enrolled),
                                          "next": "https://evil.example/"})
    assert done["Location"] == "/"


def test_a_user_sets_up_an_authenticator_by_scanning_and_giving_a_code(nurse):
    client = login(nurse)
    page = client.get("/account/two-factor/")
    assert b"<svg" in page.content and b"Turn on two-factor login" in page.content
    secret = page.context["secret"]
    assert len(secret.replace(" ", "")) >= 32
    assert not TOTPDevice.objects.filter(user=nurse).exists()  # the key stays in the session
    wrong = client.post("/account/two-factor/", {"code": "12345"})
    assert wrong.status_code == 422 and b"Enter the 6-digit code" in wrong.content
    done = client.post("/account/two-factor/", {"code": code_from_secret(secret)}, follow=True)
    assert b"Two-factor login is on" in done.content
    assert TOTPDevice.objects.get(user=nurse).confirmed
    assert client.get("/patients/").status_code == 200  # this session gave its code
    assert login(nurse).get("/patients/").status_code == 302  # a new one must


def test_a_clinic_that_requires_it_sends_users_to_set_it_up_first(nurse, clinic_a):
    Clinic.objects.filter(pk=clinic_a.pk).update(require_mfa=True)
    client = login(nurse)
    page = client.get("/patients/")
    assert page["Location"] == "/account/two-factor/?next=%2Fpatients%2F"
    assert b"Your clinic requires two-factor login" in client.get("/account/two-factor/").content
    api = client.get("/api/v1/me")
    assert api.status_code == 401 and "Two-factor" in api.json()["title"]
    _, secret = issue_token(user=nurse, name="integration", scope="read")
    assert login(nurse).get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200


def test_turning_it_off_needs_a_current_code_and_is_refused_when_required(nurse, enrolled,
                                                                          clinic_a):
    client = login(nurse)
    client.post("/login/verify/", {"code": code_for(enrolled)})
    refused = client.post("/account/two-factor/off/", {"code": "000000"}, follow=True)
    assert b"Two-factor login stays on" in refused.content
    Clinic.objects.filter(pk=clinic_a.pk).update(require_mfa=True)
    required = client.post("/account/two-factor/off/", {"code": code_for(enrolled, 1)},
                           follow=True)
    assert b"requires two-factor login" in required.content
    assert TOTPDevice.objects.filter(user=nurse).exists()


def test_the_admin_requires_it_and_resets_a_lost_authenticator(clinic_admin, nurse, enrolled,
                                                               clinic_a):
    client = login(clinic_admin)
    own = TOTPDevice.objects.create(user=clinic_admin, name="phone", confirmed=True)
    client.post("/login/verify/", {"code": code_for(own)})
    page = client.get("/clinic/users/")
    assert re.search(rb"Reset \(lost phone\)", page.content)
    client.post("/clinic/security/", {"require_mfa": "on"})
    clinic_a.refresh_from_db()
    assert clinic_a.require_mfa
    entry = AuditEntry.objects.get(object_type="clinic", action="update")
    assert json.loads(entry.detail_json) == {"require_mfa": True}
    membership = nurse.memberships.get(clinic__slug="clinic-a")
    done = client.post(f"/clinic/users/{membership.pk}/two-factor-reset/", follow=True)
    assert b"authenticator was removed: they set up a new one" in done.content
    assert not TOTPDevice.objects.filter(user=nurse).exists()
    assert login(nurse).get("/patients/")["Location"].startswith("/account/two-factor/")


def test_an_admin_cannot_reset_another_clinics_user(clinic_admin, other_clinician):
    TOTPDevice.objects.create(user=other_clinician, name="phone", confirmed=True)
    page = login(clinic_admin).post(
        f"/clinic/users/{other_clinician.memberships.get().pk}/two-factor-reset/")
    assert page.status_code == 404
    assert TOTPDevice.objects.filter(user=other_clinician).exists()


def test_a_second_session_never_sees_the_key_being_set_up(nurse):
    victim, intruder = login(nurse), login(nurse)
    victims_key = victim.get("/account/two-factor/").context["secret"]
    intruders_key = intruder.get("/account/two-factor/").context["secret"]
    assert victims_key != intruders_key
    victim.post("/account/two-factor/", {"code": code_from_secret(victims_key)})
    # the intruder knows the password, not the key the nurse confirmed
    assert intruder.get("/patients/")["Location"].startswith("/login/verify/")
    refused = intruder.post("/login/verify/", {"code": code_from_secret(intruders_key)})
    assert refused.status_code == 422


def test_giving_the_code_starts_a_new_session_key(nurse, enrolled):
    client = login(nurse)
    before = client.cookies["sessionid"].value
    client.post("/login/verify/", {"code": code_for(enrolled)})
    assert client.cookies["sessionid"].value != before
    assert client.get("/patients/").status_code == 200


def test_an_htmx_request_is_sent_to_the_code_page_as_a_whole_page(nurse, enrolled, patient):
    page = login(nurse).get("/patients/", {"q": "a"}, HTTP_HX_REQUEST="true",
                            HTTP_HX_CURRENT_URL="http://testserver/patients/?q=a")
    assert page.status_code == 204
    assert page["HX-Redirect"] == "/login/verify/?next=%2Fpatients%2F"


def test_an_admin_does_not_reset_someone_who_also_works_elsewhere(clinic_admin, clinic_b,
                                                                  nurse, enrolled):
    from kapclinic.accounts.models import Membership

    Membership.objects.create(user=nurse, clinic=clinic_b, role="nurse")
    own = TOTPDevice.objects.create(user=clinic_admin, name="phone", confirmed=True)
    client = login(clinic_admin)
    client.post("/login/verify/", {"code": code_for(own)})
    membership = nurse.memberships.get(clinic__slug="clinic-a")
    page = client.post(f"/clinic/users/{membership.pk}/two-factor-reset/", follow=True)
    assert b"also works (or worked) in another clinic" in page.content
    assert TOTPDevice.objects.filter(user=nurse).exists()


def test_an_admin_cannot_reset_a_patients_authenticator(clinic_admin, clinic_a):
    from tests.conftest import make_user

    portal = make_user("portal-ada", clinic_a, "patient")
    TOTPDevice.objects.create(user=portal, name="phone", confirmed=True)
    page = login(clinic_admin).post(
        f"/clinic/users/{portal.memberships.get().pk}/two-factor-reset/")
    assert page.status_code == 404
    assert TOTPDevice.objects.filter(user=portal).exists()


def test_the_wait_after_wrong_codes_is_shown_in_the_clinics_time_zone(nurse, enrolled):
    from zoneinfo import ZoneInfo

    client = login(nurse)  # clinic A is in New York
    client.post("/login/verify/", {"code": "000000"})
    again = client.post("/login/verify/", {"code": "000000"})
    enrolled.refresh_from_db()
    until = enrolled.verify_is_allowed()[1]["locked_until"]
    new_york = until.astimezone(ZoneInfo("America/New_York"))
    shown = again.content.decode()
    assert f"until {new_york:%H:%M:%S} {new_york:%Z}" in shown, shown
    assert f"{until:%H:%M:%S}" not in shown  # not UTC
