"""Questionnaire wording comes verbatim from published artefacts (wording.py), re-derived from
byte-for-byte copies of them in fixtures/ (see fixtures/README.md)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from kapclinic.clinical.instruments.definitions import DEFINITIONS_DIR, load_all, parse_definition
from kapclinic.clinical.instruments.errors import FhirImportError
from kapclinic.clinical.instruments.fhir import import_fhir_questionnaire
from kapclinic.clinical.instruments.wording import SPECS, apply, check, main

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("instrument_id", sorted(SPECS))
def test_the_shipped_definition_holds_the_artefacts_wording_verbatim(instrument_id):
    assert check(load_all()[instrument_id], FIXTURES) == []


@pytest.mark.parametrize("instrument_id", sorted(SPECS))
def test_re_deriving_the_wording_from_the_artefacts_changes_nothing(instrument_id):
    shipped = json.loads((DEFINITIONS_DIR / f"{instrument_id}.json").read_text(encoding="utf-8"))
    assert apply(shipped, FIXTURES) == shipped


def test_an_item_retyped_by_hand_is_caught():
    d = load_all()["phq9"]
    items = list(d.items)
    items[1] = replace(items[1], text="Feeling down, depressed or hopeless")  # a comma lost
    problems = check(replace(d, items=tuple(items)), FIXTURES)
    assert len(problems) == 1 and "phq9 item 2" in problems[0]


def test_the_check_command_passes_on_the_shipped_definitions():
    assert main([str(FIXTURES)]) == 0


def test_phq2_and_gad2_are_the_first_two_items_of_phq9_and_gad7_with_their_answers():
    defs = load_all()
    for short, full in (("phq2", "phq9"), ("gad2", "gad7")):
        for n in ("1", "2"):
            a, b = defs[short].item(n), defs[full].item(n)
            assert (a.text, a.options) == (b.text, b.options)


def test_gad7_item_2_is_loincs_wording_with_its_own_third_answer_and_a_notice_saying_so():
    d = load_all()["gad7"]
    two = d.item("2")
    assert two.text == "Over the past 2 weeks have you not been able to stop or control worrying"
    third = two.option(2)
    assert (third.label, third.code.code) == ("More days than not", "LA18938-3")
    assert d.item("1").option(2).label == "More than half the days"
    assert "LOINC" in d.text_notice


def test_audit_c_takes_question_1_from_cdcs_audit_and_questions_2_3_from_us_core():
    d = load_all()["audit_c"]
    assert [i.text_source for i in d.items] == ["cdc_audit", "uscore_auditc", "uscore_auditc"]
    assert d.item("1").text == "How often do you have a drink containing alcohol?"
    assert d.item("3").option(4).code.code == "LA18934-2"
    assert d.total_range == (0, 12)


def test_the_audit_wording_is_not_shipped_and_its_form_says_why():
    d = load_all()["audit"]
    assert not any(i.text for i in d.items)
    assert "not shipped" in d.text_notice and "non-commercial" in d.text_notice


def test_each_wording_source_names_its_artefact_address_and_licence():
    for instrument_id in SPECS:
        for source in load_all()[instrument_id].wording_sources:
            assert source.url.startswith("http") and source.licence and source.identifier
            assert (FIXTURES / source.file).is_file()


def test_the_us_core_audit_c_example_is_refused_as_audit_c():
    q = json.loads((FIXTURES / "auditc-questionnaire-hl7uscore.json").read_text(encoding="utf-8"))
    with pytest.raises(FhirImportError) as refused:
        import_fhir_questionnaire(q, instrument_id="clinic_audit_c")
    assert "68518-0" in str(refused.value) and "AUDIT-C" in str(refused.value)


def test_an_imported_questionnaires_wording_names_the_questionnaire_it_came_from():
    q = json.loads((FIXTURES / "phq9-questionnaire-lhcforms.json").read_text(encoding="utf-8"))
    imported = import_fhir_questionnaire(q, instrument_id="clinic_phq9")
    d = parse_definition(imported.data, "clinic_phq9.json")
    assert d.item("/44250-9").text == "Little interest or pleasure in doing things?"
    assert d.wording_source(d.item("/44250-9").text_source).identifier == "Questionnaire 44249-1-x"
