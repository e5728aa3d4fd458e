"""The youngest age a covariate model takes comes from the ages it was fitted on."""

from dataclasses import replace

import pytest

from kapclinic.clinical.pk import PKInputError
from kapclinic.clinical.pk.covariates import Covariates, apply
from kapclinic.clinical.pk.definitions import load_all


def test_a_patient_younger_than_anyone_the_model_was_fitted_on_is_refused_by_its_own_range():
    esketamine = load_all()["perez_ruixo_esketamine"]
    ages = esketamine.fitted_population["age_years"]
    fitted_from_25 = replace(esketamine, fitted_population={
        **esketamine.fitted_population, "age_years": replace(ages, low=25.0)})
    with pytest.raises(PKInputError, match="25 years and over"):
        apply(fitted_from_25, {"Qh": 1.0}, Covariates(age_years=20.0))


def test_an_adult_within_the_fitted_ages_is_not_refused():
    esketamine = load_all()["perez_ruixo_esketamine"]
    apply(esketamine, {"Qh": 2.5}, Covariates(age_years=18.0))
