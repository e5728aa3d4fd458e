"""The session state machine: every transition not in the table is refused, each allowed
one is taken when its guards are met, and each guard refuses with its own plain message."""

import itertools

import pytest

from kapclinic.clinical.protocols import resolve
from kapclinic.clinical.sessions import GUARDS, TRANSITIONS, State, check_transition, facts_for

IV = resolve("iv_racemic_ketamine")
ESKETAMINE = resolve("intranasal_esketamine")

ALLOWED = {
    ("scheduled", "checked_in"), ("scheduled", "cancelled"),
    ("checked_in", "cleared"), ("checked_in", "cancelled"),
    ("cleared", "dosing"), ("cleared", "cancelled"),
    ("dosing", "monitoring"), ("dosing", "stopped"),
    ("monitoring", "discharged"), ("monitoring", "stopped"),
}


def ready(protocol=IV, **changes):
    """Facts with every guard of every step met."""
    facts = dict(
        consent_current=True, eligibility_signed_for=frozenset({(protocol.drug, protocol.route)}),
        fasting_confirmed=True, ride_home_confirmed=True, pregnancy_test_applies=True,
        pregnancy_test_negative_today=True, weight_taken_today=True, predose_vitals_taken=True,
        predose_measures_done=True, intention_note_written=True,
        nasal_steroid_decongestant_timing_confirmed=True, dose_within_protocol=True,
        administration_recorded=True, minutes_observed=protocol.min_observation_minutes,
        effects_resolved=frozenset({"sedation", "dissociation", "respiratory_depression"}),
        discharge_score=9, clinician_judged_stable=True, reason="patient asked to stop")
    facts.update(changes)
    return facts_for(protocol, **facts)


def test_the_table_allows_exactly_the_designed_transitions():
    table = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == ALLOWED


@pytest.mark.parametrize("src, dst", [(a.value, b.value) for a, b in itertools.product(State, State)
                                      if (a.value, b.value) not in ALLOWED])
def test_every_transition_not_in_the_table_is_refused_even_with_every_guard_met(src, dst):
    unmet = check_transition(src, dst, ready())
    assert [u.guard for u in unmet] == ["allowed_transition"]
    assert "cannot become" in unmet[0].message


@pytest.mark.parametrize("src, dst", sorted(ALLOWED))
def test_every_allowed_transition_is_taken_when_its_guards_are_met(src, dst):
    assert check_transition(src, dst, ready()) == []


def test_an_ended_session_says_it_can_go_nowhere():
    (unmet,) = check_transition("discharged", "monitoring", ready())
    assert unmet.message == ("A session that is discharged cannot become under observation after "
                             "the dose; it can become: nowhere: it has ended.")


def test_a_dose_cannot_be_skipped_to():
    (unmet,) = check_transition("checked_in", "dosing", ready())
    assert "it can become: cleared to dose, cancelled" in unmet.message


def test_an_unknown_state_is_refused_naming_which_one():
    with pytest.raises(ValueError, match="to: 'dosed' is not a session state"):
        check_transition("cleared", "dosed", ready())


# each guard: the step, the fact that breaks it, the guard's name and words of its message
GUARD_CASES = [
    ("checked_in", "cleared", {"consent_current": False}, "consent_current", "no current consent"),
    ("checked_in", "cleared", {"eligibility_signed_for": frozenset({("ketamine", "im")})},
     "eligibility_signed", "no signed eligibility decision for ketamine by the intravenous route"),
    ("checked_in", "cleared", {"fasting_confirmed": False}, "fasting", "Fasting"),
    ("checked_in", "cleared", {"ride_home_confirmed": False}, "ride_home",
     "may not drive until the next day"),
    ("checked_in", "cleared", {"pregnancy_test_negative_today": False}, "pregnancy_test",
     "negative pregnancy test from today"),
    ("checked_in", "cleared", {"weight_taken_today": False}, "weight_today", "Today's weight"),
    ("checked_in", "cleared", {"predose_vitals_taken": False}, "predose_vitals", "not recorded"),
    ("checked_in", "cleared", {"predose_hold_alerts": ("Blood pressure before dosing is too high to start",)},
     "predose_vitals", "outside the protocol's limits to start: Blood pressure"),
    ("checked_in", "cleared", {"predose_review_alerts_undecided": ("BP above the label figure",)},
     "predose_vitals", "prescriber has not yet decided"),
    ("checked_in", "cleared", {"predose_measures_done": False}, "predose_measures", "measures due"),
    ("checked_in", "cleared", {"intention_note_written": False}, "intention_note", "note of intention"),
    ("cleared", "dosing", {"dose_within_protocol": None}, "dose_within_protocol_or_confirmed",
     "No dose has been calculated"),
    ("cleared", "dosing", {"dose_within_protocol": False}, "dose_within_protocol_or_confirmed",
     "needs a written reason and a second clinician's confirmation"),
    ("cleared", "dosing", {"dose_within_protocol": False, "dose_override_reason": "no response at 1 mg/kg"},
     "dose_within_protocol_or_confirmed", "needs a second clinician's confirmation"),
    ("cleared", "dosing", {"consent_current": False}, "consent_current", "consent"),
    ("dosing", "monitoring", {"administration_recorded": False}, "administration_recorded", "not recorded"),
    ("monitoring", "discharged", {"minutes_observed": 119}, "minimum_observation",
     "minimum observation is 120 minutes (119 minutes so far)"),
    ("monitoring", "discharged", {"minutes_observed": None}, "minimum_observation", "not started"),
    ("monitoring", "discharged", {"minutes_observed": 95.6722}, "minimum_observation",
     "(95 minutes so far)"),  # whole minutes, never rounded up
    ("monitoring", "discharged", {"effects_resolved": frozenset({"sedation"})}, "effects_resolved",
     "Not yet resolved: dissociation, respiratory depression"),
    ("monitoring", "discharged", {"discharge_score": 8}, "discharge_criteria",
     "modified Aldrete score is 8; discharge needs 9 or more"),
    ("monitoring", "discharged", {"discharge_score": None}, "discharge_criteria", "not recorded"),
    ("monitoring", "discharged", {"clinician_judged_stable": False}, "discharge_criteria",
     "clinically stable"),
    ("monitoring", "discharged", {"latest_reading_alerts": ("SpO2 low (SpO2 86%)",)},
     "latest_reading_within_thresholds",
     "outside the protocol's thresholds: SpO2 low (SpO2 86%). Record a reading within the "
     "thresholds before discharge"),
    ("monitoring", "discharged", {"open_alerts": ("Oxygen saturation low",)}, "alerts_acknowledged",
     "Open alerts must be acknowledged first: Oxygen saturation low"),
    ("scheduled", "checked_in", {"booked_on": "2026-12-08", "step_on": "2026-12-07", "reason": ""},
     "booked_for_this_day", "booked for Tue 8 Dec 2026, not Mon 7 Dec 2026"),
    ("dosing", "monitoring", {"devices_expected": 2, "devices_given": 1}, "every_device_given",
     "1 of the dose's 2 devices are recorded: record device 2 before observation starts"),
    ("scheduled", "cancelled", {"reason": "  "}, "reason_written", "Write the reason"),
    ("dosing", "stopped", {"reason": ""}, "reason_written", "Write the reason"),
]


