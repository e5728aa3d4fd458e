"""What the chart shows of screening and consent, and the timeline events they add."""

from __future__ import annotations

from kapclinic.patients.models import Patient
from kapclinic.patients.timeline import TimelineEvent
from kapclinic.screening import actions
from kapclinic.screening.models import Consent, EligibilityDecision


def patient_decisions(patient: Patient) -> list[EligibilityDecision]:
    """Newest first, with who evaluated and who signed off."""
    return list(EligibilityDecision.objects.filter(patient=patient)
                .select_related("evaluated_by", "signoff__signed_by"))


def screening_summary(patient: Patient, decisions=None) -> dict:
    decisions = patient_decisions(patient) if decisions is None else decisions
    decision = decisions[0] if decisions else None
    return {"decision": decision, "stale": decision is not None and actions.is_stale(decision),
            "has_consent": actions.has_current_consent(patient)}


def screening_events(patient: Patient, decisions=None) -> list[TimelineEvent]:
    events = []
    decisions = patient_decisions(patient) if decisions is None else decisions
    for decision in decisions:
        events.append(TimelineEvent(
            decision.evaluated_at, "screening",
            f"Eligibility evaluated: {decision.get_status_display()} for {decision.drug}",
            f"Rule set {decision.ruleset_version}",
            decision.evaluated_by.display_name if decision.evaluated_by else "system"))
    for signoff in (d.signoff for d in decisions if hasattr(d, "signoff")):
        events.append(TimelineEvent(
            signoff.signed_at, "screening",
            f"Prescriber sign-off: {signoff.get_outcome_display().lower()}, "
            f"{signoff.get_final_status_display().lower()}", signoff.reason,
            signoff.signed_by.display_name))
    for consent in Consent.objects.filter(patient=patient).select_related(
            "document", "recorded_by", "withdrawn_by"):
        events.append(TimelineEvent(consent.signed_at, "consent",
                                    f"Consent signed ({consent.document})",
                                    consent.get_method_display(),
                                    consent.recorded_by.display_name))
        if consent.withdrawn_at:
            events.append(TimelineEvent(consent.withdrawn_at, "correction", "Consent withdrawn",
                                        consent.withdrawal_reason,
                                        consent.withdrawn_by.display_name))
    return events
