"""Side effects seen and interventions given in a session: from the reference's lists (and
"other", described), only while the session is in progress, on the page and in the record."""

from __future__ import annotations

import uuid

import pytest

from kapclinic.audit.models import AuditEntry
from kapclinic.platform.idempotency import FORM_FIELD
from kapclinic.treatment import actions
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import SessionObservation
from tests.conftest import login
from tests.treatment.helpers import LATE, cleared, eligible_and_consented, minutes_ago, session, step

pytestmark = pytest.mark.django_db


@pytest.fixture
def dosing(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    return step(cleared(patient, prescriber, nurse, start=40), "dosing", minutes_ago(30), nurse,
                late_reason=LATE, administration={"dose_mg_per_kg": 0.5})


def test_a_nurse_records_nausea_and_the_intervention_from_the_session_page(dosing, nurse):
    client = login(nurse)
    page = client.get(f"/sessions/{dosing.pk}/").content.decode()
    assert "Side effects and interventions" in page and "Respiratory depression" in page
    for item, note in (("side_effect:nausea_vomiting", "Nauseous at 20 min"),
                       ("intervention:continuous_observation", "")):
        client.post(f"/sessions/{dosing.pk}/observations/",
                    {"item": item, "note": note, FORM_FIELD: uuid.uuid4().hex})
    seen = list(SessionObservation.objects.filter(session=dosing).values_list("kind", "code", "note"))
    assert seen == [("side_effect", "nausea_vomiting", "Nauseous at 20 min"),
                    ("intervention", "continuous_observation", "")]
    record = client.get(f"/sessions/{dosing.pk}/record/").content.decode()
    assert "Nausea or vomiting" in record and "Nauseous at 20 min" in record
    assert AuditEntry.objects.filter(object_type="session_observation", action="create").count() == 2


def test_other_without_saying_what_is_refused_naming_the_note(dosing, nurse):
    response = login(nurse).post(f"/sessions/{dosing.pk}/observations/", {"item": "side_effect:other"})
    assert response.status_code == 422
    assert "Note: say what it was" in response.content.decode()
    assert not SessionObservation.objects.exists()


def test_an_item_not_on_the_list_is_refused(dosing, nurse):
    with pytest.raises(FieldError) as exc:
        actions.record_observation(dosing, kind="side_effect", code="headache", at=minutes_ago(1), by=nurse)
    assert exc.value.field == "code"


def test_nothing_is_recorded_on_a_session_not_yet_checked_in(patient, prescriber, nurse):
    booked = session(patient, prescriber, started_minutes_ago=-60)
    with pytest.raises(FieldError) as exc:
        actions.record_observation(booked, kind="intervention", code="call_prescriber",
                                   at=minutes_ago(1), by=nurse)
    assert exc.value.field == "session"


def test_a_therapist_may_not_record_one(dosing, therapist):
    response = login(therapist).post(f"/sessions/{dosing.pk}/observations/",
                                     {"item": "side_effect:sedation"})
    assert response.status_code == 403
    assert not SessionObservation.objects.exists()


def test_the_record_shows_the_highest_cadss6_of_the_session(dosing, nurse):
    from kapclinic.platform import extensions as ext

    client = login(nurse)
    assert "not scored" in client.get(f"/sessions/{dosing.pk}/record/").content.decode()
    with ext.registrations_undone():
        ext.register(ext.SessionScores("cadss", lambda ids: {sid: {"cadss6": 9.0} for sid in ids}))
        page = client.get(f"/sessions/{dosing.pk}/record/").content.decode()
    assert "<strong>9</strong> of 24" in page
