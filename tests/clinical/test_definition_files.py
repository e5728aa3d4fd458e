"""The typed layer the clinical definition readers share (issue 11, section 6): unknown keys
and wrongly typed values are refused naming their path; a clinic's instrument file has a
published JSON Schema that cannot go stale; one clinic-setting type refuses a value outside
its range with the setting's label, in instruments, screening and outcomes alike."""

import argparse
import copy
import io
import json
from pathlib import Path

import pytest

from kapclinic.clinical.definitions import Setting
from kapclinic.clinical.instruments import DefinitionError, SettingError
from kapclinic.clinical.instruments.cli import add_list_arguments, run_list
from kapclinic.clinical.instruments.definitions import DEFINITIONS_DIR, load_all, load_definition
from kapclinic.clinical.instruments.file_model import InstrumentFile, instrument_schema_text
from kapclinic.clinical.outcomes import OutcomeSettingError, OutcomeSettings, load_rules
from kapclinic.clinical.screening import SettingsError, load_ruleset
from kapclinic.clinical.screening.clinic_settings import resolve_settings

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "instrument.schema.json"
SHIPPED = sorted(DEFINITIONS_DIR.glob("*.json"))


def _clinic_file(tmp_path: Path, change) -> Path:
    """A clinic's copy of the shipped MADRS definition with one change made to it."""
    data = json.loads((DEFINITIONS_DIR / "madrs.json").read_text())
    data["id"] = "clinic_madrs"
    change(data)
    path = tmp_path / "clinic_madrs.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("change, field", [
    (lambda d: d.update(colour="red"), "colour"),
    (lambda d: d["items"][3].update(weight=2), "items[3].weight"),
    (lambda d: d["settings"]["remission_max"].update(defualt=10), "settings.remission_max.defualt"),
])
def test_a_clinic_file_with_an_unknown_key_is_refused_naming_the_key(tmp_path, change, field):
    with pytest.raises(DefinitionError) as caught:
        load_definition(_clinic_file(tmp_path, change))
    assert caught.value.field == field
    assert str(caught.value) == f"clinic_madrs.json: field '{field}': is not a known field"


