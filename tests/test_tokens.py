"""API tokens are listed and revoked: by their owner, by the clinic admin for the clinic's
members, by the operator at the command line; revocation works at once and is audited."""

from __future__ import annotations

import pytest
from django.test import Client

from kapclinic import cli
from kapclinic.accounts.models import ApiToken
from kapclinic.accounts.tokens import issue_token
from kapclinic.audit.models import AuditEntry
from tests.conftest import login


def works(secret: str) -> bool:
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code in (200, 401)
    return response.status_code == 200


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# ---- the command line ----------------------------------------------------------------------

def test_the_operator_lists_tokens_without_their_secrets(capsys, nurse, prescriber):
    mine, secret = issue_token(user=nurse, name="nightly export", scope="write")
    issue_token(user=prescriber, name="alices script")
    code, out, _ = run(capsys, "token", "list")
    assert code == 0 and "nightly export" in out and "alices script" in out
    assert secret not in out and mine.token_hash not in out
    code, out, _ = run(capsys, "token", "list", "--user", "nina")
    assert code == 0 and "nightly export" in out and "alices script" not in out
    assert str(mine.pk) in out and "write" in out


def test_the_operator_revokes_a_token_and_it_stops_working_at_once(capsys, nurse):
    token, secret = issue_token(user=nurse, name="nightly export")
    assert works(secret)
    code, out, _ = run(capsys, "token", "revoke", str(token.pk))
    assert code == 0 and "nightly export" in out
    assert not works(secret)
    entry = AuditEntry.objects.filter(action="token_revoked").latest("seq")
    assert entry.object_id == str(token.pk) and entry.clinic_id == nurse.memberships.get().clinic_id
    code, out, _ = run(capsys, "token", "list", "--user", "nina")
    assert code == 0 and "revoked" in out


@pytest.mark.parametrize("args, message", [
    (["token", "revoke", "999999"], "no API token 999999"),
    (["token", "revoke", "abc"], "whole number"),
    (["token", "list", "--user", "ghost"], "no user 'ghost'"),
])
def test_token_command_mistakes_are_one_line_and_exit_2(capsys, db, args, message):
    code = None
    try:
        code = cli.main(args)
    except SystemExit as stop:  # argparse refuses before the command runs
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_revoking_a_revoked_token_again_says_so(capsys, nurse):
    token, _ = issue_token(user=nurse, name="old")
    run(capsys, "token", "revoke", str(token.pk))
    code, _, err = run(capsys, "token", "revoke", str(token.pk))
    assert code == 2 and "already revoked" in err


# ---- the page ------------------------------------------------------------------------------

def test_a_user_sees_their_own_tokens_and_not_the_secret_nor_other_peoples(nurse, prescriber):
    token, secret = issue_token(user=nurse, name="nightly export", scope="write")
    issue_token(user=prescriber, name="alices script")
    page = login(nurse).get("/account/tokens/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "nightly export" in text and "Read and write" in text
    assert secret not in text and token.token_hash not in text
    assert "alices script" not in text


def test_a_user_revokes_their_own_token_from_the_page(nurse):
    token, secret = issue_token(user=nurse, name="nightly export")
    response = login(nurse).post("/account/tokens/revoke/", {"token": token.pk}, follow=True)
    assert response.status_code == 200 and "revoked" in response.content.decode()
    assert not works(secret)


def test_a_user_cannot_revoke_a_colleagues_token(nurse, prescriber):
    token, secret = issue_token(user=prescriber, name="alices script")
    response = login(nurse).post("/account/tokens/revoke/", {"token": token.pk})
    assert response.status_code == 404
    assert works(secret)
    assert AuditEntry.objects.filter(action="denied", object_type="api_token",
                                     object_id=str(token.pk)).exists()


def test_the_clinic_admin_sees_and_revokes_the_clinics_members_tokens_only(
        clinic_admin, nurse, other_clinician):
    ours, our_secret = issue_token(user=nurse, name="nightly export")
    theirs, their_secret = issue_token(user=other_clinician, name="clinic b script")
    client = login(clinic_admin)
    text = client.get("/account/tokens/").content.decode()
    assert "nightly export" in text and "nina" in text and "clinic b script" not in text
    assert client.post("/account/tokens/revoke/", {"token": theirs.pk}).status_code == 404
    assert works(their_secret)
    client.post("/account/tokens/revoke/", {"token": ours.pk})
    assert not works(our_secret)
    entry = AuditEntry.objects.filter(action="token_revoked").latest("seq")
    assert entry.actor_username == "adam"


# ---- the API -------------------------------------------------------------------------------

def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_the_api_lists_the_callers_tokens_without_secrets(nurse, prescriber):
    token, secret = issue_token(user=nurse, name="nightly export")
    issue_token(user=prescriber, name="alices script")
    listed = Client().get("/api/v1/tokens", **bearer(secret))
    assert listed.status_code == 200
    body = listed.json()
    assert [t["name"] for t in body] == ["nightly export"]
    assert body[0]["id"] == token.pk and body[0]["scope"] == "read"
    assert secret not in listed.content.decode() and token.token_hash not in listed.content.decode()


def test_the_api_revokes_a_token_at_once_and_audits_it(nurse):
    _, admin_secret = issue_token(user=nurse, name="manager", scope="write")
    token, secret = issue_token(user=nurse, name="leaked")
    response = Client().delete(f"/api/v1/tokens/{token.pk}", **bearer(admin_secret))
    assert response.status_code == 204
    assert not works(secret)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert AuditEntry.objects.filter(action="token_revoked", object_id=str(token.pk)).exists()


def test_the_api_answers_404_for_another_clinics_users_token(nurse, other_clinician):
    _, secret = issue_token(user=nurse, name="manager", scope="write")
    theirs, their_secret = issue_token(user=other_clinician, name="theirs")
    response = Client().delete(f"/api/v1/tokens/{theirs.pk}", **bearer(secret))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert works(their_secret)


def test_a_read_only_token_cannot_revoke_tokens(nurse):
    _, secret = issue_token(user=nurse, name="reader", scope="read")
    other, other_secret = issue_token(user=nurse, name="other")
    assert Client().delete(f"/api/v1/tokens/{other.pk}", **bearer(secret)).status_code == 403
    assert works(other_secret)
