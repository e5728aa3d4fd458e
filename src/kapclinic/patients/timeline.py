"""The chart's timeline: one list of dated events from every part of the record.

Later issues (screening, sessions, measures, notes) add their own event sources here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kapclinic.patients.models import Patient, Status


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str
    title: str
    detail: str = ""
    by: str = ""


def build_timeline(patient: Patient, conditions=None, decisions=None) -> list[TimelineEvent]:
    """Every dated event of the record, newest first. ``conditions`` and ``decisions`` may be
    passed when the page already loaded them (one query each instead of two)."""
    labels = dict(Status.choices)
    events: list[TimelineEvent] = []
    for change in patient.status_changes.select_related("changed_by"):
        who = change.changed_by.display_name if change.changed_by else "system"
        if change.from_status:
            title = f"Status: {labels[change.from_status]} → {labels[change.to_status]}"
        else:
            title = f"Registered as {labels[change.to_status]}"
        events.append(TimelineEvent(change.changed_at, "status", title, by=who))
    if conditions is None:
        conditions = patient.conditions.select_related("recorded_by", "entered_in_error_by")
    for condition in conditions:
        who = condition.recorded_by.display_name if condition.recorded_by else "system"
        events.append(TimelineEvent(condition.recorded_at, "condition",
                                    f"Diagnosis added: {condition.code} {condition.display}",
                                    condition.note, who))
        if condition.entered_in_error_at:
            events.append(TimelineEvent(
                condition.entered_in_error_at, "correction",
                f"Diagnosis {condition.code} marked entered in error",
                condition.entered_in_error_reason, condition.entered_in_error_by.display_name,
            ))
    from kapclinic.measures.summary import measures_events  # the chart's other sections
    from kapclinic.screening.summary import screening_events

    events += screening_events(patient, decisions)
    events += measures_events(patient)
    return sorted(events, key=lambda event: event.at, reverse=True)
