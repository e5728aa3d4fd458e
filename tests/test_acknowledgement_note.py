"""A refused acknowledgement note says what is wrong with it and keeps what was typed."""

from __future__ import annotations

import html

import pytest

from kapclinic.alerts import actions as alerts
from kapclinic.alerts.models import Alert
from tests.conftest import login


@pytest.fixture
def alert(clinic_a):
    return alerts.raise_alert(clinic_id=clinic_a.pk, source="ledger", kind="stock_discrepancy",
                              label="Ketamine count differs from the ledger by 2 vials",
                              record_type="ledger.count", record_id=7, by=None)


def acknowledge(user, alert, note):
    response = login(user).post(f"/alerts/{alert.pk}/acknowledge/", {"note": note}, follow=True)
    return response, html.unescape(response.content.decode())


def test_a_note_too_long_is_refused_naming_the_limit_and_the_typed_text_is_kept(nurse, alert):
    typed = "Recounted with Jonas. " + "x" * 100_000
    response, page = acknowledge(nurse, alert, typed)
    assert response.status_code == 422
    assert "at most 2000 characters" in page
    assert "Write what you did about the alert" not in page
    assert typed in page  # in the note's box, to shorten and send again
    assert Alert.objects.open().filter(pk=alert.pk).exists()


def test_a_note_with_a_nul_character_is_refused_naming_it_and_the_typed_text_is_kept(
        nurse, alert):
    response, page = acknowledge(nurse, alert, "Called the patient\x00 at 10:05")
    assert response.status_code == 422
    assert "Null characters are not allowed" in page
    assert "Called the patient" in page and "at 10:05" in page
    assert Alert.objects.open().filter(pk=alert.pk).exists()


def test_an_empty_note_still_asks_what_was_done(nurse, alert):
    response, page = acknowledge(nurse, alert, "   ")
    assert response.status_code == 422
    assert "Write what you did about the alert before acknowledging it." in page
    assert Alert.objects.open().filter(pk=alert.pk).exists()


def test_a_second_clinician_acknowledging_is_told_who_was_first_and_their_note_is_not_kept(
        nurse, prescriber, alert):
    acknowledge(nurse, alert, "Recounted with Jonas: two vials in the returns bin.")
    response, page = acknowledge(prescriber, alert, "Counted again myself.")
    assert response.status_code == 200
    assert "Nina Nurse acknowledged this alert at" in page and "your note was not saved" in page
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse
    assert alert.acknowledgement_note == "Recounted with Jonas: two vials in the returns bin."


def test_the_refusal_as_a_message_says_what_is_wrong_with_the_note():
    from kapclinic.alerts.forms import AcknowledgeForm

    empty = AcknowledgeForm({"note": "  "})
    assert not empty.is_valid()
    assert empty.refusal() == "Write what you did about the alert before acknowledging it."
    long = AcknowledgeForm({"note": "x" * 2001})
    assert not long.is_valid()
    assert long.refusal().startswith("The note was not saved: ")
    assert "at most 2000 characters" in long.refusal()