@pytest.mark.parametrize("src, dst, change, guard, words", GUARD_CASES,
                         ids=[f"{c[3]}:{i}" for i, c in enumerate(GUARD_CASES)])
def test_each_guard_refuses_with_its_own_plain_message(src, dst, change, guard, words):
    unmet = check_transition(src, dst, ready(**change))
    assert [u.guard for u in unmet] == [guard]
    assert words in unmet[0].message


def test_every_guard_in_the_table_has_a_refusal_test():
    assert set(GUARDS) - {"nasal_steroid_decongestant_timing"} == {c[3] for c in GUARD_CASES}


def test_a_dose_outside_the_protocol_goes_ahead_with_a_reason_and_a_second_clinician():
    facts = ready(dose_within_protocol=False, dose_override_reason="partial response at 1 mg/kg",
                  second_clinician_confirmed=True)
    assert check_transition("cleared", "dosing", facts) == []


def test_every_unmet_guard_is_named_at_once():
    facts = ready(consent_current=False, fasting_confirmed=False, intention_note_written=False)
    assert [u.guard for u in check_transition("checked_in", "cleared", facts)] == \
        ["consent_current", "fasting", "intention_note"]


def test_a_pregnancy_test_is_asked_for_only_where_it_applies():
    facts = ready(pregnancy_test_applies=False, pregnancy_test_negative_today=False)
    assert check_transition("checked_in", "cleared", facts) == []


def test_a_dose_in_mg_does_not_ask_for_todays_weight():
    facts = ready(ESKETAMINE, weight_taken_today=False)
    assert check_transition("checked_in", "cleared", facts) == []


def test_esketamine_asks_about_nasal_steroids_or_decongestants():
    facts = ready(ESKETAMINE, nasal_steroid_decongestant_timing_confirmed=False)
    (unmet,) = check_transition("checked_in", "cleared", facts)
    assert unmet.guard == "nasal_steroid_decongestant_timing" and "at least 1 hour before" in unmet.message


def test_esketamine_discharge_needs_two_hours_effects_resolved_and_a_clinicians_judgement():
    base = ready(ESKETAMINE, discharge_score=None)
    assert check_transition("monitoring", "discharged", base) == []  # no score: clinician judgement
    late = base.with_(minutes_observed=119.5, effects_resolved=frozenset({"sedation", "dissociation"}),
                      clinician_judged_stable=False)
    assert [u.guard for u in check_transition("monitoring", "discharged", late)] == \
        ["minimum_observation", "effects_resolved", "discharge_criteria"]
    assert "Not yet resolved: respiratory depression" in check_transition(
        "monitoring", "discharged", late)[1].message


def test_a_discharge_score_below_the_threshold_refuses_even_where_the_criterion_is_judgement():
    judged = ready(ESKETAMINE, discharge_score=8, clinician_judged_stable=True)
    (unmet,) = check_transition("monitoring", "discharged", judged)
    assert unmet.guard == "discharge_criteria"
    assert "discharge score recorded is 8" in unmet.message and "9 or more" in unmet.message
    assert check_transition("monitoring", "discharged", judged.with_(discharge_score=9)) == []
