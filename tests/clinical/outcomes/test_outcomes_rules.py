"""outcomes.json: the SUSTAIN-1 relapse and stable-remission rows of clinical.md 2 as data, and
the settings the reference leaves open, each labelled with a default and its clinical.md source."""

import copy
import json

import pytest

from kapclinic.clinical.outcomes import OutcomeRulesError, OutcomeSettingError, OutcomeSettings, load_rules
from kapclinic.clinical.outcomes.rules import RULES_FILE, parse_rules

RAW = json.loads(RULES_FILE.read_text(encoding="utf-8"))


def test_the_shipped_rules_load_and_every_setting_names_clinical_md_and_is_policy():
    rules = load_rules()
    assert rules.rules_version == "outcomes@1"
    for spec in rules.settings.values():
        assert spec.evidence == "policy" and "clinical.md" in spec.source and spec.label
        assert spec.to_dict()["default"] == spec.default


def test_the_madrs_relapse_rule_is_exactly_the_sustain1_row_of_clinical_md_2():
    rule = load_rules().relapse_rules["madrs"]
    assert (rule.op, rule.threshold, rule.consecutive) == (">=", 22, 2)
    assert (rule.min_spacing_days, rule.max_spacing_days) == (5, 15)
    assert set(rule.event_kinds) == {"hospitalisation_worsening_depression", "suicide_attempt",
                                     "completed_suicide", "hospitalisation_suicide_prevention",
                                     "other_clinically_relevant_event"}
    assert rule.evidence == "verified" and "NCT02493868" in rule.source
    assert set(load_rules().relapse_rules) == {"madrs"}  # the only relapse definition in clinical.md 2


def test_defaults_are_the_labelled_values():
    s = OutcomeSettings()
    assert (s.baseline_anchor, s.baseline_window_days, s.baseline_fallback, s.relapse_after,
            s.relapse_date, s.fading_fraction) == ("episode", 14, "first_after_start",
                                                   "response_or_remission", "first_of_run", 0.5)


@pytest.mark.parametrize("name, value", [("baseline_anchor", "patient"), ("relapse_after", "booster"),
                                         ("fading_fraction", 0.0), ("baseline_window_days", "14"),
                                         ("relapse_date", None)])
def test_a_setting_outside_its_allowed_values_is_refused_naming_it(name, value):
    with pytest.raises(OutcomeSettingError, match=name):
        OutcomeSettings(**{name: value})


def _broken(path: str, value: object) -> dict:
    data = copy.deepcopy(RAW)
    *parents, last = path.split(".")
    target = data
    for p in parents:
        target = target[p]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return data


@pytest.mark.parametrize("path, value, field", [
    ("schema_version", 2, "schema_version"),
    ("settings.fading_fraction.default", 3, "settings.fading_fraction.default"),
    ("settings.baseline_anchor.default", "patient", "settings.baseline_anchor.default"),
    ("settings.relapse_date", KeyError, "settings"),
    ("settings.baseline_window_days.evidence", "folklore", "settings.baseline_window_days.evidence"),
    ("relapse_rules.madrs.score.op", "<", "relapse_rules.madrs.score.op"),
    ("relapse_rules.madrs.score.value", "22", "relapse_rules.madrs.score.value"),
    ("relapse_rules.madrs.score.spacing_days", [15, 5], "relapse_rules.madrs.score.spacing_days"),
    ("relapse_rules.madrs.score.consecutive", 0, "relapse_rules.madrs.score.consecutive"),
    ("relapse_rules.madrs.source", "", "relapse_rules.madrs.source"),
    ("relapse_rules.madrs.events", "suicide_attempt", "relapse_rules.madrs.events"),
    ("stable_remission.madrs.tolerated_weeks", [17], "stable_remission.madrs.tolerated_weeks"),
])
def test_a_malformed_rules_file_is_refused_naming_the_field(path, value, field):
    with pytest.raises(OutcomeRulesError, match=f"outcomes.json: field '{field}'"):
        parse_rules(_broken(path, value))
