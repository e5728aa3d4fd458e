"""FHIR R4 Questionnaire export of every definition; import of ordinal-valued questionnaires."""

import copy
import json
from pathlib import Path

import pytest

from kapclinic.clinical.instruments import (
    FhirImportError,
    get_instrument,
    import_fhir_questionnaire,
    score,
    score_definition,
    to_fhir_questionnaire,
)
from kapclinic.clinical.instruments.definitions import DEFINITIONS_DIR, load_all

# NLM's questionnaire, vendored with its provenance (fixtures/README.md).
NLM_PHQ9 = Path(__file__).with_name("fixtures") / "phq9-questionnaire-lhcforms.json"
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"


@pytest.fixture
def nlm_phq9():
    return json.loads(NLM_PHQ9.read_text())


def _ordinals(item):
    return [e["valueDecimal"] for o in item["answerOption"] for e in o.get("extension", [])
            if e["url"] == ORDINAL]


@pytest.mark.parametrize("instrument_id", sorted(p.stem for p in DEFINITIONS_DIR.glob("*.json")))
def test_it_exports_every_definition_as_an_r4_questionnaire(instrument_id):
    d = get_instrument(instrument_id)
    q = to_fhir_questionnaire(d)
    json.dumps(q)
    assert q["resourceType"] == "Questionnaire" and q["status"] == "active"
    assert [i["linkId"] for i in q["item"]] == list(d.item_ids)
    assert q["copyright"] == d.licence.note
    for item in q["item"]:
        assert item["type"] == "choice" and item["answerOption"] and item["text"]
        for option in item["answerOption"]:
            assert set(option) <= {"valueCoding", "extension"} and option["valueCoding"]["code"]


def test_it_exports_phq9_with_loinc_codes_and_ordinal_values_like_the_nlm_questionnaire():
    q = to_fhir_questionnaire(get_instrument("phq9"))
    assert q["code"] == [{"system": "http://loinc.org", "code": "44249-1",
                          "display": "PHQ-9 quick depression assessment panel"}]
    first = q["item"][0]
    assert first["code"][0]["code"] == "44250-9"
    assert _ordinals(first) == [0, 1, 2, 3]
    assert first["answerOption"][0]["valueCoding"] == {"system": "http://loinc.org", "code": "LA6568-5",
                                                      "display": "Not at all"}
    assert "required" not in q["item"][9]  # item 10 is not scored


def test_it_exports_madrs_without_item_wording_and_says_why():
    q = to_fhir_questionnaire(get_instrument("madrs"))
    assert q["item"][9]["text"] == "Item 10 (suicidal thoughts)"
    assert "Royal College of Psychiatrists" in q["description"]


def test_it_exports_cssrs_skip_rules_as_enable_when_and_no_ordinals_on_yes_no():
    q = to_fhir_questionnaire(get_instrument("cssrs_screener"))
    by_id = {i["linkId"]: i for i in q["item"]}
    assert by_id["4"]["enableWhen"] == [{"question": "2", "operator": "=", "answerCoding": {
        "system": "http://loinc.org", "code": "LA33-6", "display": "Yes"}}]
    assert all(_ordinals(i) == [] for i in q["item"])


def test_it_leaves_the_bprs_not_rated_option_out_of_the_export():
    q = to_fhir_questionnaire(get_instrument("bprs_pos4"))
    assert _ordinals(q["item"][0]) == [1, 2, 3, 4, 5, 6, 7]


def test_it_imports_the_nlm_phq9_questionnaire_as_a_sum_scored_instrument(nlm_phq9):
    imported = import_fhir_questionnaire(nlm_phq9, instrument_id="phq9_nlm")
    d = imported.definition
    assert d.scoring.kind == "sum" and d.total_range == (0, 27)
    assert imported.skipped == ("/44261-6 (decimal, calculated)",)
    assert [i.scored for i in d.items] == [True] * 9 + [False]
    assert d.items[8].text == "Thoughts that you would be better off dead, or of hurting yourself in some way"
    assert d.code is not None and d.code.code == "44249-1"
    answers = {i.link_id: 2 for i in d.items if i.scored}
    assert score_definition(d, answers).total == 18
    assert d.severity is None and d.alerts == ()  # no cut-offs invented on import


def test_it_agrees_with_the_nlm_phq9_on_every_item_and_answer_code(nlm_phq9):
    # our phq9 codes come from clinical.md 1.2; NLM's questionnaire is an independent source
    nlm = import_fhir_questionnaire(nlm_phq9, instrument_id="phq9_nlm").definition
    ours = get_instrument("phq9")
    assert [i.code.code for i in nlm.items] == [i.code.code for i in ours.items]
    for theirs, mine in zip(nlm.items[:9], ours.items[:9], strict=True):
        assert [(o.value, o.code.code, o.label) for o in theirs.options] == \
            [(o.value, o.code.code, o.label) for o in mine.options]


