"""Model files: every shipped definition loads; every broken one is refused by name."""

from pathlib import Path

import pytest

from kapclinic.clinical.pk import ModelDefinitionError, get_model, list_models
from kapclinic.clinical.pk.definitions import MODELS_DIR, load_definition

BAD = sorted((Path(__file__).parent / "bad").glob("*.json"))

# bad file -> the field its refusal must name
EXPECTED_FIELD = {
    "missing_citation": "citation",
    "missing_evidence_tag": "parameters.k10.evidence",
    "bad_evidence_tag": "evidence",
    "negative_volume": "parameters.V1.value",
    "zero_rate": "parameters.k21.value",
    "string_value": "parameters.k10.value",
    "unknown_unit": "parameters.V1.unit",
    "wrong_kind_unit": "parameters.k10.unit",
    "per_kg_unit_with_allometric": "parameters.V1.unit",
    "missing_parameter": "parameters.k12",
    "unknown_drug": "drug",
    "unknown_route": "routes.rectal",
    "route_without_ka_or_tmax": "routes.oral.ka",
    "bioavailability_above_one": "routes.im.bioavailability.value",
    "iv_kind_on_oral": "routes.oral.kind",
    "no_routes": "routes",
    "bad_caveat_kind": "caveats[0].kind",
    "caveats_not_list": "caveats",
    "unknown_structure": "structure",
    "default_cv_unknown_parameter": "variability.default_cv_applies_to",
    "absurd_default_cv": "variability.default_cv",
    "wrong_schema_version": "schema_version",
    "fraction_above_one": "parameters.FRn.value",
    "route_names_unknown_parameter": "routes.intranasal.params.nasal_ka",
    "metabolite_missing_parameter": "parameters.Vcn",
    "bad_iiv_distribution": "parameters.Vc.iiv.distribution",
    "id_not_file_name": "id",
    "not_json": "(file)",
    "top_level_list": "(top level)",
    "calibrated_ka_not_derived": "routes.oral.ka.evidence",
    "calibration_unknown_observation": "routes.oral.calibration.observations[0]",
    "calibrated_bioavailability_outside_range": "routes.oral.bioavailability.value",
    "calibration_observation_of_another_route": "routes.oral.calibration.observations[0]",
    "covariate_unknown_parameter": "covariates[0].parameter",
    "calibrated_lag_above_lag_max": "routes.sublingual.lag.value",
    "calibration_without_published_values": "routes.im.calibration.published",
}


def test_it_ships_the_models_the_issue_names():
    ids = {m["id"] for m in list_models()}
    assert {"domino", "clements", "hijazi", "herd", "kamp", "perez_ruixo_esketamine"} <= ids


@pytest.mark.parametrize("path", sorted(MODELS_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_it_loads_every_shipped_model_with_citation_and_evidence(path):
    model = load_definition(path)
    assert model.citation and model.evidence and model.population
    for prm in model.parameters.values():
        assert prm.source and prm.evidence and prm.unit


def test_it_has_a_case_in_the_bad_corpus_for_every_expectation():
    assert {p.stem for p in BAD} == set(EXPECTED_FIELD)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_it_refuses_every_broken_definition_naming_file_and_field(path):
    with pytest.raises(ModelDefinitionError) as err:
        load_definition(path)
    assert err.value.filename == path.name
    assert err.value.field == EXPECTED_FIELD[path.stem]
    assert str(err.value).startswith(f"{path.name}: field '{EXPECTED_FIELD[path.stem]}'")


def test_it_flags_the_childrens_and_icu_models_for_the_ui():
    assert "children" in {c.kind for c in get_model("herd").caveats}
    assert "icu" in {c.kind for c in get_model("hijazi").caveats}
    assert "unverified" in {c.kind for c in get_model("domino").caveats}


def test_it_lists_models_with_the_fields_the_cli_prints():
    for row in list_models():
        assert {"id", "drug", "routes", "source", "evidence", "population"} <= set(row)


def test_it_gives_the_esketamine_model_nasal_swallowed_and_oral_paths():
    model = get_model("perez_ruixo_esketamine")
    nasal = model.routes["intranasal"]
    assert nasal.kind == "esketamine-nasal"
    assert nasal.params["swallowed_ka"] == "ka_sw"
    assert model.routes["oral"].params["ka"] == "ka_po"
    assert "im" not in model.routes and "sublingual" not in model.routes
