"""The dosing session as a state machine: states, allowed transitions and their guards.

Pure: ``check_transition(from, to, facts)`` returns the unmet guards (empty when the step
may be taken), each with a plain message; the app stores the facts and applies the step
with one compare-and-set. Guards are named predicates over ``SessionFacts``, a plain
record of what has been done (consent, eligibility, checklist, dose, observation...), with
the protocol's requirements copied in by ``facts_for(protocol, ...)``.

Facts and their sources: consent and a signed eligibility for the drug and route (the
screening issue); the checklist (clinical.md 3.4 pre-dose instructions and driving; 3.5
pregnancy; 5 weight with its date; 4.2 pre-dose holds); the dose within the protocol or a
written reason and a second clinician (clinical.md 5 encoding guidance); discharge after
the protocol's minimum observation, the effects it names resolved (sessions.md 1 REMS
goal) and its discharge criteria (clinical.md 4.3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kapclinic.clinical.protocols import Protocol


class State(StrEnum):
    SCHEDULED = "scheduled"
    CHECKED_IN = "checked_in"
    CLEARED = "cleared"  # the pre-dose checklist passed
    DOSING = "dosing"
    MONITORING = "monitoring"
    DISCHARGED = "discharged"
    CANCELLED = "cancelled"  # no dose given
    STOPPED = "stopped"  # ended early after dosing began, with a reason


STATE_WORDS = {
    State.SCHEDULED: "scheduled", State.CHECKED_IN: "checked in", State.CLEARED: "cleared to dose",
    State.DOSING: "being dosed", State.MONITORING: "under observation after the dose",
    State.DISCHARGED: "discharged", State.CANCELLED: "cancelled", State.STOPPED: "stopped early",
}
EFFECT_WORDS = {"sedation": "sedation", "dissociation": "dissociation",
                "respiratory_depression": "respiratory depression"}
CRITERIA_WORDS = {"modified_aldrete": "modified Aldrete score", "padss": "PADSS score"}
# Both discharge scores are 5 domains scored 0-2, so a total is 0 to 10 (clinical.md 4.3,
# Modified Aldrete and PADSS rows).
DISCHARGE_SCORE_RANGE = (0, 10)
ROUTE_WORDS = {"iv-infusion": "intravenous", "im": "intramuscular", "intranasal": "intranasal",
               "sublingual": "sublingual", "oral": "oral"}


@dataclass(frozen=True)
class SessionFacts:
    """What is known about one session when a step is asked for. Protocol fields first
    (``facts_for`` fills them), then what the clinic has recorded."""

    # from the protocol
    drug: str
    route: str
    weight_based: bool
    checklist: tuple[str, ...]
    min_observation_minutes: float
    effects_to_resolve: tuple[str, ...]
    discharge_criteria: str
    discharge_score_at_least: float
    clinician_judgement_required: bool
    # the day: the booked day and the step's, in the clinic's zone (ISO dates; "" unknown), and
    # whether the step falls within the booked visit's own span (a late-evening visit running
    # past midnight is still that visit)
    booked_on: str = ""
    step_on: str = ""
    within_booked_visit: bool = False
    # consent and eligibility
    consent_current: bool = False
    eligibility_signed_for: frozenset[tuple[str, str]] = frozenset()  # (drug, route) pairs
    # the pre-dose checklist
    fasting_confirmed: bool = False
    ride_home_confirmed: bool = False  # someone else drives; no driving until the next day
    pregnancy_test_applies: bool = False
    pregnancy_test_negative_today: bool = False
    weight_taken_today: bool = False
    predose_vitals_taken: bool = False
    predose_hold_alerts: tuple[str, ...] = ()  # labels of "do not start" alerts on the latest reading
    predose_review_alerts_undecided: tuple[str, ...] = ()  # "prescriber decides" alerts not yet decided
    predose_measures_done: bool = False
    intention_note_written: bool = False
    nasal_steroid_decongestant_timing_confirmed: bool = False
    # the dose
    dose_within_protocol: bool | None = None  # None: no dose calculated yet
    dose_override_reason: str = ""
    second_clinician_confirmed: bool = False
    administration_recorded: bool = False
    # a nasal spray: the devices the dose takes (None: not a device dose) and those given
    devices_expected: int | None = None
    devices_given: int = 0
    # observation and discharge
    minutes_observed: float | None = None
    effects_resolved: frozenset[str] = frozenset()
    discharge_score: float | None = None
    clinician_judged_stable: bool = False
    open_alerts: tuple[str, ...] = ()
    # labels of the alerts the latest reading after the dose would raise that call to pause or
    # stop, or are escalated (acknowledged or not): the patient is not yet within thresholds
    latest_reading_alerts: tuple[str, ...] = ()
    # cancelling or stopping
    reason: str = ""

    def with_(self, **changes: Any) -> SessionFacts:
        return replace(self, **changes)


def facts_for(protocol: Protocol, **recorded: Any) -> SessionFacts:
    """``SessionFacts`` with the protocol's requirements and the recorded ``facts``."""
    return SessionFacts(
        drug=protocol.drug, route=protocol.route, weight_based=protocol.weight_based,
        checklist=protocol.checklist, min_observation_minutes=protocol.min_observation_minutes,
        effects_to_resolve=protocol.effects_to_resolve,
        discharge_criteria=protocol.discharge_criteria,
        discharge_score_at_least=protocol.discharge_score_at_least,
        clinician_judgement_required=protocol.model.observation.clinician_judgement, **recorded)


