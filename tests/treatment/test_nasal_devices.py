"""Esketamine by nasal spray is given device by device (28 mg each: 56 mg is 2 devices, 84 mg
is 3): observation does not start before the last device is recorded, and the dose form asks
for the dose in whole devices, not an infusion's rate or concentration."""

from __future__ import annotations

import uuid

import pytest

from kapclinic.platform.idempotency import FORM_FIELD
from kapclinic.treatment import actions
from kapclinic.treatment.errors import StepRefused
from kapclinic.treatment.models import Administration
from tests.conftest import login
from tests.treatment.helpers import ESKETAMINE, LATE, cleared, eligible_and_consented, minutes_ago, step
from tests.treatment.test_session_dose_pages import html, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def spraying(patient, prescriber, nurse):
    """56 mg given from 20 minutes ago; no device recorded yet."""
    eligible_and_consented(patient, prescriber, drug="esketamine", route="intranasal")
    s = cleared(patient, prescriber, nurse, ESKETAMINE, start=25)
    return step(s, "dosing", minutes_ago(20), nurse, late_reason=LATE, administration={"dose_mg": 56})


def device(s, nurse, ago: float):
    return actions.record_administration_event(s, kind="device", at=minutes_ago(ago), by=nurse,
                                               late_reason=LATE)


def test_observation_is_refused_naming_the_guard_until_every_device_of_56_mg_is_recorded(spraying, nurse):
    with pytest.raises(StepRefused) as exc:
        step(spraying, "monitoring", minutes_ago(1), nurse)
    assert [u.guard for u in exc.value.unmet] == ["every_device_given"]
    assert "0 of the dose's 2 devices are recorded: record device 1 to 2" in exc.value.unmet[0].message
    device(spraying, nurse, 19)
    with pytest.raises(StepRefused) as exc:
        step(spraying, "monitoring", minutes_ago(1), nurse)
    assert "1 of the dose's 2 devices are recorded: record device 2" in exc.value.unmet[0].message
    device(spraying, nurse, 13)
    assert step(spraying, "monitoring", minutes_ago(1), nurse).state == "monitoring"


def test_an_84_mg_dose_waits_for_its_third_device(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber, drug="esketamine", route="intranasal")
    s = cleared(patient, prescriber, nurse, ESKETAMINE, start=30)
    s = step(s, "dosing", minutes_ago(25), nurse, late_reason=LATE, administration={
        "dose_mg": 84, "override_reason": "MDD with acute suicidal ideation: 84 mg from the start",
        "second_clinician": prescriber, "second_password": "correct horse battery staple"})
    for ago in (25, 19):
        device(s, nurse, ago)
    with pytest.raises(StepRefused) as exc:
        step(s, "monitoring", minutes_ago(1), nurse)
    assert "2 of the dose's 3 devices" in exc.value.unmet[0].message
    device(s, nurse, 13)
    assert step(s, "monitoring", minutes_ago(1), nurse).state == "monitoring"


def test_the_session_page_offers_observation_only_after_the_last_device(spraying, nurse):
    client = login(nurse)
    words = text(client.get(f"/sessions/{spraying.pk}/"))
    assert "Dosing finished: start observation" not in words
    assert "Observation starts after the last device. 0 of 2 devices are recorded" in words
    device(spraying, nurse, 19)
    words = text(client.get(f"/sessions/{spraying.pk}/"))
    assert "Dosing finished: start observation" not in words and "record device 2" in words
    device(spraying, nurse, 13)
    words = text(client.get(f"/sessions/{spraying.pk}/"))
    assert "Dosing finished: start observation" in words and "Observation starts after" not in words


def test_an_iv_infusion_still_offers_observation_with_its_step(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=25)
    s = step(s, "dosing", minutes_ago(20), nurse, late_reason=LATE, administration={"dose_mg_per_kg": 0.5})
    assert "Dosing finished: start observation" in text(login(nurse).get(f"/sessions/{s.pk}/"))


def test_the_nasal_dose_form_offers_whole_devices_and_no_infusion_fields(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber, drug="esketamine", route="intranasal")
    s = cleared(patient, prescriber, nurse, ESKETAMINE, start=10)
    client = login(nurse)
    page = html(client.get(f"/sessions/{s.pk}/"))
    words = text(client.get(f"/sessions/{s.pk}/"))
    assert "28 mg · 1 device" in words and "56 mg · 2 devices" in words and "84 mg · 3 devices" in words
    assert 'type="radio" name="dose"' in page
    assert "Rate (mg/min)" not in words and "Concentration (mg/mL)" not in words
    assert "Each device gives 28 mg" in words
    response = client.post(f"/sessions/{s.pk}/dose/", {"dose": "56", "lot": "SPR-7",
                                                        FORM_FIELD: uuid.uuid4().hex})
    assert response.status_code == 302, text(response)
    given = Administration.objects.get(session=s)
    assert (given.dose_mg, given.rate_mg_per_min, given.concentration_mg_per_ml) == (56, None, None)


def test_a_dose_that_is_not_whole_devices_is_refused_naming_the_field(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber, drug="esketamine", route="intranasal")
    s = cleared(patient, prescriber, nurse, ESKETAMINE, start=10)
    response = login(nurse).post(f"/sessions/{s.pk}/dose/", {"dose": "50", FORM_FIELD: uuid.uuid4().hex})
    assert response.status_code == 422
    assert "Dose (mg)" in text(response) and not Administration.objects.filter(session=s).exists()


def test_the_iv_dose_form_keeps_its_rate_and_concentration(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    s = cleared(patient, prescriber, nurse, start=10)
    words = text(login(nurse).get(f"/sessions/{s.pk}/"))
    assert "Rate (mg/min)" in words and "Concentration (mg/mL)" in words and "device" not in words.lower()