@pytest.mark.parametrize("change, field, problem", [
    (lambda d: d["settings"]["remission_max"].update(default="12"),
     "settings.remission_max.default", "must be a whole number"),
    (lambda d: d["items"][0].update(scored="yes"), "items[0].scored", "must be true or false"),
    (lambda d: d["scoring"].update(missing=[]), "scoring.missing", "must be an object"),
    (lambda d: d["change_rules"][0].update(at_least=True), "change_rules[0].at_least", "must be a number"),
    (lambda d: d.update(items=[]), "items", "must not be empty"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_its_path_and_never_coerced(
        tmp_path, change, field, problem):
    with pytest.raises(DefinitionError) as caught:
        load_definition(_clinic_file(tmp_path, change))
    assert caught.value.field == field
    assert caught.value.problem == problem


@pytest.mark.parametrize("change, field, problem", [
    (lambda d: d["alerts"][0]["when"].update(vaule=4), "alerts[0].when.vaule", "is not a known field"),
    (lambda d: d["alerts"][0]["when"].update(score="total"), "alerts[0].when",
     "must have exactly one of item, score, sum, count, any, all, not, context"),
    (lambda d: d["alerts"][0].update(when={"any": [{"item": "10", "op": ">=", "value": "4"}]}),
     "alerts[0].when.any[0].value", "must be a number"),
    (lambda d: d["alerts"][0].update(when={"not": {"item": "10", "op": "=>", "value": 4}}),
     "alerts[0].when.not.op", "'=>' is not one of '>=', '>', '<=', '<', '==' or '!='"),
])
def test_a_rule_condition_is_typed_so_a_typo_inside_it_is_refused_naming_its_path(
        tmp_path, change, field, problem):
    with pytest.raises(DefinitionError) as caught:
        load_definition(_clinic_file(tmp_path, change))
    assert (caught.value.field, caught.value.problem) == (field, problem)


def test_the_published_instrument_schema_is_the_one_the_loader_checks():
    # docs/schemas/instrument.schema.json is regenerated with `kapclinic instruments schema`
    assert SCHEMA_FILE.read_text(encoding="utf-8") == instrument_schema_text()


def test_kapclinic_instruments_schema_prints_the_published_schema():
    parser = argparse.ArgumentParser(prog="kapclinic instruments")
    add_list_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    assert run_list(parser.parse_args(["schema"]), out, err) == 0
    assert out.getvalue() == SCHEMA_FILE.read_text(encoding="utf-8") and err.getvalue() == ""
    schema = json.loads(out.getvalue())
    assert schema["additionalProperties"] is False
    assert {"id", "items", "scoring", "licence", "citation"} <= set(schema["required"])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_definition_validates_against_the_published_schema(path):
    # jsonschema is not installed: validated through the model the schema is generated from
    # (the test above keeps the two identical).
    InstrumentFile.model_validate(json.loads(path.read_text()))


def test_a_clinic_instrument_setting_outside_its_allowed_values_is_refused_with_its_label():
    madrs = load_all()["madrs"]
    spec = madrs.settings["suicide_item_threshold"]
    with pytest.raises(SettingError) as caught:
        madrs.chosen_settings({"suicide_item_threshold": 9})
    assert spec.label in str(caught.value) and "9 is not one of [1, 2, 3, 4, 5, 6]" in str(caught.value)


def test_a_screening_threshold_outside_its_range_is_refused_with_its_label():
    ruleset = load_ruleset()
    spec = ruleset.settings["ketamine_baseline_sbp_mmhg"]
    with pytest.raises(SettingsError) as caught:
        resolve_settings({"thresholds": {"ketamine_baseline_sbp_mmhg": 400}}, ruleset)
    assert caught.value.field == "thresholds.ketamine_baseline_sbp_mmhg"
    assert spec.label in str(caught.value) and "400 is outside" in str(caught.value)


def test_an_outcome_setting_outside_its_range_is_refused_with_its_label():
    spec = load_rules().settings["fading_fraction"]
    with pytest.raises(OutcomeSettingError) as caught:
        OutcomeSettings(fading_fraction=2.0)
    assert spec.label in str(caught.value) and "2 is outside 0.05-1" in str(caught.value)


def test_instruments_screening_and_outcomes_share_one_clinic_setting_type():
    settings = [*load_all()["madrs"].settings.values(), *load_ruleset().settings.values(),
                *load_rules().settings.values()]
    assert all(isinstance(s, Setting) for s in settings)
    assert all(s.label and s.source and s.problem(s.default) is None for s in settings)


def test_the_published_schema_refuses_what_the_loader_refuses():
    # a key the schema does not list is refused by the model too (additionalProperties false)
    data = json.loads((DEFINITIONS_DIR / "madrs.json").read_text())
    broken = copy.deepcopy(data)
    broken["severity"]["bands"][0]["colour"] = "green"
    with pytest.raises(ValueError, match=r"severity\.bands\.0\.colour"):
        InstrumentFile.model_validate(broken)


def test_the_pk_file_model_knows_exactly_the_units_the_pk_core_converts():
    from typing import get_args

    from kapclinic.clinical.pk.definitions import UNITS
    from kapclinic.clinical.pk.file_model import Unit

    assert set(get_args(Unit)) == set(UNITS)


def test_a_diagnosis_group_with_a_typo_d_key_is_refused_naming_it():
    from kapclinic.clinical.codes import DATA_DIR, DiagnosisTableError, _icd10cm, parse_table

    raw = json.loads((DATA_DIR / "diagnoses.json").read_text())
    raw["groups"][0]["include"] = raw["groups"][0].pop("includes")
    with pytest.raises(DiagnosisTableError, match=r"diagnoses.json: groups\[0\].includes is required"):
        parse_table(raw, _icd10cm())


def _screening_data(name: str) -> dict:
    from kapclinic.clinical.screening.definitions import DATA_DIR

    return json.loads((DATA_DIR / name).read_text())


def test_a_plausibility_limit_with_a_typo_d_warning_is_refused_instead_of_losing_the_warning():
    from kapclinic.clinical.screening import RuleDefinitionError
    from kapclinic.clinical.screening.definitions import parse_plausibility

    raw = _screening_data("plausibility.json")
    raw["fields"]["sbp_mmhg"]["warn_abve"] = raw["fields"]["sbp_mmhg"].pop("warn_above")
    with pytest.raises(RuleDefinitionError) as caught:
        parse_plausibility(raw, "plausibility.json")
    assert caught.value.field == "fields.sbp_mmhg.warn_abve"
    assert caught.value.problem == "is not a known field"


@pytest.mark.parametrize("change, field, problem", [
    (lambda d: d["classes"][0].update(atc_gruop="N05BA"), "classes[0].atc_gruop", "is not a known field"),
    (lambda d: d["classes"][0]["members"][0].update(added_aliases="Valium"),
     "classes[0].members[0].added_aliases", "must be a list"),
    (lambda d: d["classes"][0]["considerations"].append("sedation"),
     "classes[0].considerations[2]", "'sedation' is not one of"),
])
def test_a_broken_medication_table_is_refused_naming_the_field(change, field, problem):
    from kapclinic.clinical.screening import RuleDefinitionError
    from kapclinic.clinical.screening.definitions import parse_medications

    raw = _screening_data("medications.json")
    change(raw)
    with pytest.raises(RuleDefinitionError) as caught:
        parse_medications(raw, "medications.json")
    assert caught.value.field == field and caught.value.problem.startswith(problem)


def test_a_screening_rule_condition_is_typed_so_a_nested_typo_is_refused_naming_its_path():
    from kapclinic.clinical.screening import RuleDefinitionError
    from kapclinic.clinical.screening.definitions import RULES_DIR, parse_rule

    raw = json.loads((RULES_DIR / "baseline_spo2_low.json").read_text())
    raw["when"] = {"any": [raw["when"], {"compare": "spo2_pct", "op": "<", "vaule": 90}]}
    with pytest.raises(RuleDefinitionError) as caught:
        parse_rule(raw, "baseline_spo2_low.json")
    assert (caught.value.field, caught.value.problem) == ("when.any[1].vaule", "is not a known field")


def _pk_model(name: str) -> dict:
    from kapclinic.clinical.pk.definitions import MODELS_DIR

    return json.loads((MODELS_DIR / name).read_text())


@pytest.mark.parametrize("model, change, field, problem", [
    ("domino.json", lambda d: d["routes"]["oral"].update(kind="buccal"), "routes.oral.kind",
     "'buccal' is not one of iv, first-order, zero-then-first-order, esketamine-nasal"),
    ("domino.json", lambda d: d["routes"]["oral"].pop("kind"), "routes.oral.kind", "is required"),
    # a misspelt lag was dropped without a word before the routes were typed
    ("domino.json", lambda d: d["routes"]["intranasal"].update(lagg=d["routes"]["intranasal"]["lag"]),
     "routes.intranasal.lagg", "is not a known field"),
    ("domino.json", lambda d: d["routes"]["im"]["ka"].update(unit="min"), "routes.im.ka.unit",
     "'min' is not one of '1/min' or '1/h'"),
    ("perez_ruixo_esketamine.json", lambda d: d["covariates"][0].update(effect="add"),
     "covariates[0].effect", "'add' is not one of 'multiply' or 'per_year_above'"),
    ("perez_ruixo_esketamine.json", lambda d: d["fitted_population"].update(height_cm={}),
     "fitted_population.height_cm", "is not a known field"),
    ("perez_ruixo_esketamine.json", lambda d: d["discrepancies"][0].update(model_value="0.178"),
     "discrepancies[0].model_value", "must be a number"),
    ("perez_ruixo_esketamine.json", lambda d: d["routes"]["intranasal"]["params"].pop("nasal_ka"),
     "routes.intranasal.params.nasal_ka", "is required"),
])
def test_pk_routes_covariates_and_fitted_population_are_typed_and_refused_naming_the_field(
        model, change, field, problem):
    from kapclinic.clinical.pk import ModelDefinitionError
    from kapclinic.clinical.pk.definitions import parse_definition

    raw = _pk_model(model)
    change(raw)
    with pytest.raises(ModelDefinitionError) as caught:
        parse_definition(raw, model)
    assert str(caught.value) == f"{model}: field '{field}': {problem}"


@pytest.mark.parametrize("change, field, problem", [
    (lambda o: o.update(tmax_sd=5), "observations[0].tmax_sd", "is not a known field"),
    (lambda o: o.update(fit="yes"), "observations[0].fit", "must be true or false"),
    (lambda o: o.update(route="rectal"), "observations[0].route",
     "'rectal' is not one of 'iv-bolus', 'iv-infusion', 'im', 'intranasal', 'sublingual' or 'oral'"),
])
def test_an_observation_with_a_typo_is_refused_naming_the_field(change, field, problem):
    from kapclinic.clinical.pk import ModelDefinitionError
    from kapclinic.clinical.pk.observations import OBSERVATIONS_FILE, parse_observations

    raw = json.loads(OBSERVATIONS_FILE.read_text())
    change(raw["observations"][0])
    with pytest.raises(ModelDefinitionError) as caught:
        parse_observations(raw, "observations.json")
    assert str(caught.value) == f"observations.json: field '{field}': {problem}"
