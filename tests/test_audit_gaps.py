"""What the audit trail used to miss: refusals, account events in every clinic of the
user, and a probe of another clinic's record in that clinic's own trail."""

from __future__ import annotations

import json
import re

from django.test import Client

from kapclinic.accounts.models import Membership
from kapclinic.accounts.roles import Role
from kapclinic.accounts.tokens import issue_token
from kapclinic.audit.models import AuditEntry
from tests.conftest import PASSWORD, login


def admin_page_entries(admin, **filters) -> list[AuditEntry]:
    return list(login(admin).get("/audit/", filters).context["page"])


def test_a_page_refused_to_a_role_is_an_audited_denial_without_the_query_string(nurse, clinic_a):
    response = login(nurse).get("/audit/?user=secret-search", REMOTE_ADDR="10.9.8.7")
    assert response.status_code == 403
    entry = AuditEntry.objects.filter(action="denied").latest("seq")
    assert (entry.actor_username, entry.role, entry.clinic_id) == ("nina", "nurse", clinic_a.pk)
    assert entry.object_id == "audit.view" and entry.client_addr == "10.9.8.7"
    detail = json.loads(entry.detail_json)
    assert detail["path"] == "/audit/" and "secret-search" not in entry.detail_json


def test_an_api_refusal_is_an_audited_denial(nurse, clinic_a):
    _, secret = issue_token(user=nurse, name="script", scope="read")
    response = Client().post("/api/v1/patients?x=1", "{}", content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 403
    entry = AuditEntry.objects.filter(action="denied").latest("seq")
    assert (entry.actor_username, entry.role, entry.clinic_id) == ("nina", "nurse", clinic_a.pk)
    assert entry.object_id == "patient.create"
    assert json.loads(entry.detail_json)["path"] == "/api/v1/patients"


def test_a_token_naming_a_clinic_its_user_is_not_in_is_an_audited_denial(nurse, clinic_b):
    _, secret = issue_token(user=nurse, name="script")
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}",
                            HTTP_X_KAPCLINIC_CLINIC=str(clinic_b.pk))
    assert response.status_code == 403
    entry = AuditEntry.objects.filter(action="denied").latest("seq")
    assert entry.actor_username == "nina" and entry.clinic_id != clinic_b.pk


def two_clinic_nurse(nurse, clinic_b):
    Membership.objects.create(user=nurse, clinic=clinic_b, role=Role.THERAPIST)
    return nurse


def test_logins_failed_logins_and_logouts_appear_in_every_clinic_of_the_user(
        nurse, clinic_a, clinic_b, clinic_admin):
    from tests.conftest import make_user

    two_clinic_nurse(nurse, clinic_b)
    admin_b = make_user("beth", clinic_b, Role.ADMIN)
    client = Client()
    client.post("/login/", {"username": "nina", "password": "wrong password"})
    client.post("/login/", {"username": "nina", "password": PASSWORD})
    client.post("/logout/")
    for admin, role in ((clinic_admin, "nurse"), (admin_b, "therapist")):
        seen = [(e.action, e.object_id) for e in admin_page_entries(admin)
                if e.action in ("login", "login_failed", "logout") and e.object_id == str(nurse.pk)]
        assert seen == [("logout", str(nurse.pk)), ("login", str(nurse.pk)),
                        ("login_failed", str(nurse.pk))], admin
        login_entry = next(e for e in admin_page_entries(admin, action="login", user="nina"))
        assert (login_entry.actor_username, login_entry.role) == ("nina", role)


def test_a_failed_login_for_an_unknown_name_is_in_no_clinics_trail(clinic_admin):
    Client().post("/login/", {"username": "nobody-here", "password": "wrong password"})
    entry = AuditEntry.objects.filter(action="login_failed").latest("seq")
    assert entry.clinic_id is None
    assert not admin_page_entries(clinic_admin, action="login_failed")


def test_token_creation_and_two_factor_events_reach_every_clinic_of_the_user(
        nurse, clinic_b, clinic_admin):
    from kapclinic.accounts import mfa
    from tests.conftest import make_user

    two_clinic_nurse(nurse, clinic_b)
    admin_b = make_user("beth", clinic_b, Role.ADMIN)
    issue_token(user=nurse, name="script")
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=nurse, name="phone", confirmed=True)
    mfa.reset(nurse, by=None)
    for admin in (clinic_admin, admin_b):
        actions = {e.action for e in admin_page_entries(admin, user="")}
        assert "token_created" in actions
        assert any('"mfa"' in e.detail_json for e in admin_page_entries(admin, record="user"))


def test_probing_another_clinics_patient_shows_in_that_clinics_trail_too(
        prescriber, patient_b, clinic_a, clinic_b):
    from tests.conftest import make_user

    admin_b = make_user("beth", clinic_b, Role.ADMIN)
    response = login(prescriber).get(f"/patients/{patient_b.pk}/?q=1")
    assert response.status_code == 404
    theirs = [e for e in admin_page_entries(admin_b, action="denied")
              if e.actor_username == "alice"]
    assert len(theirs) == 1 and theirs[0].patient_id == patient_b.pk
    ours = AuditEntry.objects.get(action="denied", clinic_id=clinic_a.pk)
    # the prober's own clinic learns nothing about the other clinic's patient
    assert ours.patient_id is None and str(clinic_b.pk) not in ours.detail_json


def test_a_probe_for_a_patient_that_does_not_exist_looks_the_same_to_the_prober(
        prescriber, patient_b):
    client = login(prescriber)
    there = client.get(f"/patients/{patient_b.pk}/")
    absent = client.get(f"/patients/{patient_b.pk + 1000}/")
    assert there.status_code == absent.status_code == 404
    def page(response) -> str:  # the CSRF token is masked afresh on every page
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())

    assert page(there) == page(absent)


# ---- whom an entry concerns ----------------------------------------------------------------

def test_the_admins_audit_page_names_the_patient_an_entry_is_about(clinic_admin, prescriber,
                                                                   patient):
    login(prescriber).get(f"/patients/{patient.pk}/")
    text = login(clinic_admin).get("/audit/", {"action": "read"}).content.decode()
    assert "A-0001" in text and "Ada Lovelace" in text


def test_naming_the_patients_costs_one_query_however_many_are_on_the_page(
        clinic_admin, prescriber, clinic_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.conftest import new_patient

    client = login(clinic_admin)
    login(prescriber).get("/patients/")  # warm up whatever the first request loads

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/audit/", {"record": "patient", "action": "create"}).status_code == 200
        return len(captured)

    new_patient(clinic_a, prescriber, mrn="A-0100")
    one = queries()
    for n in range(12):
        new_patient(clinic_a, prescriber, mrn=f"A-02{n:02d}")
    assert queries() == one
    text = client.get("/audit/", {"record": "patient", "action": "create"}).content.decode()
    assert "A-0211" in text and "A-0100" in text
