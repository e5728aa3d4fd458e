"""The screening app's part of the patient chart: its section and its timeline events."""

from __future__ import annotations

from dataclasses import dataclass

from kapclinic.patients.models import Patient
from kapclinic.patients.timeline import TimelineEvent
from kapclinic.screening import actions
from kapclinic.screening.models import Consent, EligibilityDecision


@dataclass(frozen=True)
class ScreeningSection:
    decisions: list[EligibilityDecision]  # newest first
    consents: list[Consent]
    stale: bool
    has_consent: bool

    @property
    def decision(self) -> EligibilityDecision | None:
        return self.decisions[0] if self.decisions else None


def patient_decisions(patient: Patient) -> list[EligibilityDecision]:
    """Newest first, with who evaluated and who signed off."""
    return list(EligibilityDecision.objects.filter(patient=patient)
                .select_related("evaluated_by", "signoff__signed_by"))


def load_section(patient: Patient) -> ScreeningSection:
    decisions = patient_decisions(patient)
    consents = list(Consent.objects.filter(patient=patient).select_related(
        "document", "recorded_by", "withdrawn_by"))
    return ScreeningSection(
        decisions=decisions, consents=consents,
        stale=bool(decisions) and actions.is_stale(decisions[0]),
        has_consent=actions.has_current_consent(patient))


def section_events(patient: Patient, section: ScreeningSection) -> list[TimelineEvent]:
    events = []
    for decision in section.decisions:
        events.append(TimelineEvent(
            decision.evaluated_at, "screening",
            f"Eligibility evaluated: {decision.get_status_display()} for {decision.drug}",
            f"Rule set {decision.ruleset_version}",
            decision.evaluated_by.display_name if decision.evaluated_by else "system"))
    for signoff in (d.signoff for d in section.decisions if hasattr(d, "signoff")):
        events.append(TimelineEvent(
            signoff.signed_at, "screening",
            f"Prescriber sign-off: {signoff.get_outcome_display().lower()}, "
            f"{signoff.get_final_status_display().lower()}", signoff.reason,
            signoff.signed_by.display_name))
    for consent in section.consents:
        events.append(TimelineEvent(consent.signed_at, "consent",
                                    f"Consent signed ({consent.document})",
                                    consent.get_method_display(),
                                    consent.recorded_by.display_name))
        if consent.withdrawn_at:
            events.append(TimelineEvent(consent.withdrawn_at, "correction", "Consent withdrawn",
                                        consent.withdrawal_reason,
                                        consent.withdrawn_by.display_name))
    return events
