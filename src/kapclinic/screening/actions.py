"""Every write of intake, eligibility, sign-off and consent: one transaction, audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from kapclinic.accounts.models import Clinic, User
from kapclinic.accounts.scoping import for_clinic
from kapclinic.audit import context, trail
from kapclinic.audit.actions import action
from kapclinic.clinical import screening as rules
from kapclinic.patients import actions as patient_actions
from kapclinic.patients.models import Patient, Status
from kapclinic.screening.models import (
    Consent,
    ConsentDocument,
    EligibilityDecision,
    Intake,
    IntakeRevision,
    SignOff,
)


class StaleError(Exception):
    """The thing acted on changed meanwhile; nothing was written."""


def intake_for(patient: Patient) -> Intake:
    """The patient's intake; before its first save, an empty unsaved one (reading a page
    never writes: save_intake creates the row)."""
    return Intake.objects.filter(patient=patient).first() or Intake(patient=patient)


@action
def save_intake(*, patient: Patient, draft: dict[str, Any], data: dict[str, Any] | None,
                expected_version: int, by: User | None, source: str = "clinic") -> Intake:
    """Store what was typed (and, when it validated, the intake the rules read).

    Compare-and-swap on ``version``: a save based on an older version raises StaleError.
    """
    with transaction.atomic():
        intake, _ = Intake.objects.get_or_create(patient=patient)
        changes: dict[str, Any] = {"draft": draft, "updated_at": timezone.now(),
                                   "updated_by": by, "version": F("version") + 1}
        if data is not None:
            changes["data"] = data
        if Intake.objects.filter(pk=intake.pk, version=expected_version).update(**changes) != 1:
            raise StaleError("The intake was saved from another window or person meanwhile.")
        intake.refresh_from_db()
        IntakeRevision.objects.create(intake=intake, version=intake.version, draft=draft,
                                      data=intake.data, saved_by=by, source=source)
        trail.record("update", object_type="intake", object_id=intake.pk, patient_id=patient.pk,
                     clinic_id=patient.clinic_id,
                     detail={"version": intake.version, "validated": data is not None})
    return intake


@action
def evaluate_intake(*, patient: Patient, drug: str, route: str | None,
                    by: User | None) -> EligibilityDecision:
    """Run the rules on the last validated intake and store the decision."""
    intake = intake_for(patient)
    if intake.data is None:
        raise StaleError("Complete and save the intake before evaluating it.")
    decision = rules.evaluate(intake.data, drug=drug, route=route or None,
                              as_of=timezone.localdate())
    with transaction.atomic():
        stored = EligibilityDecision.objects.create(
            patient=patient, intake_version=intake.version, drug=drug, route=route or "",
            status=decision.status, result=decision.to_dict(),
            ruleset_version=decision.ruleset_version, evaluated_by=by)
        trail.record("create", object_type="eligibility_decision", object_id=stored.pk,
                     patient_id=patient.pk, clinic_id=patient.clinic_id,
                     detail={"status": decision.status, "ruleset": decision.ruleset_version})
    return stored


def is_stale(decision: EligibilityDecision) -> bool:
    """True when the intake changed after this decision was made."""
    version = Intake.objects.filter(patient_id=decision.patient_id).values_list(
        "version", flat=True).first()
    return version is not None and version != decision.intake_version


def locked_contraindications(decision: EligibilityDecision) -> list[str]:
    """The label contraindications (locked exclusions) a stored decision fired, as tested.
    Decisions stored before rules carried ``locked`` are read against today's rule set."""
    locked_now = {rule.id for rule in rules.load_ruleset().rules if rule.locked}
    return [fired["tests"] for fired in decision.result.get("rules", [])
            if fired.get("severity") == "exclude" and fired.get("locked", fired.get("id") in locked_now)]


@action
def sign_off(*, decision: EligibilityDecision, accept: bool, final_status: str, reason: str,
             by: User) -> SignOff:
    """The prescriber accepts the decision or overrides it with a reason; the status follows."""
    automatic = {"eligible": "eligible", "eligible_with_cautions": "eligible",
                 "not_eligible": "ineligible"}.get(decision.status)
    if accept:
        if automatic is None:
            raise ValueError("A decision that needs review cannot simply be accepted: "
                             "choose eligible or ineligible and give your reason.")
        final_status = automatic
    elif not reason.strip():
        raise ValueError("Give the reason for overriding the decision.")
    if final_status not in SignOff.FinalStatus.values:
        raise ValueError("The final status must be eligible or ineligible.")
    locked = locked_contraindications(decision)
    if final_status == SignOff.FinalStatus.ELIGIBLE and locked:
        raise ValueError(
            f"This decision found a label contraindication ({'; '.join(locked)}), which no override "
            "can make eligible. If the intake is wrong, correct it and evaluate again.")
    with transaction.atomic():
        # Checked inside the transaction: an intake saved a moment ago makes this stale.
        Intake.objects.select_for_update().filter(patient_id=decision.patient_id).first()
        if is_stale(decision):
            raise StaleError("The intake changed after this decision: evaluate it again first.")
        if SignOff.objects.filter(decision=decision).exists():
            raise StaleError("This decision is already signed off.")
        signoff = SignOff.objects.create(
            decision=decision, outcome="accepted" if accept else "overridden",
            final_status=final_status, reason=reason.strip(),
            ruleset_version=decision.ruleset_version, signed_by=by)
        trail.record("create", object_type="signoff", object_id=signoff.pk,
                     patient_id=decision.patient_id,
                     detail={"outcome": signoff.outcome, "final_status": final_status})
        patient_actions.change_status(
            patient=decision.patient,
            status=Status.ELIGIBLE if final_status == "eligible" else Status.INELIGIBLE, by=by)
    return signoff