@dataclass(frozen=True)
class UnmetGuard:
    guard: str
    message: str


# ---- guards: each returns None when met, else the plain message --------------------------

Check = Callable[[SessionFacts], str | None]


def _day_words(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day:%a} {day.day} {day:%b %Y}"


def booked_for_this_day(f: SessionFacts) -> str | None:
    """Checking in on a day other than the booked one (a patient a day early, or a session
    left over from yesterday) is done on purpose, with the reason, never by a slip."""
    if not f.booked_on or not f.step_on or f.booked_on == f.step_on or f.within_booked_visit \
            or f.reason.strip():
        return None
    return (f"This session is booked for {_day_words(f.booked_on)}, not {_day_words(f.step_on)}: "
            "to check the patient in on another day, confirm it with the reason.")


def consent_current(f: SessionFacts) -> str | None:
    return None if f.consent_current else "There is no current consent: record the patient's consent first."


def eligibility_signed(f: SessionFacts) -> str | None:
    if (f.drug, f.route) in f.eligibility_signed_for:
        return None
    return (f"There is no signed eligibility decision for {f.drug} by the "
            f"{ROUTE_WORDS.get(f.route, f.route)} route: the prescriber signs it first.")


def fasting(f: SessionFacts) -> str | None:
    if "fasting" not in f.checklist or f.fasting_confirmed:
        return None
    return "Fasting before the dose is not confirmed."


def ride_home(f: SessionFacts) -> str | None:
    if "ride_home" not in f.checklist or f.ride_home_confirmed:
        return None
    return ("A ride home is not confirmed: the patient may not drive until the next day, so "
            "someone else takes them home.")


def pregnancy_test(f: SessionFacts) -> str | None:
    if "pregnancy_test" not in f.checklist or not f.pregnancy_test_applies \
            or f.pregnancy_test_negative_today:
        return None
    return "A negative pregnancy test from today is not recorded."


def weight_today(f: SessionFacts) -> str | None:
    if not f.weight_based or f.weight_taken_today:
        return None
    return "Today's weight is not recorded, and this dose is calculated by weight."


def predose_vitals(f: SessionFacts) -> str | None:
    if "predose_vitals" not in f.checklist:
        return None
    if not f.predose_vitals_taken:
        return "Vital signs before the dose are not recorded."
    if f.predose_hold_alerts:
        return ("Vital signs before the dose are outside the protocol's limits to start: "
                f"{'; '.join(f.predose_hold_alerts)}. Recheck them.")
    if f.predose_review_alerts_undecided:
        return ("The prescriber has not yet decided on: "
                f"{'; '.join(f.predose_review_alerts_undecided)}.")
    return None


def predose_measures(f: SessionFacts) -> str | None:
    if "predose_measures" not in f.checklist or f.predose_measures_done:
        return None
    return "The measures due before the dose are not done."


def intention_note(f: SessionFacts) -> str | None:
    if "intention_note" not in f.checklist or f.intention_note_written:
        return None
    return "The therapist's note of intention for this session is not written."


def nasal_steroid_decongestant_timing(f: SessionFacts) -> str | None:
    if "nasal_steroid_decongestant_timing" not in f.checklist or \
            f.nasal_steroid_decongestant_timing_confirmed:
        return None
    return ("Not confirmed that any nasal corticosteroid or decongestant was taken at least "
            "1 hour before the dose (or none was).")


def dose_within_protocol_or_confirmed(f: SessionFacts) -> str | None:
    if f.dose_within_protocol is None:
        return "No dose has been calculated against the protocol."
    if f.dose_within_protocol:
        return None
    missing = []
    if not f.dose_override_reason.strip():
        missing.append("a written reason")
    if not f.second_clinician_confirmed:
        missing.append("a second clinician's confirmation")
    if not missing:
        return None
    return f"The dose is outside the protocol: it needs {' and '.join(missing)}."


def administration_recorded(f: SessionFacts) -> str | None:
    return None if f.administration_recorded else "The administration (dose, lot, start) is not recorded."


def every_device_given(f: SessionFacts) -> str | None:
    """A nasal spray dose is given device by device (esketamine: 28 mg each, clinical.md 3.4
    Device row); observation starts once the last is recorded."""
    if f.devices_expected is None or f.devices_given >= f.devices_expected:
        return None
    left = f.devices_expected - f.devices_given
    return (f"{f.devices_given} of the dose's {f.devices_expected} devices are recorded: record "
            f"device {f.devices_given + 1}{'' if left == 1 else f' to {f.devices_expected}'} "
            "before observation starts.")


