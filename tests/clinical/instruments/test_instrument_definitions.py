"""Definition files: every shipped one loads; every broken one is refused naming the field."""

import json
import shutil
from pathlib import Path

import pytest

from kapclinic.clinical.instruments import DefinitionError, list_instruments, load_definitions, score
from kapclinic.clinical.instruments.definitions import (
    DEFINITIONS_DIR,
    load_all,
    load_definition,
    loinc_check_digit,
)

BAD = sorted((Path(__file__).parent / "bad").glob("*.json"))
SHIPPED = sorted(DEFINITIONS_DIR.glob("*.json"))
ISSUE_3_IDS = {"phq9", "phq2", "gad7", "gad2", "pcl5", "qids_sr16", "madrs", "cssrs_screener",
               "cadss", "cadss6", "moaas", "bprs_pos4", "audit", "audit_c", "pain_nrs"}

# bad file -> the field its refusal must name
EXPECTED_FIELD = {
    "alert_bad_op": "alerts[0].when.op",
    "alert_unknown_item": "alerts[0].when.item",
    "alert_threshold_not_finite": "alerts[0].when.value",
    "alert_unknown_setting": "alerts[0].when.value.setting",
    "alert_unknown_priority": "alerts[0].priority",
    "finding_with_priority": "findings[0].priority",
    "triage_code_on_a_sum": "triage_code",
    "sum_of_rated_without_not_rated_option": "scoring.missing.rule",
    "prorate_rounding_unknown": "scoring.missing.prorate.rounding.default",
    "answer_label_without_licence": "answer_sets.zero_to_six[0].label",
    "bad_evidence_tag": "code.evidence",
    "bad_id_characters": "id",
    "bad_licence_value": "licence.text_may_be_shipped",
    "bad_loinc_check_digit": "items[0].code.code",
    "count_without_list": "findings[0].when.all[0].count",
    "duplicate_answer_value": "answer_sets.frequency[1].value",
    "duplicate_link_id": "items[1].link_id",
    "enable_when_later_item": "items[2].enable_when[0].item",
    "group_unknown_item": "scoring.groups[0].items",
    "id_not_file_name": "id",
    "item_in_two_groups": "scoring.groups[1].items",
    "item_text_without_licence": "items[0].text",
    "item_text_without_source": "items[0].text_source",
    "text_source_unknown": "items[1].text_source",
    "missing_citation": "citation",
    "missing_licence": "licence",
    "missing_missing_rule": "scoring.missing",
    "missing_text_notice": "text_notice",
    "not_json": "(file)",
    "prorate_too_generous": "scoring.missing.prorate.max_missing",
    "remission_unknown_setting": "remission.value.setting",
    "response_percent_above_100": "change_rules[0].at_least",
    "setting_default_not_allowed": "settings.suicide_item_threshold.default",
    "severity_gap": "severity.bands[2].min",
    "severity_overlap": "severity.bands[1].min",
    "severity_short_of_max": "severity.bands[4].max",
    "single_with_two_scored_items": "items",
    "skip_of_always_required_item": "scoring.missing.skip_rules[0].may_skip",
    "string_answer_value": "answer_sets.frequency[0].value",
    "subscales_do_not_partition": "subscales_partition_total",
    "top_level_list": "(top level)",
    "total_range_mismatch": "total_range",
    "triage_without_otherwise": "triage[2].otherwise",
    "ungrouped_item": "scoring.groups",
    "unknown_answer_set": "items[0].answers",
    "unknown_change_kind": "change_rules[0].kind",
    "unknown_context": "findings[0].when.context",
    "unknown_rater": "rater",
    "unknown_scoring_kind": "scoring.kind",
    "unused_setting": "settings.spare",
    "wrong_schema_version": "schema_version",
}


