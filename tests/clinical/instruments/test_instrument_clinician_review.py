"""A clinician's review of the questionnaires, as the scorer and ``kapclinic score`` meet it:
a C-SSRS level that cannot be settled still says the level it is at least and what to ask;
answers to C-SSRS questions that were not asked (skip rules, clinical.md 1.1) are refused;
a BPRS+ total with an item not rated is marked partial; an empty answer field is refused."""

import argparse
import io

import pytest

from kapclinic.clinical.instruments import AnswerError, score
from kapclinic.clinical.instruments.cli import add_score_arguments, run_score


def _score(*argv):
    parser = argparse.ArgumentParser(prog="kapclinic score")
    add_score_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run_score(parser.parse_args(list(argv)), out, err)
    return code, out.getvalue(), err.getvalue()


# ---- C-SSRS: the level it is at least, and the question that settles it ------------------

def test_a_cssrs_behaviour_yes_without_its_timing_is_at_least_moderate_and_says_what_to_ask():
    result = score("cssrs_screener", {"1": 0, "2": 0, "6": 1, "6b": None})
    assert result.severity is None  # the level itself stays withheld
    assert result.undetermined_flags == ("suicide_risk_high", "suicide_risk_moderate")
    floor = result.triage_floor
    assert floor["code"] == "moderate" and floor["not_ruled_out"] == ["high"]
    assert floor["ask"] == ["6b"]
    assert floor["summary"] == ("At least Moderate risk; High risk not ruled out: ask question "
                                "6b (Was this within the past 3 months?)")
    assert result.to_dict()["triage_floor"]["summary"] == floor["summary"]


def test_a_settled_cssrs_level_has_no_floor_to_show():
    assert score("cssrs_screener", {"1": 0, "2": 0, "6": 1, "6b": 0}).triage_floor is None


def test_a_cssrs_with_item_2_missing_is_not_determined_and_asks_question_2():
    floor = score("cssrs_screener", {"1": 1, "2": None, "6": 0}).triage_floor
    assert floor["code"] == "low" and set(floor["not_ruled_out"]) == {"high", "moderate"}
    assert floor["ask"][0] == "2"


def test_kapclinic_score_prints_the_cssrs_floor_and_the_open_question():
    code, out, _ = _score("cssrs_screener", "--answers", "0,0,-,-,-,1,-")
    assert code == 0
    assert ("triage level withheld - At least Moderate risk; High risk not ruled out: ask "
            "question 6b (Was this within the past 3 months?)") in out


# ---- C-SSRS: answers to questions that were not asked -----------------------------------

@pytest.mark.parametrize(("answers", "item", "words"), [
    ({"1": 0, "2": 0, "3": 0, "4": 0, "5": 1, "6": 0}, "3", "question 2 is answered No"),
    ({"1": 0, "2": 0, "6": 0, "6b": 1}, "6b", "question 6 is answered No"),
    ({"1": 0, "2": 0, "3": 0, "4": 0, "5": 1, "6": 0, "6b": 1}, "3", "question 2"),
])
def test_an_answer_to_a_cssrs_question_that_was_not_asked_is_refused_not_scored(
        answers, item, words):
    with pytest.raises(AnswerError) as refused:
        score("cssrs_screener", answers)
    assert refused.value.item == item and words in refused.value.problem
    assert "correct" in refused.value.problem.lower()


def test_a_cssrs_yes_to_item_5_with_item_2_missing_still_counts_as_high():
    # an unknown gate is not an inconsistency: the Yes is never hidden
    result = score("cssrs_screener", {"1": 0, "2": None, "5": 1, "6": 0})
    assert result.flags == ("suicide_risk_high",)


@pytest.mark.parametrize("answers", ["0,0,0,0,1,0,-", "0,0,-,-,-,0,1"])
def test_kapclinic_score_refuses_a_cssrs_answer_to_a_question_not_asked(answers):
    code, out, err = _score("cssrs_screener", "--answers", answers)
    assert code == 2 and out == "" and "not asked" in err and err.count("\n") == 1


# ---- BPRS+: a total with an item not rated is partial ------------------------------------

def test_a_bprs_total_with_an_item_not_rated_is_marked_partial_and_a_full_one_is_not():
    partial = score("bprs_pos4", {"conceptual_disorganisation": 4, "hallucinatory_behaviour": 0,
                                  "suspiciousness": 0, "unusual_thought_content": 0})
    full = score("bprs_pos4", dict.fromkeys(
        ("conceptual_disorganisation", "hallucinatory_behaviour", "suspiciousness",
         "unusual_thought_content"), 1))
    assert partial.total == full.total == 4
    assert partial.partial and not full.partial
    assert partial.to_dict()["partial"] is True and full.to_dict()["partial"] is False
    assert full.total_range == (4, 28)


def test_kapclinic_score_marks_a_partial_bprs_total_and_names_items_in_words():
    _, out, _ = _score("bprs_pos4", "--answers", "0,1,1,1")
    assert "total 3 PARTIAL (sum of 3 rated items, range 3-21; not rated: Conceptual " \
           "disorganisation)" in out
    assert "conceptual_disorganisation" not in out
    _, out, _ = _score("bprs_pos4", "--answers", "1,1,1,1")
    assert "total 4 (range 4-28)" in out and "PARTIAL" not in out


# ---- kapclinic score: an empty field is a typo, not a missing answer --------------------

@pytest.mark.parametrize(("answers", "position"), [
    ("1,,0,0,0,0,0,0,0,0", 2), (",0,0,0,0,0,0,0,0", 1), ("0,0,0,0,0,0,0,0, ", 9)])
def test_kapclinic_score_refuses_an_empty_answer_field_naming_its_position(answers, position):
    code, out, err = _score("phq9", "--answers", answers, "--prorate")
    assert code == 2 and out == ""
    assert f"position {position}" in err and "'-'" in err and err.count("\n") == 1


def test_a_dash_still_says_an_answer_is_missing():
    code, out, _ = _score("phq9", "--answers", "1,-,0,0,0,0,0,0,0", "--prorate")
    assert code == 0 and "PRORATED" in out