# ---- consent ----------------------------------------------------------------------------

@action
def publish_consent_document(*, clinic: Clinic, title: str, text: str,
                             by: User | None) -> ConsentDocument:
    with transaction.atomic():
        latest = for_clinic(ConsentDocument, clinic.pk).select_for_update().first()
        document = ConsentDocument.objects.create(
            clinic=clinic, version=(latest.version + 1) if latest else 1, title=title.strip(),
            text=text.strip(), created_by=by)
        trail.record("create", object_type="consent_document", object_id=document.pk,
                     clinic_id=clinic.pk, detail={"version": document.version})
    return document


def current_document(clinic_id: int) -> ConsentDocument | None:
    return for_clinic(ConsentDocument, clinic_id).first()


def needs_guardian(patient: Patient, on: datetime | None = None) -> bool:
    """A minor on the day of signing: a guardian co-signs (clinical.md 3.5)."""
    day = timezone.localdate(on) if on else timezone.localdate()
    return rules.is_minor(patient.age_on(day))


@action
def sign_consent(*, patient: Patient, document: ConsentDocument, signed_name: str,
                 method: str, by: User, guardian_name: str = "") -> Consent:
    if document.clinic_id != patient.clinic_id:
        raise ValueError("That consent document belongs to another clinic.")
    if document != current_document(patient.clinic_id):
        raise StaleError("A newer version of the consent text exists; sign that one.")
    if not signed_name.strip():
        raise ValueError("Type the patient's full name to sign.")
    if needs_guardian(patient) and not guardian_name.strip():
        raise ValueError(f"The patient is under {rules.ADULT_AGE_YEARS}: a parent or guardian must "
                         "co-sign.")
    with transaction.atomic():
        signed = Consent.objects.filter(patient=patient, document=document,
                                        withdrawn_at__isnull=True).first()
        if signed is not None:
            return signed  # a double submit: the first signature stands
        consent = Consent.objects.create(
            patient=patient, document=document, signed_name=signed_name.strip(),
            method=method, recorded_by=by, client_addr=context.current().client_addr,
            guardian_name=guardian_name.strip())
        trail.record("create", object_type="consent", object_id=consent.pk,
                     patient_id=patient.pk, clinic_id=patient.clinic_id,
                     detail={"document_version": document.version, "method": method})
    return consent


@action
def withdraw_consent(*, consent: Consent, reason: str, by: User) -> bool:
    """Withdraw a consent; False if it was already withdrawn (by anyone)."""
    with transaction.atomic():
        updated = Consent.objects.filter(pk=consent.pk, withdrawn_at__isnull=True).update(
            withdrawn_at=timezone.now(), withdrawn_by=by, withdrawal_reason=reason.strip())
        if updated:
            trail.record("update", object_type="consent", object_id=consent.pk,
                         patient_id=consent.patient_id, detail={"withdrawn": True})
    return bool(updated)


def has_current_consent(patient: Patient, at: datetime | None = None) -> bool:
    """Whether the patient had, at ``at`` (default now), a signed and not withdrawn consent
    to the clinic's consent text in force at that moment."""
    at = at or timezone.now()
    document = (for_clinic(ConsentDocument, patient.clinic_id).filter(created_at__lte=at)
                .first())
    if document is None:
        return False
    return Consent.objects.filter(patient=patient, document=document, signed_at__lte=at).exclude(
        withdrawn_at__lte=at).exists()


def treatment_blocker(patient: Patient) -> str | None:
    """Why ``patient`` may not start or resume treatment now: the eligibility sign-off and the
    consent are this app's to vouch for (registered as a guard on the in-treatment status)."""
    signoff = (SignOff.objects.filter(decision__patient=patient).select_related("decision")
               .order_by("-signed_at", "-pk").first())
    if signoff is None or signoff.final_status != SignOff.FinalStatus.ELIGIBLE:
        return ("Treatment needs a prescriber's sign-off of eligibility first (screening page).")
    if is_stale(signoff.decision):
        return ("The intake changed after the eligibility sign-off: evaluate it again and have the "
                "prescriber sign off before treatment.")
    if not has_current_consent(patient):
        return "Treatment needs the patient's current informed consent (screening page)."
    return None


def dose_blockers(patient: Patient, drug: str, route: str) -> list[str]:
    """Why ``patient`` may not be given ``drug`` by ``route`` today, as far as screening and
    consent go: the newest signed-off decision for this drug must be eligible, made for this
    route (or for every route), on the intake as it is now; and the consent current."""
    reasons = []
    signoff = (SignOff.objects.filter(decision__patient=patient, decision__drug=drug)
               .select_related("decision").order_by("-signed_at", "-pk").first())
    if signoff is None or signoff.final_status != SignOff.FinalStatus.ELIGIBLE:
        reasons.append(f"No prescriber sign-off of eligibility for {drug} yet (screening page).")
    elif signoff.decision.route and signoff.decision.route != route:
        reasons.append(f"Eligibility was signed off for {drug} by {signoff.decision.route}, "
                       f"not {route}: evaluate the intake for this route (screening page).")
    elif is_stale(signoff.decision):
        reasons.append("The intake changed after the eligibility sign-off: evaluate it again and "
                       "have the prescriber sign off (screening page).")
    if not has_current_consent(patient):
        reasons.append("No current informed consent from the patient (screening page).")
    return reasons
