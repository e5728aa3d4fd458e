"""The screening app's demo data: each demo patient meant to be past screening gets an intake,
the rules' decision and the prescriber's sign-off; those meant to be in treatment also sign the
clinic's (demo) consent, which is what lets them start. Uses no randomness."""

from __future__ import annotations

from kapclinic.accounts.roles import Role
from kapclinic.accounts.scoping import for_clinic
from kapclinic.clinical.screening.schema import HISTORY_KEYS
from kapclinic.patients import actions as patient_actions
from kapclinic.patients.models import Patient, SexAtBirth, Status
from kapclinic.platform.extensions import DemoRun
from kapclinic.screening import actions
from kapclinic.screening.forms import IntakeForm

CONSENT_TITLE = "Consent to ketamine-assisted psychotherapy (demo text)"
CONSENT_TEXT = (
    "DEMO TEXT, not legal or clinical advice: each clinic writes its own consent.\n\n"
    "I agree to a course of ketamine-assisted psychotherapy at this clinic. Ketamine is given "
    "under supervision, and my blood pressure, breathing, sedation and dissociation are "
    "monitored. I have been told about the expected benefits, the risks and the alternatives, "
    "and I may ask questions at any time.\n\n"
    "I will not drive or operate machinery for the rest of the day of a session, and someone "
    "will take me home.\n\nI may withdraw this consent at any time by telling my care team."
)




SIGNED_OFF = {Status.ELIGIBLE, Status.INELIGIBLE, Status.IN_TREATMENT, Status.MAINTENANCE,
              Status.DISCHARGED}
TREATED = {Status.IN_TREATMENT, Status.MAINTENANCE, Status.DISCHARGED}
CLEAN_HISTORY = {f"history_{key}": "no" for key in HISTORY_KEYS}


def _intake_answers(patient: Patient, eligible: bool) -> dict[str, str]:
    """What the coordinator types on the intake page for a demo patient."""
    answers = {
        "weight_kg": "72", "height_cm": "171", "sbp_mmhg": "124", "dbp_mmhg": "78",
        "heart_rate_bpm": "70", "spo2_pct": "98", "adequate_antidepressant_trials": "2",
        "audit_total": "3", "medications": "sertraline", "no_hypersensitivities": "on",
        "goals": "Feel like myself again (demo)", **CLEAN_HISTORY,
    }
    if patient.sex_at_birth != SexAtBirth.MALE:
        answers.update(pregnant="no", breastfeeding="no")
    if not eligible:
        answers["history_psychosis"] = "yes"
    return answers


# the first two treated demo patients, and every third after them (by the last character of
# the MRN), are also cleared for esketamine: a small demo still has esketamine sessions
ESKETAMINE_EVERY = 3
ESKETAMINE_FIRST = 2


def walk(patient: Patient, target: str, staff: dict, document, *, esketamine: bool = False) -> bool:
    """Bring a new demo patient to ``target`` the way the clinic does: the intake, the rules'
    decision and the prescriber's sign-off (eligible, ineligible), then the patient's consent
    and the start of treatment (in treatment, maintenance, discharged after treatment); with
    ``esketamine``, a treated patient is also assessed for esketamine. True when treated."""
    if target not in SIGNED_OFF:
        return False
    wanted = Status.INELIGIBLE if target == Status.INELIGIBLE else Status.ELIGIBLE
    form = IntakeForm(_intake_answers(patient, wanted == Status.ELIGIBLE), patient=patient)
    if not form.is_valid():
        raise ValueError(f"demo intake of {patient.mrn} does not validate: {form.errors}")
    coordinator, prescriber = staff[Role.COORDINATOR], staff[Role.PRESCRIBER]
    actions.save_intake(patient=patient, draft=form.data, data=form.to_intake(),
                          expected_version=actions.intake_for(patient).version,
                          by=coordinator)
    decision = actions.evaluate_intake(patient=patient, drug="ketamine", route="iv-infusion",
                                         by=coordinator)
    automatic = {"eligible": Status.ELIGIBLE, "eligible_with_cautions": Status.ELIGIBLE,
                 "not_eligible": Status.INELIGIBLE}.get(decision.status)
    actions.sign_off(decision=decision, accept=automatic == wanted,
                       final_status="eligible" if wanted == Status.ELIGIBLE else "ineligible",
                       reason="" if automatic == wanted else
                       "Reviewed with the patient and their referrer (demo).", by=prescriber)
    if target not in TREATED:
        return False
    if wanted == Status.ELIGIBLE and (esketamine or ord(patient.mrn[-1]) % ESKETAMINE_EVERY == 0):
        _also_esketamine(patient, coordinator, prescriber)
    actions.sign_consent(patient=patient, document=document, signed_name=patient.full_name,
                           method="in_clinic", by=coordinator,
                           guardian_name=f"Guardian of {patient.full_name}"
                           if actions.needs_guardian(patient) else "")
    patient_actions.change_status(patient=patient, status=Status.IN_TREATMENT, by=prescriber)
    if target != Status.IN_TREATMENT:
        patient_actions.change_status(patient=patient, status=target, by=prescriber)
    return True


def _also_esketamine(patient: Patient, coordinator, prescriber) -> None:
    """Some treated demo patients are also assessed and signed off for intranasal esketamine
    (when the rules find them eligible), so the demo has esketamine sessions and REMS forms."""
    decision = actions.evaluate_intake(patient=patient, drug="esketamine", route="intranasal",
                                       by=coordinator)
    if decision.status in ("eligible", "eligible_with_cautions"):
        actions.sign_off(decision=decision, accept=True, final_status="eligible", reason="",
                         by=prescriber)


def load(run: DemoRun) -> None:
    document = actions.publish_consent_document(
        clinic=run.clinic, title=CONSENT_TITLE, text=CONSENT_TEXT, by=run.staff[Role.ADMIN])
    treated = 0
    for patient in (for_clinic(Patient, run.clinic.pk).select_related("clinic")
                    .prefetch_related("conditions").order_by("mrn")):
        treated += walk(patient, run.targets[patient.mrn], run.staff, document,
                        esketamine=treated < ESKETAMINE_FIRST)
