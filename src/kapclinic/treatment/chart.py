"""The patient chart's dosing-sessions section and its timeline events, from one load (three
queries: the courses, the sessions, and their steps)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from kapclinic.patients.models import Patient
from kapclinic.patients.timeline import TimelineEvent
from kapclinic.treatment.models import IN_PROGRESS, Course, CourseState, Session, SessionEvent, State

SHOWN = 10  # the newest sessions listed in the chart; the timeline has all their steps
UPCOMING = 5  # today's and the next booked sessions, before them
ENDED_EARLY = (State.CANCELLED, State.STOPPED)


@dataclass(frozen=True)
class SessionsSection:
    sessions: list[Session]   # the latest that have happened or ended, newest first
    events: list[SessionEvent]
    courses: list[Course]
    upcoming: list[Session]   # today's and the next booked ones, soonest first

    @property
    def active_course(self) -> Course | None:
        return next((c for c in self.courses if c.state == CourseState.ACTIVE), None)


def load_section(patient: Patient) -> SessionsSection:
    """A clinician reads today's session and the next ones first, then the recent past: a
    planned course must not push today off the list, nor midnight a session still in progress
    (booked before it). Four queries."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    mine = Session.objects.filter(patient=patient)
    upcoming = list(mine.filter(Q(scheduled_at__gte=today) | Q(state__in=IN_PROGRESS))
                    .exclude(state__in=ENDED_EARLY).order_by("scheduled_at", "id")[:UPCOMING])
    sessions = list(mine.exclude(pk__in=[s.pk for s in upcoming])
                    .filter(Q(scheduled_at__lt=today) | Q(state__in=ENDED_EARLY))
                    .filter(scheduled_at__lt=timezone.now() + timedelta(days=1))
                    .order_by("-scheduled_at", "-id")[:SHOWN])
    shown = [s.pk for s in upcoming + sessions]
    events = list(SessionEvent.objects.filter(session__in=shown)
                  .select_related("recorded_by").order_by("at", "id")) if shown else []
    courses = list(Course.objects.filter(patient=patient).order_by("-first_dose_on", "-id")[:SHOWN])
    return SessionsSection(sessions, events, courses, upcoming)


def section_events(patient: Patient, section: SessionsSection) -> list[TimelineEvent]:
    protocol = {s.pk: s.protocol_label for s in section.sessions + section.upcoming}
    out = []
    for e in section.events:
        if not e.from_state:
            continue  # the booking itself is not a clinical event
        by = e.recorded_by.display_name if e.recorded_by else ""
        detail = e.reason or ""
        out.append(TimelineEvent(e.at, "session", f"Dosing session ({protocol[e.session_id]}): "
                                                  f"{e.get_to_state_display().lower()}", detail, by))
    return out
