"""A person who authenticates at someone else's desk (accounts.present) is locked out as one
person: wrong passwords typed for them as a second clinician and as a witness count together,
and a lock-out at login (django-axes) refuses them as either, with the same message."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from kapclinic.audit.models import AuditEntry
from kapclinic.inventory import actions as stock
from kapclinic.inventory.errors import WitnessRefused
from kapclinic.inventory.models import Kind, LedgerLine
from kapclinic.treatment import actions as treatment
from kapclinic.treatment.errors import ConfirmationRefused
from kapclinic.treatment.models import Administration
from tests.conftest import PASSWORD, login
from tests.inventory.conftest import add_ketalar, add_lot
from tests.treatment.helpers import cleared, eligible_and_consented, minutes_ago

pytestmark = pytest.mark.django_db

LOCKED = "Too many wrong passwords or codes"
HERE, ELSEWHERE = "203.0.113.20", "198.51.100.7"


@pytest.fixture
def ready(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    return cleared(patient, prescriber, nurse, start=20)


@pytest.fixture
def drawn(clinic_a, patient, prescriber, nurse):
    lot = add_lot(add_ketalar(clinic_a, prescriber), prescriber)
    safe = stock.add_location(clinic=clinic_a, name="Locked safe", by=prescriber)
    stock.receive(lot=lot, location=safe, containers=1, at=minutes_ago(60), by=nurse)
    return stock.draw_for_dose(lot=lot, location=safe, patient=patient, session_id=7,
                               administration_id=70, dose_mg=35, by=nurse)


def confirm_dose(ready, nurse, second, password: str):
    return treatment.record_administration(
        ready, at=minutes_ago(1), by=nurse, dose_mg_per_kg=1.2, override_reason="Partial response",
        second_clinician=second, second_password=password)


def witness_wastage(drawn, nurse, witness, password: str):
    return stock.waste(draw=drawn, amount_mg=5, method="sink", by=nurse, witness=witness,
                       witness_password=password)


def now_local(clinic) -> str:
    """Now as the clinic's waste form reads it (its own zone, as typed)."""
    return timezone.now().astimezone(clinic.zone).strftime("%Y-%m-%dT%H:%M")


def wrong_logins(username: str, times: int, address: str = "127.0.0.1") -> None:
    for _ in range(times):
        Client().post("/login/", {"username": username, "password": "nope"}, REMOTE_ADDR=address)


def test_wrong_passwords_as_a_witness_also_lock_the_person_out_as_a_second_clinician(
        ready, drawn, nurse, prescriber, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        with pytest.raises(WitnessRefused):
            witness_wastage(drawn, nurse, prescriber, "guess")
    with pytest.raises(ConfirmationRefused) as exc:
        confirm_dose(ready, nurse, prescriber, PASSWORD)
    assert LOCKED in exc.value.message and exc.value.field == "second_password"
    assert not Administration.objects.exists()


def test_wrong_passwords_as_a_second_clinician_and_as_a_witness_add_up(
        ready, drawn, nurse, prescriber, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        with pytest.raises(ConfirmationRefused):
            confirm_dose(ready, nurse, prescriber, "guess")
    with pytest.raises(WitnessRefused):
        witness_wastage(drawn, nurse, prescriber, "guess")
    with pytest.raises(WitnessRefused, match=LOCKED):
        witness_wastage(drawn, nurse, prescriber, PASSWORD)
    assert not LedgerLine.objects.filter(kind=Kind.WASTE).exists()


def test_a_witnessing_starts_the_count_afresh_for_the_second_clinician_too(
        ready, drawn, nurse, prescriber, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        with pytest.raises(ConfirmationRefused):
            confirm_dose(ready, nurse, prescriber, "guess")
    witness_wastage(drawn, nurse, prescriber, PASSWORD)
    with pytest.raises(ConfirmationRefused, match="not right"):
        confirm_dose(ready, nurse, prescriber, "guess")  # one since the witnessing, not five
    assert confirm_dose(ready, nurse, prescriber, PASSWORD).within_protocol is False


def test_a_person_locked_out_at_login_cannot_witness_a_wastage(drawn, nurse, prescriber, settings):
    wrong_logins(prescriber.username, settings.AXES_FAILURE_LIMIT)
    with pytest.raises(WitnessRefused, match=LOCKED) as exc:
        witness_wastage(drawn, nurse, prescriber, PASSWORD)
    assert exc.value.field == "witness_password"
    assert not LedgerLine.objects.filter(kind=Kind.WASTE).exists()
    assert AuditEntry.objects.filter(action="denied", object_type="ledger_line",
                                     detail_json__contains="locked out at login").exists()


def test_a_person_locked_out_at_login_cannot_confirm_a_dose_as_a_second_clinician(
        ready, nurse, prescriber, settings):
    wrong_logins(prescriber.username, settings.AXES_FAILURE_LIMIT)
    with pytest.raises(ConfirmationRefused, match=LOCKED):
        confirm_dose(ready, nurse, prescriber, PASSWORD)
    assert not Administration.objects.exists()


def test_fewer_wrong_logins_than_the_limit_do_not_stop_a_witness(drawn, nurse, prescriber, settings):
    wrong_logins(prescriber.username, settings.AXES_FAILURE_LIMIT - 1)
    assert witness_wastage(drawn, nurse, prescriber, PASSWORD).witness == prescriber


def test_a_login_lockout_holds_for_the_witness_at_the_address_it_was_earned_from_only(
        drawn, clinic_a, nurse, prescriber, settings):
    """As at login (username and address, tests/test_login_lockout.py): someone guessing from
    elsewhere cannot stop a clinician witnessing at the clinic's desk."""
    wrong_logins(prescriber.username, settings.AXES_FAILURE_LIMIT, address=ELSEWHERE)
    form = {"amount_mg": "5", "method": "sink", "at": now_local(clinic_a),
            "witness": prescriber.username, "witness_password": PASSWORD}
    url = f"/stock/draws/{drawn.pk}/waste/"
    refused = login(nurse).post(url, form, REMOTE_ADDR=ELSEWHERE)
    assert refused.status_code == 422 and LOCKED.encode() in refused.content
    assert login(nurse).post(url, form, REMOTE_ADDR=HERE).status_code == 302
