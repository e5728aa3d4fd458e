"""The patient chart's dosing-sessions section and its timeline events, from one load (three
queries: the courses, the sessions, and their steps)."""

from __future__ import annotations

from dataclasses import dataclass

from kapclinic.patients.models import Patient
from kapclinic.patients.timeline import TimelineEvent
from kapclinic.treatment.models import Course, CourseState, Session, SessionEvent

SHOWN = 10  # the newest sessions listed in the chart; the timeline has all their steps


@dataclass(frozen=True)
class SessionsSection:
    sessions: list[Session]
    events: list[SessionEvent]
    courses: list[Course]

    @property
    def active_course(self) -> Course | None:
        return next((c for c in self.courses if c.state == CourseState.ACTIVE), None)


def load_section(patient: Patient) -> SessionsSection:
    sessions = list(Session.objects.filter(patient=patient).order_by("-scheduled_at", "-id")[:SHOWN])
    events = list(SessionEvent.objects.filter(session__in=[s.pk for s in sessions])
                  .select_related("recorded_by").order_by("at", "id")) if sessions else []
    courses = list(Course.objects.filter(patient=patient).order_by("-first_dose_on", "-id")[:SHOWN])
    return SessionsSection(sessions, events, courses)


def section_events(patient: Patient, section: SessionsSection) -> list[TimelineEvent]:
    protocol = {s.pk: s.protocol_label for s in section.sessions}
    out = []
    for e in section.events:
        if not e.from_state:
            continue  # the booking itself is not a clinical event
        by = e.recorded_by.display_name if e.recorded_by else ""
        detail = e.reason or ""
        out.append(TimelineEvent(e.at, "session", f"Dosing session ({protocol[e.session_id]}): "
                                                  f"{e.get_to_state_display().lower()}", detail, by))
    return out