def test_it_imports_the_nlm_phq9_and_scores_it_like_the_shipped_phq9(nlm_phq9):
    nlm = import_fhir_questionnaire(nlm_phq9, instrument_id="phq9_nlm").definition
    values = [3, 2, 1, 0, 3, 2, 1, 0, 1]
    ours = score("phq9", {str(i + 1): v for i, v in enumerate(values)})
    theirs = score_definition(nlm, {i.link_id: v for i, v in zip(nlm.items, values, strict=False)})
    assert theirs.total == ours.total == 13


def test_it_imports_without_wording_when_asked(nlm_phq9):
    d = import_fhir_questionnaire(nlm_phq9, instrument_id="phq9_codes", include_text=False).definition
    assert not d.item_text_included and d.licence.text_may_be_shipped == "unknown"
    assert all(o.label is None for i in d.items for o in i.options)


def test_it_writes_an_importable_definition_file_a_clinic_can_drop_in(nlm_phq9, tmp_path):
    from kapclinic.clinical.instruments import load_definitions

    imported = import_fhir_questionnaire(nlm_phq9, instrument_id="phq9_nlm")
    (tmp_path / "phq9_nlm.json").write_text(json.dumps(imported.data))
    assert "phq9_nlm" in load_definitions(tmp_path)


def test_it_accepts_the_r5_item_weight_extension(nlm_phq9):
    q = copy.deepcopy(nlm_phq9)
    for item in q["item"]:
        for option in item.get("answerOption", []):
            for ext in option.get("extension", []):
                if ext["url"] == ORDINAL:
                    ext["url"] = "http://hl7.org/fhir/StructureDefinition/itemWeight"
    assert import_fhir_questionnaire(q, instrument_id="x").definition.total_range == (0, 27)


@pytest.mark.parametrize("instrument_id", sorted(k for k, d in load_all().items()
                                                 if d.scoring.kind == "sum"
                                                 and not any(o.counts_as_missing for i in d.items
                                                             for o in i.options)))
def test_it_round_trips_every_sum_scored_definition_through_fhir(instrument_id):
    d = get_instrument(instrument_id)
    back = import_fhir_questionnaire(to_fhir_questionnaire(d), instrument_id="round_trip").definition
    assert back.total_range == d.total_range
    assert [i.link_id for i in back.items] == list(d.item_ids)
    assert [i.values for i in back.items if i.scored] == [i.values for i in d.items if i.scored]


def test_it_refuses_a_questionnaire_with_nothing_to_sum():
    q = to_fhir_questionnaire(get_instrument("cssrs_screener"))
    with pytest.raises(FhirImportError, match="no choice item carries ordinal values"):
        import_fhir_questionnaire(q, instrument_id="cssrs_copy")


def test_it_refuses_an_item_with_ordinals_on_only_some_options(nlm_phq9):
    q = copy.deepcopy(nlm_phq9)
    del q["item"][2]["answerOption"][1]["extension"]
    with pytest.raises(FhirImportError, match="item /44259-0: some answer options"):
        import_fhir_questionnaire(q, instrument_id="x")


def test_it_refuses_a_fractional_ordinal_naming_the_item(nlm_phq9):
    q = copy.deepcopy(nlm_phq9)
    q["item"][0]["answerOption"][1]["extension"][1]["valueDecimal"] = 0.5
    with pytest.raises(FhirImportError, match="item /44250-9: ordinal value 0.5"):
        import_fhir_questionnaire(q, instrument_id="x")


def test_it_refuses_something_that_is_not_a_questionnaire():
    with pytest.raises(FhirImportError, match="resourceType"):
        import_fhir_questionnaire({"resourceType": "Patient"}, instrument_id="x")


@pytest.mark.parametrize("instrument_id", sorted(p.stem for p in DEFINITIONS_DIR.glob("*.json")))
def test_every_export_validates_as_a_fhir_questionnaire_resource(instrument_id):
    # fhir.resources ships R4B (and R5); Questionnaire is structurally unchanged from R4 in R4B
    from fhir.resources.R4B import questionnaire  # a pinned test dependency: never skipped
    exported = to_fhir_questionnaire(get_instrument(instrument_id))
    parsed = questionnaire.Questionnaire.model_validate(exported)
    assert len(parsed.item) == len(exported["item"])
