"""The printable record of one dosing session: everything the session recorded, on one page
that prints cleanly on A4 and Letter (treatment/record.html and treatment/record.css).

    build_record(session) -> SessionRecord     a fixed number of queries, whatever its length
    session_record(request, session_id)        the page (SESSION_VIEW; another clinic's: 404)

Nothing recorded is left out: an entry marked entered in error is shown struck through with
who marked it, when and why; an earlier checklist answer replaced by a later one is shown
as replaced. Opening the record is audited as a read of the session (``detail.view``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from kapclinic.accounts.permissions import Action, require
from kapclinic.alerts.models import Alert
from kapclinic.audit import trail
from kapclinic.clinical import protocols as core
from kapclinic.platform import extensions as ext
from kapclinic.treatment.models import (
    ALERT_SOURCE,
    READING_RECORD,
    Administration,
    AdministrationEvent,
    ChecklistEntry,
    ChecklistItem,
    Session,
    SessionEvent,
    SessionObservation,
    State,
    TreatmentSettings,
    VitalReading,
)
from kapclinic.treatment.protocols import session_protocol
from kapclinic.treatment.reads import session_for_user
from kapclinic.treatment.rems import SESSION_RECORD

CRITERIA_WORDS = {"modified_aldrete": "Modified Aldrete score", "padss": "PADSS score"}
JUDGEMENT_WORDS = "A clinician's judgement that the patient is clinically stable (no score)"
DISCHARGE_ITEMS = (ChecklistItem.SEDATION_RESOLVED, ChecklistItem.DISSOCIATION_RESOLVED,
                   ChecklistItem.RESPIRATORY_DEPRESSION_RESOLVED, ChecklistItem.DISCHARGE_SCORE,
                   ChecklistItem.JUDGED_STABLE)


@dataclass
class Entry:
    """One line of the record: what, when it happened, who recorded it and when (shown when
    it was written down later than the clinic's allowance), with any reasons."""

    at: datetime
    what: str
    detail: str = ""
    by: str = ""
    recorded_at: datetime | None = None
    late: bool = False
    late_reason: str = ""
    replaced: bool = False  # a checklist answer a later answer to the same item replaced


@dataclass
class Given:
    """One administration with what happened to it after it started."""

    row: Administration
    events: list[AdministrationEvent]
    late: bool

    @property
    def in_error(self) -> bool:
        return self.row.entered_in_error_at is not None

    @property
    def devices_mg(self) -> float | None:
        devices = [e.device_mg or 0 for e in self.events if e.kind == "device"]
        return sum(devices) if devices else None


@dataclass
class SessionRecord:
    session: Session
    protocol: core.Protocol | None
    printed_at: datetime
    steps: list[Entry]
    checklist: list[Entry]
    given: list[Given]
    readings: list[VitalReading]
    alerts: list[Alert]
    discharge: dict[str, Any] = field(default_factory=dict)
    observations: list[SessionObservation] = field(default_factory=list)  # side effects, interventions
    cadss6_peak: float | None = None  # the highest CADSS-6 scored in the session (measures)

    @property
    def patient(self):
        return self.session.patient

    @property
    def protocol_version(self) -> str:
        """The protocol file's version the session ran (stored as ``id@version``)."""
        return self.session.protocol_version.rpartition("@")[2]

    @property
    def ended_early(self) -> bool:
        return self.session.state in (State.CANCELLED, State.STOPPED)


def _name(user) -> str:
    return "" if user is None else user.display_name


def _is_late(at: datetime, recorded_at: datetime | None, allowance: timedelta) -> bool:
    return recorded_at is not None and recorded_at - at > allowance


def _answer_words(entry: ChecklistEntry) -> str:
    if entry.item == ChecklistItem.WEIGHT_TODAY and entry.value is not None:
        return f"{entry.value:g} kg"
    if entry.item == ChecklistItem.DISCHARGE_SCORE and entry.value is not None:
        return f"score {entry.value:g}"
    words = entry.get_answer_display()
    return f"{words}: {entry.note}" if entry.note else words


def _steps(events: list[SessionEvent], allowance: timedelta) -> list[Entry]:
    out = []
    for e in events:
        what = "Booked" if not e.from_state else e.get_to_state_display()
        out.append(Entry(e.at, what, e.reason, _name(e.recorded_by), e.recorded_at,
                         _is_late(e.at, e.recorded_at, allowance), e.late_reason))
    return out


def _checklist(entries: list[ChecklistEntry], allowance: timedelta) -> list[Entry]:
    last_of = {c.item: c.pk for c in entries}  # entries are in order: the last one counts
    return [Entry(c.at, c.get_item_display(), _answer_words(c), _name(c.recorded_by), c.recorded_at,
                  _is_late(c.at, c.recorded_at, allowance), c.late_reason,
                  replaced=last_of[c.item] != c.pk) for c in entries]


def _discharge(session: Session, protocol: core.Protocol | None, entries: list[ChecklistEntry],
               given: list[Given], events: list[SessionEvent]) -> dict[str, Any]:
    """The discharge criteria the protocol uses, what was answered, and the observation."""
    latest = {c.item: c for c in entries if c.item in DISCHARGE_ITEMS}
    dose = next((g.row for g in given if not g.in_error), None)
    ended = next((e for e in events if e.to_state in (State.DISCHARGED, State.STOPPED)), None)
    out: dict[str, Any] = {"answers": [(ChecklistItem(item).label, _answer_words(latest[item]))
                                       for item in DISCHARGE_ITEMS if item in latest]}
    if protocol is not None:
        criteria = protocol.discharge_criteria
        if criteria in CRITERIA_WORDS:
            out["criteria"] = (f"{CRITERIA_WORDS[criteria]} of at least "
                               f"{protocol.discharge_score_at_least:g}")
        else:
            out["criteria"] = JUDGEMENT_WORDS
        out["minimum_minutes"] = protocol.min_observation_minutes
        out["counted_from"] = ("the start of the dose" if protocol.observation_counted_from == "dose_start"
                               else "the end of the dose")
        if dose is not None and ended is not None:
            start = dose.started_at if protocol.observation_counted_from == "dose_start" else dose.ended_at
            if start is not None:
                out["observed_minutes"] = max(0, int((ended.at - start).total_seconds() // 60))
    if ended is not None:
        out["ended"] = ended
    return out


def build_record(session: Session) -> SessionRecord:
    """Every record of the session, its users fetched with it (eight queries)."""
    allowance = timedelta(minutes=TreatmentSettings.for_clinic(session.patient.clinic_id).late_entry_minutes)
    try:
        protocol: core.Protocol | None = session_protocol(session)
    except core.UnknownProtocolError:
        protocol = None  # the clinic removed the file: the session stays on record
    events = list(SessionEvent.objects.filter(session=session).select_related("recorded_by")
                  .order_by("at", "id"))
    entries = list(ChecklistEntry.objects.filter(session=session).select_related("recorded_by")
                   .order_by("at", "id"))
    administrations = list(Administration.objects.filter(session=session).select_related(
        "administered_by", "second_clinician", "entered_in_error_by").order_by("started_at", "id"))
    course = list(AdministrationEvent.objects.filter(session=session).select_related("recorded_by")
                  .order_by("at", "id"))
    given = [Given(a, [e for e in course if e.administration_id == a.pk],
                   _is_late(a.started_at, a.recorded_at, allowance)) for a in administrations]
    readings = list(VitalReading.objects.filter(session=session)
                    .select_related("recorded_by", "entered_in_error_by").order_by("observed_at", "id"))
    # the readings' alerts and the session's own (a REMS form reminder)
    about = Q(record_type=READING_RECORD, record_id__in=[r.pk for r in readings]) | Q(
        record_type=SESSION_RECORD, record_id=session.pk)
    alerts = list(Alert.objects.filter(about, source=ALERT_SOURCE)
                  .select_related("acknowledged_by", "entered_in_error_by").order_by("raised_at", "id"))
    observations = list(SessionObservation.objects.filter(session=session).select_related("recorded_by"))
    return SessionRecord(session, protocol, timezone.now(), _steps(events, allowance),
                         _checklist(entries, allowance), given, readings, alerts,
                         _discharge(session, protocol, entries, given, events), observations,
                         ext.session_peaks([session.pk]).get(session.pk, {}).get("cadss6"))


@require(Action.SESSION_VIEW)
@require_GET
def session_record(request: HttpRequest, session_id: int) -> HttpResponse:
    session = session_for_user(request, session_id, Action.SESSION_VIEW)
    record = build_record(session)
    trail.record("read", object_type="session", object_id=session.pk, patient_id=session.patient_id,
                 detail={"view": "record"})
    return render(request, "treatment/record.html", {"record": record, "session": session,
                                                     "patient": session.patient})
