"""API edge cases a review found: a refusal never echoes a huge key back, and a version
beyond what is stored is a 422 naming it, not a conflict."""

from __future__ import annotations

import pytest

from tests.test_api import Api, problem_fields


def test_an_unknown_answer_key_is_named_shortened_in_the_refusal(nurse, patient):
    long = "x" * 60
    for path, body in ((f"/patients/{patient.pk}/responses",
                        {"instrument": "phq9", "answers": {long: 1}}),
                       ("/instruments/phq9/score", {"answers": {long: 1}})):
        refused = Api(nurse).call("POST", path, body)
        assert refused.status_code == 422, path
        assert len(refused.content) < 2_000, path
        [(field, message)] = problem_fields(refused).items()
        assert field == f"answers.{'x' * 40}…"
        assert f"item {'x' * 40}…: is not an item of PHQ-9" in message


def test_an_unknown_instrument_id_is_named_shortened_in_the_refusal(nurse, patient):
    refused = Api(nurse).call("POST", f"/patients/{patient.pk}/responses",
                              {"instrument": "y" * 100_000, "answers": {}})
    assert refused.status_code == 422 and len(refused.content) < 2_000
    assert f"unknown instrument '{'y' * 40}…'" in problem_fields(refused)["instrument"]


def test_a_version_beyond_what_is_stored_is_refused_naming_it_not_a_conflict(prescriber,
                                                                              patient):
    refused = Api(prescriber).call("PATCH", f"/patients/{patient.pk}",
                                   {"version": 2**63, "phone": "555-0100"})
    assert refused.status_code == 422 and "version" in problem_fields(refused)


@pytest.mark.parametrize("answer", [1, "a"])
def test_an_answer_to_a_huge_key_is_refused_without_echoing_the_key(nurse, answer):
    refused = Api(nurse).call("POST", "/instruments/phq9/score",
                              {"answers": {"x" * 100_000: answer}})
    assert refused.status_code == 422 and len(refused.content) < 2_000
    assert "at most 64 characters" in problem_fields(refused)["answers"]
