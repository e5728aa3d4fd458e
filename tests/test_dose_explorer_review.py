"""The dose explorer page after a clinician's review: extrapolation, unchecked models,
fitted bioavailability, exposure misses and named discrepancies are said in words."""

from __future__ import annotations

from tests.conftest import login

ESK = {"drug": "esketamine", "route": "intranasal", "dose": "56", "dose_unit": "mg",
       "weight_kg": "70", "hours": "4", "compare_route": ""}
IN_50 = {"drug": "ketamine", "route": "intranasal", "dose": "50", "dose_unit": "mg",
         "weight_kg": "70", "hours": "4", "compare_route": ""}


def _page(prescriber, params) -> str:
    response = login(prescriber).get("/dosing/explorer/", params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_says_an_esketamine_age_of_120_is_an_extrapolation(prescriber):
    body = _page(prescriber, {**ESK, "age_years": "120"})
    assert ("120 years is outside the ages the model was fitted on (18–86 years): the "
            "prediction is an extrapolation") in body


def test_the_page_says_an_esketamine_nasal_curve_was_not_checked_against_people(prescriber):
    body = _page(prescriber, ESK)
    assert "No observed level in the reference to check this model against" in body


def test_the_page_explains_that_a_fitted_bioavailability_is_not_a_measurement(prescriber):
    body = _page(prescriber, IN_50)
    assert "not a measured bioavailability" in body
    assert "Pharmacotherapy 2022 measured a bioavailability of 0.13" in body
    assert "Domino (STANPUMP parameter set): fitted 0.26, 2.0 times the measured 0.13" in body


def test_the_page_reports_an_intranasal_total_exposure_miss(prescriber):
    body = _page(prescriber, IN_50)
    section = body[body.index('id="misses-h"'):].split("</section>")[0]
    assert "total exposure" in section and "81% above the 62 ng·h/mL observed" in section


def test_the_page_names_the_esketamine_oral_disagreement_with_fanta_2015(prescriber):
    body = _page(prescriber, {**ESK, "route": "oral", "dose": "84"})
    assert "Fanta 2015" in body and "2.2 times the exposure" in body
