"""Perez-Ruixo covariates: Asian, Japanese and age over 60 change the esketamine curve."""

import pytest

from kapclinic.clinical.pk import PKInputError, simulate

ESK = "perez_ruixo_esketamine"
# pk.md 3.4: Perez-Ruixo Table 4 typical esketamine Cmax (ng/mL) by nasal dose [S]
TABLE_4_JAPANESE = {28: 57.5, 56: 94.5, 84: 131.3}
TABLE_4_OVER_60 = {28: 44.6, 56: 73.8, 84: 102.7}


def nasal(dose_mg, **covariates):
    return simulate(ESK, "intranasal", dose_mg=dose_mg, weight_kg=74, step_min=0.1,
                    **covariates)


@pytest.mark.parametrize("dose_mg", TABLE_4_JAPANESE)
def test_a_japanese_patient_gets_the_table_4_japanese_peak_within_1_percent(dose_mg):
    assert nasal(dose_mg, japanese=True).cmax_ng_per_ml == pytest.approx(
        TABLE_4_JAPANESE[dose_mg], rel=0.01)


@pytest.mark.parametrize("dose_mg", TABLE_4_OVER_60)
@pytest.mark.parametrize("age", [65, 70])
def test_a_patient_over_60_gets_the_table_4_older_adult_peak_within_1_percent(dose_mg, age):
    assert nasal(dose_mg, age_years=age).cmax_ng_per_ml == pytest.approx(
        TABLE_4_OVER_60[dose_mg], rel=0.01)


def test_age_60_or_under_changes_nothing():
    assert nasal(56, age_years=45).cmax_ng_per_ml == nasal(56).cmax_ng_per_ml


def test_an_asian_patient_has_more_esketamine_and_noresketamine_exposure():
    base, asian = nasal(56), nasal(56, asian=True)
    assert asian.auc_inf_ng_h_per_ml > base.auc_inf_ng_h_per_ml
    assert asian.metabolite_auc_ng_h_per_ml > base.metabolite_auc_ng_h_per_ml
    assert any("x0.36" in a for a in asian.assumptions)


def test_the_covariates_shift_the_population_too():
    kwargs = {"dose_mg": 56, "weight_kg": 74, "population": 2000, "seed": 4}
    base = simulate(ESK, "intranasal", **kwargs)
    japanese = simulate(ESK, "intranasal", japanese=True, **kwargs)
    assert (japanese.population_summary["cmax_ng_per_ml"]["p50"]
            > base.population_summary["cmax_ng_per_ml"]["p50"] * 1.2)


def test_covariates_given_for_a_racemic_model_are_noted_as_not_applied():
    plain = simulate("kamp", "oral", dose_mg=50, weight_kg=70)
    given = simulate("kamp", "oral", dose_mg=50, weight_kg=70, asian=True, age_years=70)
    assert given.cmax_ng_per_ml == plain.cmax_ng_per_ml
    assert any("not applied" in a for a in given.assumptions)


@pytest.mark.parametrize("kwargs, field, words", [
    ({"age_years": 0}, "age_years", "more than 0"),
    ({"age_years": 200}, "age_years", "at most 120"),
    ({"age_years": "old"}, "age_years", "must be a number"),
    ({"age_years": 12}, "age_years", "fitted in adults"),
    ({"asian": "yes"}, "asian", "true or false"),
    ({"japanese": 1}, "japanese", "true or false"),
])
def test_a_wrong_covariate_is_refused_naming_the_field(kwargs, field, words):
    with pytest.raises(PKInputError, match=words) as err:
        nasal(56, **kwargs)
    assert err.value.field == field
