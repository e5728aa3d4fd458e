"""The measures app's part of the patient chart: its section and its timeline events."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Max, Q

from kapclinic.alerts.models import Alert
from kapclinic.measures.models import ClinicalEvent, Response
from kapclinic.patients.models import Patient
from kapclinic.patients.timeline import TimelineEvent


@dataclass(frozen=True)
class MeasuresSection:
    latest: list[Response]  # the newest valid response per instrument
    alerts: list[Alert]
    events: list[ClinicalEvent]


def latest_responses(patient: Patient) -> list[Response]:
    """The newest valid response per instrument: two queries however long the history."""
    valid = Response.objects.filter(patient=patient, entered_in_error_at__isnull=True)
    newest = valid.values("instrument").annotate(at=Max("taken_at")).order_by()
    pairs = [Q(instrument=row["instrument"], taken_at=row["at"]) for row in newest]
    if not pairs:
        return []
    latest: dict[str, Response] = {}
    for response in valid.filter(reduce(or_, pairs)).order_by("-id"):
        latest.setdefault(response.instrument, response)
    return sorted(latest.values(), key=lambda r: r.instrument)


def load_section(patient: Patient) -> MeasuresSection:
    return MeasuresSection(
        latest=latest_responses(patient),
        alerts=list(Alert.objects.filter(patient=patient).select_related(
            "acknowledged_by", "entered_in_error_by")),
        events=list(ClinicalEvent.objects.filter(patient=patient).select_related(
            "recorded_by", "entered_in_error_by")))


def section_events(patient: Patient, section: MeasuresSection) -> list[TimelineEvent]:
    """The timeline's share of measurement-based care: alerts (urgent or follow-up) and their
    acknowledgements, and events that can define relapse, each with its correction (an alert
    or event marked raised or entered in error)."""
    events = []
    for alert in section.alerts:
        events.append(TimelineEvent(alert.raised_at, "alert",
                                    f"{alert.get_priority_display()} alert: {alert.label}"))
        if alert.acknowledged_at:
            events.append(TimelineEvent(alert.acknowledged_at, "alert-ack", "Alert acknowledged",
                                        alert.acknowledgement_note,
                                        alert.acknowledged_by.display_name))
        if alert.entered_in_error_at:
            events.append(TimelineEvent(
                alert.entered_in_error_at, "correction", f"Alert marked raised in error: "
                f"{alert.label}", alert.entered_in_error_reason,
                alert.entered_in_error_by.display_name))
    for event in section.events:
        events.append(TimelineEvent(event.occurred_at, "event", event.get_kind_display(),
                                    event.note, event.recorded_by.display_name))
        if event.entered_in_error_at:
            events.append(TimelineEvent(
                event.entered_in_error_at, "correction",
                f"{event.get_kind_display()} marked entered in error",
                event.entered_in_error_reason, event.entered_in_error_by.display_name))
    return events

