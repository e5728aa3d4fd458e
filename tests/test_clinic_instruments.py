"""A clinic adds an instrument by dropping a definition file in its folder (issue 3)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from kapclinic.clinical.instruments.definitions import CLINIC_DIR_ENV, DEFINITIONS_DIR, load_all
from kapclinic.measures.actions import record_response
from kapclinic.measures.models import Response
from tests.conftest import login


@pytest.fixture
def clinic_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(CLINIC_DIR_ENV, str(tmp_path))
    load_all.cache_clear()
    yield tmp_path
    monkeypatch.delenv(CLINIC_DIR_ENV)
    load_all.cache_clear()


def drop_definition(folder, new_id: str, **changes) -> None:
    data = json.loads((DEFINITIONS_DIR / "phq2.json").read_text(encoding="utf-8"))
    data.update(id=new_id, short_name="Mood-2", name="Clinic mood check", **changes)
    (folder / f"{new_id}.json").write_text(json.dumps(data), encoding="utf-8")


def test_a_dropped_definition_is_offered_and_scored_in_the_app(clinic_folder, nurse, patient):
    drop_definition(clinic_folder, "mood2")
    client = login(nurse)
    assert b"Mood-2" in client.get(f"/patients/{patient.pk}/measures/").content
    saved = client.post(f"/patients/{patient.pk}/measures/new/mood2/",
                        {"item_1": "3", "item_2": "2"})
    assert saved.status_code == 302
    response = Response.objects.get(instrument="mood2")
    assert response.total == 5 and response.definition_version == "1"


def test_a_broken_definition_stops_the_start_naming_the_file_and_the_field(clinic_folder):
    drop_definition(clinic_folder, "mood2", total_range=[0, 99])
    with pytest.raises(SystemCheckError) as caught:
        call_command("check", tags=["instruments"])
    assert "kapclinic.E003" in str(caught.value)
    assert "mood2.json" in str(caught.value) and "total_range" in str(caught.value)


def test_answers_stay_on_the_page_when_their_definition_is_removed(clinic_folder, nurse,
                                                                    prescriber, patient):
    drop_definition(clinic_folder, "mood2")
    record_response(patient=patient, instrument="mood2", answers={"1": 1, "2": 1},
                    source="clinic", by=prescriber)
    (clinic_folder / "mood2.json").unlink()
    load_all.cache_clear()
    page = login(nurse).get(f"/patients/{patient.pk}/measures/")
    assert page.status_code == 200
    assert b"definition no longer installed" in page.content
