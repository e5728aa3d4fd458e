"""The page's 'differs by more than N%' is the PK core's miss limit, not a second copy."""

from __future__ import annotations

from kapclinic.clinical.pk import calibration
from tests.conftest import login

IN_50 = {"drug": "ketamine", "route": "intranasal", "dose": "50", "dose_unit": "mg",
         "weight_kg": "70", "hours": "4", "compare_route": ""}


def test_the_miss_warning_states_the_limit_the_pk_core_judges_by(prescriber, monkeypatch):
    monkeypatch.setattr(calibration, "MISS_LIMIT", 0.25)
    body = login(prescriber).get("/dosing/explorer/", IN_50).content.decode()
    assert "by more than 25%</strong>" in body  # the warning heading over the misses