def minimum_observation(f: SessionFacts) -> str | None:
    observed = f.minutes_observed
    if observed is not None and observed >= f.min_observation_minutes:
        return None
    # whole minutes, rounded down: never more observation than there has been
    so_far = "not started" if observed is None else f"{math.floor(observed)} minutes so far"
    return (f"The protocol's minimum observation is {f.min_observation_minutes:g} minutes "
            f"({so_far}): the patient cannot leave yet.")


def effects_resolved(f: SessionFacts) -> str | None:
    left = [EFFECT_WORDS[e] for e in f.effects_to_resolve if e not in f.effects_resolved]
    return None if not left else f"Not yet resolved: {', '.join(left)}."


def discharge_criteria(f: SessionFacts) -> str | None:
    judged = f.discharge_criteria == "clinician_judgement" or f.clinician_judgement_required
    if judged and not f.clinician_judged_stable:
        return "A clinician has not yet judged the patient clinically stable to leave."
    if f.discharge_criteria not in CRITERIA_WORDS and f.discharge_score is not None \
            and f.discharge_score < f.discharge_score_at_least:
        # judged stable, yet a score was taken and says otherwise: the score is not ignored
        return (f"The discharge score recorded is {f.discharge_score:g}; the protocol's "
                f"threshold is {f.discharge_score_at_least:g} or more, even when a clinician "
                "judges the patient stable. Record a new score when the patient meets it.")
    if f.discharge_criteria in CRITERIA_WORDS:
        words = CRITERIA_WORDS[f.discharge_criteria]
        need = f"{f.discharge_score_at_least:g} or more"
        if f.discharge_score is None:
            return f"The {words} is not recorded (discharge needs {need})."
        if f.discharge_score < f.discharge_score_at_least:
            return f"The {words} is {f.discharge_score:g}; discharge needs {need}."
    return None


def latest_reading_within_thresholds(f: SessionFacts) -> str | None:
    """The latest reading after the dose would itself call to pause or stop, or be escalated
    (low SpO2, slow breathing, unresponsive...): acknowledging its alerts is not recovery."""
    if not f.latest_reading_alerts:
        return None
    return ("The latest reading is outside the protocol's thresholds: "
            f"{'; '.join(f.latest_reading_alerts)}. Record a reading within the thresholds "
            "before discharge.")


def alerts_acknowledged(f: SessionFacts) -> str | None:
    if not f.open_alerts:
        return None
    return f"Open alerts must be acknowledged first: {'; '.join(f.open_alerts)}."


def reason_written(f: SessionFacts) -> str | None:
    return None if f.reason.strip() else "Write the reason."


CLEARANCE: tuple[Check, ...] = (
    consent_current, eligibility_signed, fasting, ride_home, pregnancy_test, weight_today,
    predose_vitals, predose_measures, intention_note, nasal_steroid_decongestant_timing)

# The allowed transitions and the guards on each; every pair not listed is refused.
TRANSITIONS: Mapping[State, Mapping[State, tuple[Check, ...]]] = {
    State.SCHEDULED: {State.CHECKED_IN: (booked_for_this_day,), State.CANCELLED: (reason_written,)},
    State.CHECKED_IN: {State.CLEARED: CLEARANCE, State.CANCELLED: (reason_written,)},
    State.CLEARED: {State.DOSING: (consent_current, eligibility_signed, dose_within_protocol_or_confirmed),
                    State.CANCELLED: (reason_written,)},
    State.DOSING: {State.MONITORING: (administration_recorded, every_device_given),
                   State.STOPPED: (reason_written,)},
    State.MONITORING: {State.DISCHARGED: (minimum_observation, effects_resolved, discharge_criteria,
                                          latest_reading_within_thresholds, alerts_acknowledged),
                       State.STOPPED: (reason_written,)},
    State.DISCHARGED: {}, State.CANCELLED: {}, State.STOPPED: {},
}


def allowed_next(state: State | str) -> tuple[State, ...]:
    """The states a session in ``state`` may move to."""
    return tuple(TRANSITIONS[_state("from", state)])


def _state(which: str, value: State | str) -> State:
    try:
        return State(value)
    except ValueError:
        known = ", ".join(s.value for s in State)
        raise ValueError(f"{which}: '{value}' is not a session state ({known})") from None


def check_transition(state_from: State | str, state_to: State | str,
                     facts: SessionFacts) -> list[UnmetGuard]:
    """The unmet guards of moving a session from ``state_from`` to ``state_to`` given
    ``facts``; empty when the step may be taken. An illegal step is one unmet guard
    (``allowed_transition``) naming where the session can go instead."""
    src, dst = _state("from", state_from), _state("to", state_to)
    guards = TRANSITIONS[src].get(dst)
    if guards is None:
        options = ", ".join(STATE_WORDS[s] for s in TRANSITIONS[src]) or "nowhere: it has ended"
        return [UnmetGuard("allowed_transition",
                           f"A session that is {STATE_WORDS[src]} cannot become {STATE_WORDS[dst]}; "
                           f"it can become: {options}.")]
    unmet = []
    for guard in guards:
        message = guard(facts)
        if message is not None:
            unmet.append(UnmetGuard(guard.__name__, message))
    return unmet


GUARDS: Mapping[str, Check] = {
    g.__name__: g for targets in TRANSITIONS.values() for gs in targets.values() for g in gs}
