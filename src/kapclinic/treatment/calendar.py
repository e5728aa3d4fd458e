"""The clinic's calendar: dosing sessions and therapy visits of a day or a week, in columns by
room and chair or by clinician, from two queries whatever the number of entries.

Cancelled visits are left out (the course page keeps them with their reasons). Times are the
clinic's (the request activates its zone).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.urls import reverse
from django.utils import timezone

from kapclinic.audit import trail
from kapclinic.platform.labels import DRUG_LABELS, ROUTE_LABELS
from kapclinic.treatment import chairs
from kapclinic.treatment.models import ENDED, Session, State, TherapyVisit, VisitState

VIEWS = ("day", "week")
GROUPINGS = ("room", "clinician")
# a busy clinic's week is a few hundred entries; beyond this the page asks for a narrower view
MAX_ENTRIES = 1500
UNASSIGNED = "Not assigned"
PHASE_WORDS = {"induction": "Induction", "maintenance": "Maintenance", "continuation": "Continuation",
               "booster": "Booster", "added": "Added session"}


@dataclass(frozen=True)
class Entry:
    kind: str          # "dose", "preparation", "integration"
    at: datetime
    patient_id: int
    patient: str       # "Family, Given"
    mrn: str
    what: str          # "IV racemic ketamine · induction", "Integration therapy"
    state: str
    room: str          # "Room 1 · chair A"
    person: str        # who supervises or gives the therapy
    url: str
    minutes: int | None = None  # a dose: how long it holds the chair (the protocol's)
    clash: bool = False         # a dose: its chair is booked for another at an overlapping time

    @property
    def length(self) -> str:
        return chairs.length_words(self.minutes)

    @property
    def local_end(self) -> datetime | None:
        return timezone.localtime(self.at + timedelta(minutes=self.minutes)) if self.minutes else None

    @property
    def local(self) -> datetime:
        return timezone.localtime(self.at)


@dataclass
class Calendar:
    view: str
    by: str
    start: date
    days: list[date]
    columns: list[str]
    # (column, day) -> entries by time
    cells: dict[tuple[str, date], list[Entry]]
    entries: list[Entry]
    truncated: bool

    def cell(self, column: str, day: date) -> list[Entry]:
        return self.cells.get((column, day), [])

    @property
    def rows(self) -> list[tuple[str, list[list[Entry]]]]:
        """The week view's rows: each column name with its cells day by day."""
        return [(column, [self.cell(column, day) for day in self.days]) for column in self.columns]

    @property
    def by_column(self) -> list[tuple[str, list[Entry]]]:
        """The day view: each column with its entries of the day."""
        return [(column, self.cell(column, self.start)) for column in self.columns]


def _name(user) -> str:
    return user.display_name if user is not None else UNASSIGNED


def _room(room: str, chair: str = "") -> str:
    if not room and not chair:
        return ""
    return " · chair ".join(part for part in (room, chair) if part)


def _short(drug: str, route: str) -> str:
    """A calendar cell's few words for the dose: "Racemic ketamine, IV infusion"."""
    return ", ".join(part for part in (DRUG_LABELS.get(drug, drug), ROUTE_LABELS.get(route, route)) if part)


def _sessions(clinic_id: int, start: datetime, end: datetime) -> list[Entry]:
    found = (Session.objects.filter(patient__clinic_id=clinic_id, scheduled_at__gte=start,
                                    scheduled_at__lt=end)
             .exclude(state=State.CANCELLED).select_related("patient", "clinician")
             .order_by("scheduled_at", "id")[:MAX_ENTRIES + 1])
    clashing = _double_booked(found)
    return [Entry("dose", s.scheduled_at, s.patient_id, f"{s.patient.family_name}, {s.patient.given_name}",
                  s.patient.mrn, " · ".join(part for part in (_short(s.drug, s.route),
                                                              PHASE_WORDS.get(s.course_phase, "")) if part),
                  s.state_words, _room(s.room, s.chair), _name(s.clinician),
                  reverse("session", args=[s.pk]), chairs.held_minutes(s.protocol, s.protocol_settings),
                  s.pk in clashing) for s in found]


def _double_booked(sessions) -> set[int]:
    """The shown sessions whose chair another shown session holds at an overlapping time
    (found among the entries, no query)."""
    by_chair: dict[tuple[str, str], list[tuple[datetime, datetime, int]]] = defaultdict(list)
    for s in sessions:
        if s.room.strip() and s.chair.strip() and s.state not in ENDED:
            start, end = chairs.window(s)
            by_chair[(s.room.strip().lower(), s.chair.strip().lower())].append((start, end, s.pk))
    found: set[int] = set()
    for held in by_chair.values():
        held.sort()
        latest_end, latest_pk = None, None
        for start, end, pk in held:
            if latest_end is not None and start < latest_end:
                found.update((pk, latest_pk))
            if latest_end is None or end > latest_end:
                latest_end, latest_pk = end, pk
    return found


def _therapy(clinic_id: int, start: datetime, end: datetime) -> list[Entry]:
    found = (TherapyVisit.objects.filter(patient__clinic_id=clinic_id, scheduled_at__gte=start,
                                         scheduled_at__lt=end)
             .exclude(state=VisitState.CANCELLED).select_related("patient", "therapist")
             .order_by("scheduled_at", "id")[:MAX_ENTRIES + 1])
    return [Entry(v.kind, v.scheduled_at, v.patient_id, f"{v.patient.family_name}, {v.patient.given_name}",
                  v.patient.mrn, f"{v.get_kind_display()} therapy", v.get_state_display(),
                  _room(v.room), _name(v.therapist),
                  reverse("course", args=[v.patient_id, v.course_id])) for v in found]


def build(clinic_id: int, day: date, *, view: str = "week", by: str = "room") -> Calendar:
    if view == "week":
        start = day - timedelta(days=day.weekday())  # weeks start on Monday
        days = [start + timedelta(days=i) for i in range(7)]
    else:
        start, days = day, [day]
    zone = timezone.get_current_timezone()
    begin = datetime.combine(days[0], time.min, tzinfo=zone)
    end = datetime.combine(days[-1] + timedelta(days=1), time.min, tzinfo=zone)
    entries = sorted(_sessions(clinic_id, begin, end) + _therapy(clinic_id, begin, end),
                     key=lambda e: (e.at, e.patient))
    truncated = len(entries) > MAX_ENTRIES
    entries = entries[:MAX_ENTRIES]
    cells: dict[tuple[str, date], list[Entry]] = defaultdict(list)
    for entry in entries:
        column = (entry.room or ("Therapy rooms" if entry.kind != "dose" else UNASSIGNED)
                  if by == "room" else entry.person)
        cells[(column, entry.local.date())].append(entry)
    columns = sorted({column for column, _ in cells}, key=lambda c: (c == UNASSIGNED, c.lower()))
    return Calendar(view, by, start, days, columns, dict(cells), entries, truncated)


def audit(calendar: Calendar) -> None:
    """Who was shown: one list entry per patient on the calendar, or the empty calendar read."""
    patients = sorted({entry.patient_id for entry in calendar.entries})
    trail.record_many([trail.Event("list", "calendar", calendar.start.isoformat(), patient_id=pid)
                       for pid in patients] or [trail.Event("read", "calendar")])
