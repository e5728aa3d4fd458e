"""Rooms and chairs: the clinic's own list to offer on the booking forms, how long a session
holds its chair, and the other sessions booked into the same chair at an overlapping time.

A double booking is a warning, not a refusal: a clinic may mean it (a cancellation expected,
a chair shared in turns), and the person booking sees which session it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.db.models import Q
from django.utils import timezone

from kapclinic.clinical import protocols as core
from kapclinic.clinical.protocols.course import chair_minutes
from kapclinic.platform.labels import DRUG_LABELS, ROUTE_LABELS
from kapclinic.treatment.models import ENDED, Session, TreatmentSettings

# an engineering bound: no session holds a chair longer than this (the longest minimum
# observation a clinic may set is 8 hours, the longest infusion an hour)
LONGEST_HOLD = timedelta(hours=12)
# how many rooms and chairs the forms offer when derived from earlier bookings
OFFERED_MAX = 60


def held_minutes(protocol_id: str, protocol_settings: dict | None) -> int | None:
    """Minutes a session under this protocol (with its kept settings) holds its chair; None
    when the clinic has removed the protocol's file."""
    return _held_minutes(protocol_id, json.dumps(protocol_settings or {}, sort_keys=True, default=str))


_HELD_CACHE: dict[tuple[str, str], int | None] = {}


def _held_minutes(protocol_id: str, settings_json: str) -> int | None:
    key = (protocol_id, settings_json)
    if key not in _HELD_CACHE:
        chosen = json.loads(settings_json)
        try:
            protocol = core.resolve(protocol_id).configured(chosen.get("values") or {},
                                                            preset=chosen.get("preset") or None)
        except core.ProtocolError:
            _HELD_CACHE[key] = None
        else:
            _HELD_CACHE[key] = round(chair_minutes(protocol))
        if len(_HELD_CACHE) > 512:  # a bounded memo: protocols and settings are few
            _HELD_CACHE.pop(next(iter(_HELD_CACHE)))
    return _HELD_CACHE[key]


def window(session: Session, start: datetime | None = None) -> tuple[datetime, datetime]:
    """When ``session`` holds its chair (from ``start``, by default its booked time)."""
    start = start or session.scheduled_at
    minutes = held_minutes(session.protocol, session.protocol_settings)
    return start, start + timedelta(minutes=minutes or 0)


def length_words(minutes: int | None) -> str:
    """120 -> "2 h", 160 -> "2 h 40 min", 45 -> "45 min"."""
    if not minutes:
        return ""
    hours, rest = divmod(int(minutes), 60)
    return " ".join(part for part in (f"{hours} h" if hours else "", f"{rest} min" if rest else "") if part)


def place_words(room: str, chair: str) -> str:
    return " · chair ".join(part for part in (room, chair) if part)


@dataclass(frozen=True)
class Clash:
    """Another session in the same room and chair at an overlapping time."""

    other: Session
    start: datetime
    end: datetime

    @property
    def words(self) -> str:
        p = self.other.patient
        start, end = timezone.localtime(self.start), timezone.localtime(self.end)
        what = ", ".join(part for part in (DRUG_LABELS.get(self.other.drug, self.other.drug),
                                           ROUTE_LABELS.get(self.other.route, self.other.route)) if part)
        return (f"{place_words(self.other.room, self.other.chair)} is also booked "
                f"{start:%a} {start.day} {start:%b %H:%M}–{end:%H:%M} for {p.family_name}, "
                f"{p.given_name} (MRN {p.mrn}, {what}, {self.other.state_words})")


def _same_place(room: str, chair: str) -> Q:
    return Q(room__iexact=room.strip(), chair__iexact=chair.strip())


def clashes_for(sessions: list[Session], *, clinic_id: int) -> dict[int, list[Clash]]:
    """For each of ``sessions`` with a room and a chair, the other sessions of the clinic in
    that chair whose time overlaps its own (cancelled, stopped and discharged sessions have
    left the chair). One query whatever the number of sessions."""
    placed = [s for s in sessions if s.room.strip() and s.chair.strip() and s.state not in ENDED]
    if not placed:
        return {}
    windows = {s.pk: window(s) for s in placed}
    earliest = min(start for start, _ in windows.values()) - LONGEST_HOLD
    latest = max(end for _, end in windows.values())
    places = reduce(or_, (_same_place(s.room, s.chair) for s in placed))
    others = list(Session.objects.filter(places, patient__clinic_id=clinic_id, scheduled_at__gte=earliest,
                                         scheduled_at__lt=latest)
                  .exclude(state__in=ENDED).exclude(pk__in=[s.pk for s in placed])
                  .select_related("patient").order_by("scheduled_at", "id"))
    found: dict[int, list[Clash]] = {}
    for session in placed:
        start, end = windows[session.pk]
        for other in others:
            if (other.room.strip().lower(), other.chair.strip().lower()) != (
                    session.room.strip().lower(), session.chair.strip().lower()):
                continue
            other_start, other_end = window(other)
            if other_start < end and start < other_end:
                found.setdefault(session.pk, []).append(Clash(other, other_start, other_end))
    return found


def clash_words(sessions: list[Session], *, clinic_id: int, limit: int = 4) -> list[str]:
    """The double bookings of ``sessions`` in words, for a warning after a booking."""
    lines: list[str] = []
    found = clashes_for(sessions, clinic_id=clinic_id)
    for session in sessions:
        for clash in found.get(session.pk, []):
            mine = timezone.localtime(session.scheduled_at)
            lines.append(f"The session of {mine:%a %d %b %H:%M}: {clash.words}.")
    if len(lines) > limit:
        lines = [*lines[:limit], f"…and {len(lines) - limit} more double booking(s): see the calendar."]
    return lines


@dataclass(frozen=True)
class Places:
    """What the booking forms offer: the clinic's rooms, and chairs (all, and room by room)."""

    rooms: list[str]
    chairs: list[str]
    from_settings: bool


def offered(clinic_id: int) -> Places:
    """The clinic's rooms and chairs from its session settings; a clinic that has not listed
    them is offered the rooms and chairs it has booked before (free entry stays allowed)."""
    listed = TreatmentSettings.for_clinic(clinic_id).rooms or []
    if listed:
        rooms = [r["name"] for r in listed if r.get("name")]
        chairs = sorted({c for r in listed for c in r.get("chairs") or []}, key=str.lower)
        return Places(rooms, chairs, True)
    used = (Session.objects.filter(patient__clinic_id=clinic_id).exclude(room="")
            .values_list("room", "chair").distinct().order_by("room", "chair")[:OFFERED_MAX * 4])
    rooms = sorted({room for room, _ in used}, key=str.lower)[:OFFERED_MAX]
    chairs = sorted({chair for _, chair in used if chair}, key=str.lower)[:OFFERED_MAX]
    return Places(rooms, chairs, False)
