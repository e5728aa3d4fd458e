"""The chart's timeline: one list of dated events from every part of the record.

The registry adds status changes and diagnoses; every other app adds its events through its
chart section (``platform.extensions.ChartSection.events``), from the data the chart already
loaded, so the timeline costs no queries of its own beyond the registry's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kapclinic.patients.models import Patient, Status
from kapclinic.platform.extensions import ChartSection


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str
    title: str
    detail: str = ""
    by: str = ""


@dataclass(frozen=True)
class LoadedSection:
    """A chart section with the data it loaded for this patient."""

    section: ChartSection
    data: Any


def build_timeline(patient: Patient, conditions=None,
                   sections: Sequence[LoadedSection] = ()) -> list[TimelineEvent]:
    """Every dated event of the record the reader may see, newest first: the registry's own
    (status changes, diagnoses) and those of each chart section shown. ``conditions`` may be
    passed when the page already loaded them."""
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
    for part in sections:
        if part.section.events is not None:
            events += part.section.events(patient, part.data)
    return sorted(events, key=lambda event: event.at, reverse=True)
