"""What the chart shows of measures."""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import Max, Q

from kapclinic.measures.models import Alert, ClinicalEvent, Response
from kapclinic.patients.models import Patient
from kapclinic.patients.timeline import TimelineEvent


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


def measures_events(patient: Patient) -> list[TimelineEvent]:
    """The timeline's share of measurement-based care: alerts (urgent or follow-up) and their
    acknowledgements, and events that can define relapse (with their corrections)."""
    events = []
    for alert in Alert.objects.filter(patient=patient).select_related("acknowledged_by"):
        events.append(TimelineEvent(alert.raised_at, "alert",
                                    f"{alert.get_priority_display()} alert: {alert.label}"))
        if alert.acknowledged_at:
            events.append(TimelineEvent(alert.acknowledged_at, "alert", "Alert acknowledged",
                                        alert.acknowledgement_note,
                                        alert.acknowledged_by.display_name))
    for event in ClinicalEvent.objects.filter(patient=patient).select_related(
            "recorded_by", "entered_in_error_by"):
        events.append(TimelineEvent(event.occurred_at, "event", event.get_kind_display(),
                                    event.note, event.recorded_by.display_name))
        if event.entered_in_error_at:
            events.append(TimelineEvent(
                event.entered_in_error_at, "correction",
                f"{event.get_kind_display()} marked entered in error",
                event.entered_in_error_reason, event.entered_in_error_by.display_name))
    return events
