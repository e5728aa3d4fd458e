"""The note templates as data: every default kind has labelled sections ending in free text, a
clinic's template that cannot be used names what to change, and the content seal is the same
for the same content whatever the key order."""

from __future__ import annotations

import pytest

from kapclinic.clinical import notes


def test_each_kind_of_note_has_the_sections_the_issue_names():
    templates = notes.default_templates()
    labels = {kind: [s.label for s in t.sections] for kind, t in templates.items()}
    assert labels["preparation"] == ["Intentions", "Concerns", "Set and setting", "Consent reviewed"]
    assert labels["dosing"][0] == "What the patient experienced"
    assert labels["integration"] == ["Themes", "Insights", "Commitments", "Plan"]
    assert templates["preparation"].sections[-1].type == "check"
    assert notes.free_text_section().label == "Free text"


@pytest.mark.parametrize("data, words", [
    ({"title": "", "sections": [{"label": "A"}]}, "title"),
    ({"title": "T", "sections": []}, "1 to 20 sections"),
    ({"title": "T", "sections": [{"label": "A"}, {"label": "A"}]}, "repeats"),
    ({"title": "T", "sections": [{"label": "A", "type": "video"}]}, "neither a text nor a tick box"),
    ({"title": "T", "sections": [{"label": "x" * 81}]}, "label of 1 to 80"),
    ({"title": "T", "sections": ["not a section"]}, "needs a label"),
])
def test_a_template_that_cannot_be_used_says_what_to_change(data, words):
    with pytest.raises(notes.TemplateError, match=words):
        notes.template_from("progress", data)


def test_the_content_seal_does_not_depend_on_key_order_and_changes_with_one_character():
    a = notes.content_hash({"text": "Grief", "author": 3})
    assert a == notes.content_hash({"author": 3, "text": "Grief"})
    assert a != notes.content_hash({"author": 3, "text": "grief"})
    assert len(a) == 64


def test_the_emergency_access_default_is_sixty_minutes_within_its_bounds():
    defaults = notes.emergency_access_defaults()
    low, high = defaults["minutes_bounds"]
    assert defaults["minutes"] == 60 and low <= 60 <= high and defaults["reasons"]
