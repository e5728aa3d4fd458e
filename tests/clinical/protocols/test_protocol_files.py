"""Protocols are data with a source: every shipped file loads, every number names where it
comes from, the numbers the reference leaves open are clinic settings with a labelled
default, a clinic adds its own from a folder, and a broken file is refused naming the field."""

import json
import re
import shutil
from pathlib import Path

import pytest

from kapclinic.clinical.protocols import (
    ProtocolFileError,
    ProtocolSettingError,
    UnknownProtocolError,
    load_protocol,
    load_protocols,
    resolve,
)
from kapclinic.clinical.protocols.definitions import DATA_DIR, params

BAD = Path(__file__).with_name("bad")
EXPECTED = json.loads((BAD / "expected.json").read_text())
REFERENCE = Path("/work/shared/reference")


def test_the_four_protocols_the_issue_names_are_shipped():
    protocols = load_protocols()
    rows = {p.id: (p.drug, p.route, p.dose_unit) for p in protocols.values()}
    assert rows == {
        "iv_racemic_ketamine": ("ketamine", "iv-infusion", "mg_per_kg"),
        "im_racemic_ketamine": ("ketamine", "im", "mg_per_kg"),
        "sublingual_racemic_ketamine": ("ketamine", "sublingual", "mg"),
        "intranasal_esketamine": ("esketamine", "intranasal", "mg"),
    }


def test_iv_ketamine_is_half_a_milligram_per_kilogram_over_forty_minutes():
    iv = resolve("iv_racemic_ketamine")
    assert iv.number(iv.model.dose.standard) == 0.5
    assert iv.infusion_minutes == 40
    assert iv.cap == 1.0  # the top of the range studied in trials (clinical.md 5)
    assert iv.model.dose.standard.evidence == "verified"


def test_esketamine_follows_the_label_schedule_and_observation():
    es = resolve("intranasal_esketamine")
    phases = [(p.name, p.from_week, p.to_week, es.number(p.sessions_per_week)) for p in es.model.schedule]
    assert phases == [("induction", 1, 4, 2), ("maintenance", 5, 8, 1), ("continuation", 9, None, 0.5)]
    assert es.dose_range == (28, 84) and es.cap == 84
    assert es.min_observation_minutes == 120
    assert es.observation_counted_from == "dose_start"  # the REMS form counts from the first device
    assert es.effects_to_resolve == ("sedation", "dissociation", "respiratory_depression")
    assert es.marks_minutes == (40,)
    assert es.discharge_criteria == "clinician_judgement"
    assert es.settings["continuation_sessions_per_week"].problem(1) is None  # or weekly


@pytest.mark.parametrize("path", sorted(DATA_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_every_number_names_a_section_of_the_reference_that_exists(path):
    protocol = load_protocol(path)
    sections = {"clinical.md": (REFERENCE / "clinical.md").read_text(),
                "sessions.md": (REFERENCE / "sessions.md").read_text()}
    for where, param in params(protocol.model):
        document = "sessions.md" if param.source.startswith("sessions.md") else "clinical.md"
        assert document in param.source, where
        section = re.match(r"\s*(\d+(?:\.\d+)?[a-z]?)", param.source.split(document, 1)[1]).group(1)
        assert f"## {section}. " in sections[document] or f"### {section} " in sections[document], \
            (where, param.source)
        assert "[policy]" not in param.says and ".md" not in param.says, where  # clinician words


@pytest.mark.parametrize("path", sorted(DATA_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_a_number_the_reference_does_not_give_is_a_clinic_setting_with_a_labelled_default(path):
    protocol = load_protocol(path)
    for where, param in params(protocol.model):
        if param.evidence in ("policy", "unverified"):
            assert param.setting is not None, where
            setting = protocol.settings[param.setting.name]
            assert setting.label and setting.default == param.value
            assert setting.problem(param.value) is None


def test_a_clinic_setting_changes_the_range_and_a_value_outside_its_bounds_is_refused():
    iv = resolve("iv_racemic_ketamine").configured({"dose_range_max": 0.75, "dose_cap": 0.8})
    assert iv.dose_range == (0.5, 0.75) and iv.cap == 0.8
    with pytest.raises(ProtocolSettingError, match="dose_cap") as caught:
        resolve("iv_racemic_ketamine").configured({"dose_cap": 1.5})
    assert "outside 0.1-1" in str(caught.value)
    with pytest.raises(ProtocolSettingError, match="above the hard cap"):
        resolve("iv_racemic_ketamine").configured({"dose_cap": 0.6})


def test_a_named_preset_sets_its_values():
    iv = resolve("iv_racemic_ketamine").configured(preset="kap_frequency")
    assert iv.number(iv.model.spacing.max_sessions_per_week) == 2
    with pytest.raises(ProtocolSettingError, match="preset"):
        resolve("iv_racemic_ketamine").configured(preset="weekends_only")


def test_an_unknown_protocol_is_refused_listing_the_known_ones():
    with pytest.raises(UnknownProtocolError, match="iv_racemic_ketamine"):
        resolve("iv_ketamine")


def test_a_clinic_adds_its_own_protocol_from_a_folder_without_touching_code(tmp_path, monkeypatch):
    data = json.loads((DATA_DIR / "intranasal_esketamine.json").read_text())
    data.update(id="esketamine_acute_suicidality", label="Esketamine 84 mg twice weekly (acute suicidality)")
    (tmp_path / "esketamine_acute_suicidality.json").write_text(json.dumps(data))
    from kapclinic.clinical.protocols import definitions

    monkeypatch.setenv("KAPCLINIC_PROTOCOLS_DIR", str(tmp_path))
    definitions.load_all.cache_clear()
    try:
        assert resolve("esketamine_acute_suicidality").drug == "esketamine"
    finally:
        definitions.load_all.cache_clear()


def test_a_clinic_file_reusing_a_shipped_id_is_refused_naming_both_files(tmp_path):
    shutil.copy(DATA_DIR / "iv_racemic_ketamine.json", tmp_path / "my_iv.json")
    with pytest.raises(ProtocolFileError, match="already defined by iv_racemic_ketamine.json"):
        load_protocols(tmp_path)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_file_of_the_bad_corpus_is_refused_naming_its_field(name):
    with pytest.raises(ProtocolFileError) as caught:
        load_protocol(BAD / name)
    assert caught.value.field == EXPECTED[name], str(caught.value)
    assert caught.value.filename == name


def test_the_bad_corpus_lists_every_file_in_it():
    assert sorted(EXPECTED) == sorted(p.name for p in BAD.glob("*.json") if p.name != "expected.json")
