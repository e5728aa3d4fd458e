"""The dose explorer speaks to a clinician: sources and evidence in words, no file names,
evidence codes or field ids."""

from __future__ import annotations

import re

import pytest

from tests.conftest import login

RACEMIC = {"drug": "ketamine", "route": "iv-infusion", "dose": "0.5", "dose_unit": "mg_per_kg",
           "weight_kg": "70", "duration_min": "40", "hours": "4", "compare_route": "im"}
ESKETAMINE = {"drug": "esketamine", "route": "intranasal", "dose": "56", "dose_unit": "mg",
              "weight_kg": "70", "hours": "4", "compare_route": "", "asian": "on",
              "age_years": "70"}
DEVELOPER_WORDS = ["[P]", "[C]", "[S]", "[D]", "[unverified", "pk.md", "calibration.py", ".py",
                   "{score}", "mm[Hg]", "_kg", "_min", "ug/kg"]


def visible_text(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("query", [RACEMIC, ESKETAMINE], ids=["racemic", "esketamine"])
def test_the_page_names_sources_and_evidence_in_words_without_developer_codes(prescriber,
                                                                                query):
    text = visible_text(login(prescriber).get("/dosing/explorer/", query))
    assert [word for word in DEVELOPER_WORDS if word in text] == []
    assert "from the published paper" in text
    assert "secondary source" in text


def test_each_model_row_names_its_evidence_in_words(prescriber):
    text = visible_text(login(prescriber).get("/dosing/explorer/", RACEMIC))
    assert "as encoded in public software (paper not seen)" in text  # Domino, Clements
    assert "Clements 250 µg/kg" in text


def test_a_caveat_tag_is_shown_once_per_model(prescriber):
    text = visible_text(login(prescriber).get("/dosing/explorer/", ESKETAMINE))
    assert "unverified unverified" not in text


@pytest.mark.parametrize("change, expected", [
    ({"weight_kg": "7000"}, "Weight (kg): 7000 kg is more than the models take (at most 350 kg)"),
    ({"dose": "50"}, "Dose: 50 mg/kg is more than the models take (at most 15 mg/kg)"),
])
def test_a_refused_input_is_explained_with_its_label_and_unit(prescriber, change, expected):
    response = login(prescriber).get("/dosing/explorer/", {**RACEMIC, **change})
    assert response.status_code == 422
    assert expected in visible_text(response)


def test_the_headings_name_the_route_as_a_clinician_writes_it_iv_in_capitals(prescriber):
    text = visible_text(login(prescriber).get("/dosing/explorer/", {**RACEMIC, "dose": "35",
                                                                     "dose_unit": "mg"}))
    assert "35 mg IV infusion at 70 kg" in text
    assert "iv infusion" not in text
    assert "Same exposure (AUC 0–∞) by intramuscular" in text  # a word, lower case mid-sentence
