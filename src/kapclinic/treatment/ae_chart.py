"""Adverse events on the chart (a section beside the sessions, with timeline events) and under
their alerts on the alerts pages. One query per page each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kapclinic.treatment.ae_models import ADVERSE_EVENT_RECORD, AdverseEvent, AfterSessionCheckIn

CHECK_IN_RECORD = "treatment.after_session_check_in"  # what an alert about an answer names

ALERT_TEMPLATE = "treatment/_alert_adverse_event.html"
SHOWN = 20  # the chart shows the latest events; the rest are on the safety listing


def load_section(patient) -> dict:
    events = list(AdverseEvent.objects.filter(patient=patient)
                  .select_related("session", "closure").prefetch_related("reviews")
                  .order_by("-recorded_at", "-id")[:SHOWN])
    answers = list(AfterSessionCheckIn.objects.filter(patient=patient).select_related("session")
                   .order_by("-answered_at")[:5])
    return {"events": events, "patient": patient, "answers": answers}


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str
    title: str
    detail: str
    by: str


def section_events(patient, data) -> list[TimelineEvent]:
    return [TimelineEvent(e.when, "adverse_event",
                          f"Adverse event: {e.term}" + (" (serious)" if e.serious else ""),
                          e.get_severity_display() + (f", grade {e.grade}" if e.grade else ""),
                          e.recorded_by.display_name if e.recorded_by_id else "the patient")
            for e in data["events"] if e.entered_in_error_at is None]


def load_alert_details(alerts) -> dict[int, dict]:
    events = AdverseEvent.objects.select_related("session").in_bulk(
        [a.record_id for a in alerts if a.record_type == ADVERSE_EVENT_RECORD])
    answers = AfterSessionCheckIn.objects.in_bulk(
        [a.record_id for a in alerts if a.record_type == CHECK_IN_RECORD])
    out: dict[int, dict] = {}
    for alert in alerts:
        if alert.record_type == ADVERSE_EVENT_RECORD and alert.record_id in events:
            out[alert.pk] = {"event": events[alert.record_id]}
        elif alert.record_type == CHECK_IN_RECORD and alert.record_id in answers:
            out[alert.pk] = {"check_in": answers[alert.record_id]}
    return out
