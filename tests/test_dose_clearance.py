"""Before a dose, the screening app vouches for eligibility and consent through the registry:
the dosing session asks `extensions.dose_blockers` and never imports screening."""

from __future__ import annotations

from kapclinic.platform import extensions
from kapclinic.screening import actions as screening
from tests import factories


def signed_off_eligible(patient, prescriber, *, drug="ketamine", route="iv-infusion"):
    decision = factories.decision(patient, prescriber, drug=drug, route=route)
    screening.sign_off(decision=decision, accept=False, final_status="eligible",
                       reason="Reviewed in clinic", by=prescriber)


def test_a_consented_patient_signed_off_for_the_drug_and_route_may_be_dosed(patient, prescriber):
    signed_off_eligible(patient, prescriber)
    factories.consent(patient, prescriber)
    assert extensions.dose_blockers(patient, "ketamine", "iv-infusion") == []


def test_without_consent_the_dose_is_held_and_says_why(patient, prescriber):
    signed_off_eligible(patient, prescriber)
    assert extensions.dose_blockers(patient, "ketamine", "iv-infusion") == [
        "No current informed consent from the patient (screening page)."]


def test_a_sign_off_for_another_drug_or_route_does_not_clear_this_one(patient, prescriber):
    signed_off_eligible(patient, prescriber, drug="ketamine", route="iv-infusion")
    factories.consent(patient, prescriber)
    [other_drug] = extensions.dose_blockers(patient, "esketamine", "intranasal")
    assert "No prescriber sign-off of eligibility for esketamine" in other_drug
    [other_route] = extensions.dose_blockers(patient, "ketamine", "im")
    assert "signed off for ketamine by iv-infusion, not im" in other_route


def test_a_changed_intake_holds_the_dose_until_it_is_evaluated_again(patient, prescriber):
    signed_off_eligible(patient, prescriber)
    factories.consent(patient, prescriber)
    factories.intake(patient, prescriber, {"date_of_birth": patient.date_of_birth.isoformat(),
                                           "weight_kg": 70})
    [reason] = extensions.dose_blockers(patient, "ketamine", "iv-infusion")
    assert "intake changed after the eligibility sign-off" in reason
