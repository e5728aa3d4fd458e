"""Adverse events on the chart (a section beside the sessions, with timeline events) and under
their alerts on the alerts pages. One query per page each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kapclinic.treatment.ae_models import ADVERSE_EVENT_RECORD, AdverseEvent

ALERT_TEMPLATE = "treatment/_alert_adverse_event.html"
SHOWN = 20  # the chart shows the latest events; the rest are on the safety listing


def load_section(patient) -> dict:
    events = list(AdverseEvent.objects.filter(patient=patient)
                  .select_related("session", "closure").prefetch_related("reviews")
                  .order_by("-onset_at", "-id")[:SHOWN])
    return {"events": events, "patient": patient}


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str
    title: str
    detail: str
    by: str


def section_events(patient, data) -> list[TimelineEvent]:
    return [TimelineEvent(e.onset_at, "adverse_event",
                          f"Adverse event: {e.term}" + (" (serious)" if e.serious else ""),
                          e.get_severity_display() + (f", grade {e.grade}" if e.grade else ""),
                          e.recorded_by.display_name if e.recorded_by_id else "the patient")
            for e in data["events"] if e.entered_in_error_at is None]


def load_alert_details(alerts) -> dict[int, dict]:
    ids = [a.record_id for a in alerts if a.record_type == ADVERSE_EVENT_RECORD]
    found = AdverseEvent.objects.select_related("session").in_bulk(ids) if ids else {}
    return {a.pk: {"event": found[a.record_id]} for a in alerts if a.record_id in found
            and a.record_type == ADVERSE_EVENT_RECORD}
