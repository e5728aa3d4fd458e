"""Keep each patient's outcome snapshot in step with their responses.

All the clinical judgement (baseline, response, remission, relapse, fading) is
kapclinic.clinical.outcomes'; this module only loads the scores and stores the summary.
"""

from __future__ import annotations

from kapclinic.clinical import outcomes
from kapclinic.clinical.codes import diagnoses
from kapclinic.measures.models import OutcomeSnapshot, Response
from kapclinic.patients.models import Patient


def condition_group(patient: Patient) -> str:
    """The patient's first active diagnosis group (for the dashboard's by-condition rates)."""
    table = diagnoses()
    for condition in patient.conditions.all():
        if condition.is_active:
            found = table.get(condition.code)
            if found is not None:
                return found.group_label
    return "No diagnosis recorded"


def refresh(patient: Patient, instrument: str) -> OutcomeSnapshot | None:
    points = list(Response.objects.filter(
        patient=patient, instrument=instrument, entered_in_error_at__isnull=True,
        total__isnull=False).order_by("taken_at").values_list("taken_at", "total"))
    if not points:
        # Derived data only: with no valid score left there is no outcome to show.
        OutcomeSnapshot.objects.filter(patient=patient, instrument=instrument).delete()
        return None
    summary = outcomes.summarise(outcomes.ScoreSeries.from_pairs(instrument, points))
    data = summary.to_dict()
    values = {
        "condition_group": condition_group(patient),
        "baseline_total": (data.get("baseline") or {}).get("total"),
        "latest_total": (data.get("latest") or {}).get("total"),
        "latest_at": points[-1][0],
        "reduction_pct": data.get("reduction_pct"),
        "response_now": bool(data.get("response_now")),
        "remission_now": bool(data.get("remission_now")),
        "ever_responded": data.get("first_response_at") is not None,
        "time_to_response_days": data.get("time_to_response_days"),
        "has_relapse_rule": bool(data.get("rules", {}).get("relapse")),
        "relapsed": bool(data.get("relapsed")),
        "durability_days": data.get("durability_days"),
        "relief_fading": bool(data.get("relief_fading")),
        "summary": data,
    }
    snapshot, _ = OutcomeSnapshot.objects.update_or_create(
        patient=patient, instrument=instrument, defaults=values)
    return snapshot


def refresh_all(patient: Patient) -> None:
    """After a diagnosis change: every instrument's snapshot, for its condition group."""
    for instrument in (OutcomeSnapshot.objects.filter(patient=patient)
                       .values_list("instrument", flat=True)):
        refresh(patient, instrument)
