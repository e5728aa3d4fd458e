"""Login lockout is keyed on the person's own address, read through trusted proxies only
(security issue, item 9): someone sharing the clinic's reverse proxy cannot lock a named
account for everyone, and nobody escapes a lockout by inventing an X-Forwarded-For."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from kapclinic import config
from tests.conftest import PASSWORD

PROXY = "10.0.0.5"


def attempts(username: str, password: str, times: int = 1, **meta) -> int:
    status = 0
    for _ in range(times):
        status = Client().post("/login/", {"username": username, "password": password},
                               **meta).status_code
    return status


@override_settings(KAPCLINIC_TRUSTED_PROXIES=config.parse_trusted_proxies(PROXY))
def test_wrong_passwords_through_the_clinics_proxy_lock_only_the_guessers_address(prescriber):
    attacker = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    alice = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "203.0.113.20"}
    attempts("alice", "nope", times=5, **attacker)
    assert attempts("alice", PASSWORD, **attacker) == 429
    assert attempts("alice", PASSWORD, **alice) == 302  # Alice still logs in from her desk


@override_settings(KAPCLINIC_TRUSTED_PROXIES=config.parse_trusted_proxies(PROXY))
def test_a_forwarded_address_the_client_made_up_does_not_escape_a_lockout(prescriber):
    for n in range(5):  # the proxy appends the real address after whatever the client sent
        attempts("alice", "nope", REMOTE_ADDR=PROXY,
                 HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 198.51.100.7")
    assert attempts("alice", PASSWORD, REMOTE_ADDR=PROXY,
                    HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.7") == 429


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(prescriber):
    for n in range(5):
        attempts("alice", "nope", REMOTE_ADDR="198.51.100.7",
                 HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert attempts("alice", PASSWORD, REMOTE_ADDR="198.51.100.7",
                    HTTP_X_FORWARDED_FOR="192.0.2.99") == 429


def test_a_mistyped_trusted_proxy_setting_is_refused_naming_the_entry(monkeypatch):
    with pytest.raises(config.ConfigurationError, match="10.0.0.300"):
        config.parse_trusted_proxies("10.0.0.5, 10.0.0.300")
    assert [str(n) for n in config.parse_trusted_proxies("10.0.0.0/8, ::1")] == ["10.0.0.0/8",
                                                                                "::1/128"]


@override_settings(KAPCLINIC_TRUSTED_PROXIES=config.parse_trusted_proxies(PROXY))
def test_the_audit_trail_records_the_persons_address_behind_the_clinics_proxy(prescriber):
    from kapclinic.audit.models import AuditEntry

    attempts("alice", PASSWORD, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.20")
    login = AuditEntry.objects.filter(action="login").latest("pk")
    assert login.client_addr == "203.0.113.20"
