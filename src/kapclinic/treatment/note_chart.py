"""Therapy notes on the chart: the care team's signed notes (a clinician outside it sees that they
exist and may open them by emergency access), the viewer's own drafts and psychotherapy notes
(theirs alone), and recent emergency accesses for the care team to see. A few queries per page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from kapclinic.accounts.permissions import Action, role_can
from kapclinic.accounts.scoping import Viewer, for_care_team, on_care_team
from kapclinic.treatment import psychotherapy
from kapclinic.treatment.care_team import writes_for
from kapclinic.treatment.note_models import (
    RECORD_KINDS,
    EmergencyAccess,
    Note,
    NoteDraft,
    NoteKind,
)

SHOWN = 20  # the latest notes on the chart


def load_section(patient) -> dict:
    viewer = Viewer.current()
    on_team = on_care_team(viewer, patient.pk)
    notes = (list(for_care_team(Note.objects.filter(patient=patient), viewer)
                  .select_related("author", "cosigner", "session", "cosignature")
                  .prefetch_related("addenda").order_by("-signed_at", "-id")[:SHOWN])
             if on_team else [])
    may_write_psychotherapy = _may(viewer, Action.PSYCHOTHERAPY_NOTE_WRITE)
    writes = on_team and writes_for(viewer, patient.pk)
    return {
        "patient": patient,
        "on_care_team": on_team,
        "notes": notes,
        "hidden_count": 0 if on_team else Note.objects.filter(patient=patient).count(),
        "drafts": list(NoteDraft.objects.filter(patient=patient, author_id=viewer.user_id,
                                                signed_at__isnull=True).order_by("-updated_at")[:10]),
        "psychotherapy_count": (psychotherapy.readable(viewer.user_id, patient).count()
                                if viewer.user_id else 0),
        "may_write": writes and _may(viewer, Action.NOTE_WRITE),
        "may_write_psychotherapy": writes and may_write_psychotherapy,
        "by_emergency": on_team and not writes,
        "may_break_glass": not on_team and _may(viewer, Action.EMERGENCY_ACCESS),
        "kinds": [(kind, NoteKind(kind).label) for kind in RECORD_KINDS],
        "emergency": (list(EmergencyAccess.objects.filter(patient=patient)
                           .select_related("user").order_by("-started_at")[:5]) if on_team else []),
        "now": timezone.now(),
    }


def _may(viewer: Viewer, action: Action) -> bool:
    try:
        return role_can(viewer.role, action)
    except ValueError:
        return False


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str
    title: str
    detail: str
    by: str


def section_events(patient, data) -> list[TimelineEvent]:
    return [TimelineEvent(n.signed_at, "note", f"{n.title} note signed",
                          "labelled 42 CFR Part 2" if n.part2 else "", n.author.display_name)
            for n in data["notes"]]


def for_session(request, session) -> dict | None:
    """The session page's notes card: the session's signed notes and the buttons to start one,
    for a role that reads notes (None otherwise); the notes only for the care team."""
    viewer = Viewer.of(request)
    if not _may(viewer, Action.NOTE_READ):
        return None
    on_team = on_care_team(viewer, session.patient_id)
    notes = (list(for_care_team(Note.objects.filter(session=session), viewer)
                  .select_related("author").order_by("signed_at")) if on_team else [])
    return {"on_care_team": on_team, "notes": notes, "patient_id": session.patient_id,
            "may_break_glass": not on_team and _may(viewer, Action.EMERGENCY_ACCESS),
            "may_write": on_team and writes_for(viewer, session.patient_id)
            and _may(viewer, Action.NOTE_WRITE),
            "kinds": [(kind, NoteKind(kind).label) for kind in ("preparation", "dosing",
                                                                 "integration")]}