def test_it_ships_exactly_the_instruments_issue_3_names():
    assert {row["id"] for row in list_instruments()} == ISSUE_3_IDS
    assert {p.stem for p in SHIPPED} == ISSUE_3_IDS


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_it_loads_every_shipped_definition_with_its_citation_licence_and_sources(path):
    d = load_definition(path)
    assert d.citation and d.licence.note and d.licence.source and d.reference
    assert "clinical.md" in d.reference
    assert d.scoring.source and d.scoring.missing.note
    for code in [d.code, d.total_code, *(i.code for i in d.items)]:
        assert code is None or (code.source and code.evidence)
    for rule in (*d.alerts, *d.findings):
        assert rule.source and rule.evidence
    for setting in d.settings.values():
        assert setting.evidence == "policy" and setting.default in setting.allowed


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_it_refuses_every_broken_definition_naming_the_file_and_the_field(path):
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    assert caught.value.field == EXPECTED_FIELD[path.stem]
    assert path.name in str(caught.value) and EXPECTED_FIELD[path.stem] in str(caught.value)


def test_it_has_a_case_in_the_bad_corpus_for_every_expectation():
    assert {p.stem for p in BAD} == set(EXPECTED_FIELD)


def test_only_instruments_with_a_published_artefact_ship_wording_and_each_item_names_it():
    # wording is copied from a published artefact (wording.SPECS), never typed from memory
    from kapclinic.clinical.instruments.wording import SPECS

    for d in load_all().values():
        worded = [i.link_id for i in d.items if i.text]
        if d.id not in SPECS:
            assert worded == [], d.id
            assert d.text_notice, d.id  # the page says why the items are numbered
            continue
        assert d.item_text_included, d.id
        assert all(d.wording_source(i.text_source) for i in d.items), d.id


def test_it_says_madrs_wording_is_copyrighted_and_not_shipped():
    # clinical.md 1.1 madrs: "No - (c) Royal College of Psychiatrists"
    madrs = load_all()["madrs"]
    assert madrs.licence.text_may_be_shipped == "no"
    assert "copyright" in madrs.text_notice.lower()
    assert all(o.label is None for i in madrs.items for o in i.options)
    assert [o.value for o in madrs.items[0].options if o.anchor] == [0, 2, 4, 6]


@pytest.mark.parametrize("code", ["44249-1", "44261-6", "44250-9", "44260-8", "69722-7", "55757-9",
                                  "55758-7", "69737-5", "70274-6", "101697-1", "101698-9",
                                  "93373-9", "93269-9", "93374-7", "75624-7", "72109-2", "75626-2",
                                  "72514-3", "85353-1", "8867-4", "59408-5"])
def test_it_accepts_the_check_digit_of_every_loinc_code_in_clinical_md(code):
    # clinical.md 1.1, 1.2 and 6.3 codes all pass LOINC's mod-10 check
    number, check = code.split("-")
    assert loinc_check_digit(number) == int(check)


def test_a_clinic_adds_an_instrument_by_dropping_a_file_into_its_own_folder(tmp_path):
    clinic_file = json.loads((DEFINITIONS_DIR / "gad2.json").read_text())
    clinic_file["id"] = "clinic_gad2_copy"
    (tmp_path / "clinic_gad2_copy.json").write_text(json.dumps(clinic_file))
    definitions = load_definitions(tmp_path)
    assert set(definitions) == ISSUE_3_IDS | {"clinic_gad2_copy"}
    result = score("clinic_gad2_copy", {"1": 2, "2": 1}, definitions=definitions)
    assert result.total == 3 and result.findings["positive_screen"] is True


def test_a_clinic_file_may_not_silently_replace_a_shipped_definition(tmp_path):
    shutil.copy(DEFINITIONS_DIR / "phq9.json", tmp_path / "phq9.json")
    with pytest.raises(DefinitionError, match="already defined by phq9.json"):
        load_definitions(tmp_path)


def test_a_broken_clinic_file_is_refused_at_load(tmp_path):
    shutil.copy(Path(__file__).parent / "bad" / "severity_gap.json", tmp_path)
    with pytest.raises(DefinitionError) as caught:
        load_definitions(tmp_path)
    assert caught.value.field == "severity.bands[2].min"


def test_it_refuses_a_clinic_folder_that_does_not_exist(tmp_path):
    with pytest.raises(DefinitionError, match="does not exist"):
        load_definitions(tmp_path / "nope")


def test_no_questionnaire_notice_shown_to_patients_or_clinicians_cites_the_developer_reference():
    # the notices appear on the entry and self-report pages: sources as a clinician reads them
    for d in load_all().values():
        notice = d.text_notice or ""
        for jargon in ("clinical.md", "[policy]", "[unverified]", "the reference"):
            assert jargon not in notice, (d.id, jargon)
