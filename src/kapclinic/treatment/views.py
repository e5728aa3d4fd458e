"""The dosing session's pages: scheduling one, the live session page (state, next steps, the
checklists, the dose, the tablet vitals form, the vitals chart, alerts, the log) and the
room board. Every write goes through ``treatment.actions`` (or the alerts app's acknowledge).

The live parts poll (htmx, every few seconds) a partial. What the polls write to the audit
trail: docs/adr/0011-room-board-and-live-session-polling.md. In short, opening a page is
audited; a poll is audited only when what it shows changed since the one before (``seen``,
a digest of the records shown), so a screen left open all day does not flood the trail.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kapclinic.accounts.permissions import Action, require, role_can
from kapclinic.accounts.scoping import get_for_user
from kapclinic.alerts.forms import AcknowledgeForm
from kapclinic.alerts.models import Alert
from kapclinic.alerts.views import acknowledge_posted
from kapclinic.audit import trail
from kapclinic.clinical import protocols as core
from kapclinic.clinical.monitoring import devices, evaluate, load_rules, next_reading_due
from kapclinic.clinical.monitoring.plausibility import FIELD_WORDS
from kapclinic.clinical.sessions import allowed_next, check_transition
from kapclinic.patients.access import get_patient_for_user
from kapclinic.platform.charts import Chart, Text, local_text
from kapclinic.platform.idempotency import one_time_form
from kapclinic.treatment import actions, board, dose_controls, note_chart, vitals
from kapclinic.treatment import facts as gathered
from kapclinic.treatment.errors import FieldError, SessionConflict, StepRefused
from kapclinic.treatment.forms import (
    DISCHARGE_ITEMS,
    PRE_DOSE_ITEMS,
    ChecklistForm,
    DoseForm,
    ObservationForm,
    ScheduleForm,
    StepForm,
    VitalsForm,
)
from kapclinic.treatment.models import (
    ALERT_SOURCE,
    READING_RECORD,
    Administration,
    AdministrationEvent,
    ChecklistEntry,
    ChecklistItem,
    MonitorMessage,
    Session,
    SessionEvent,
    State,
    VitalReading,
)
from kapclinic.treatment.protocols import monitoring_settings, session_protocol
from kapclinic.treatment.reads import session_for_user
from kapclinic.treatment.second_clinician import member_named

POLL_SECONDS = 3  # a reading or alert entered at one station shows at the others within 5 s

STEP_WORDS = {State.CHECKED_IN: "Check in", State.CLEARED: "Clear to dose",
              State.DOSING: "Record the dose and start dosing",
              State.MONITORING: "Dosing finished: start observation",
              State.DISCHARGED: "Discharge", State.CANCELLED: "Cancel the session",
              State.STOPPED: "Stop the session early"}
NEEDS_REASON = (State.CANCELLED, State.STOPPED)
CRITERIA_WORDS = {"modified_aldrete": "Modified Aldrete score", "padss": "PADSS score"}


# ---- what the page and its polls show ------------------------------------------------------

def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _due_words(due: datetime, now: datetime) -> str:
    left = due - now
    if left.total_seconds() >= 60:
        return f"in {_minutes(left)} min"
    if left.total_seconds() > -60:
        return "now"
    return f"overdue by {_minutes(-left)} min"


@dataclass
class Live:
    """Everything the polled parts of the session page show, from a fixed number of queries."""

    session: Session
    protocol: core.Protocol
    now: datetime
    readings: list[VitalReading]
    alerts: list[Alert]
    administration: Administration | None
    events: list[SessionEvent]
    checklist: list[ChecklistEntry]
    overdue: list[str] = field(default_factory=list)
    next_due_at: datetime | None = None
    charts: list[Chart] = field(default_factory=list)
    dose_events: list[AdministrationEvent] = field(default_factory=list)  # pauses, devices...
    # the session's monitor messages with values not charted (newest first), and why
    unrecorded: list[MonitorMessage] = field(default_factory=list)

    @property
    def open_alerts(self) -> list[Alert]:
        return [a for a in self.alerts if a.acknowledged_at is None and a.entered_in_error_at is None]

    @property
    def clock(self) -> datetime:
        """Now, while the session is open; once it ended (discharged, stopped), its end: the
        counters since the dose and of observation stop there."""
        return self.session.state_at if self.session.ended else self.now

    @property
    def minutes_since_dose(self) -> int | None:
        return None if self.administration is None else _minutes(self.clock - self.administration.started_at)

    @property
    def next_due_words(self) -> str:
        return "" if self.next_due_at is None else _due_words(self.next_due_at, self.now)

    @property
    def next_due_overdue(self) -> bool:
        return self.next_due_at is not None and self.now - self.next_due_at > timedelta(minutes=1)

    @property
    def observed_minutes(self) -> int | None:
        if self.administration is None:
            return None
        start = (self.administration.started_at if self.protocol.observation_counted_from == "dose_start"
                 else self.administration.ended_at)
        return None if start is None else max(0, _minutes(self.clock - start))

    @property
    def latest_answers(self) -> dict[str, ChecklistEntry]:
        latest: dict[str, ChecklistEntry] = {}
        for entry in self.checklist:
            latest[entry.item] = entry
        return latest

    @property
    def reading_rows(self) -> list[dict[str, Any]]:
        """The readings table, newest first, each cell written once here: a monitored session
        has many readings (a bedside monitor sends one a minute), and template filters per
        cell were most of the page's time."""
        rows = []
        for r in reversed(self.readings):
            bp = (f"{_figure(r.sbp_mmhg) or '–'}/{_figure(r.dbp_mmhg) or '–'}"
                  if r.sbp_mmhg is not None or r.dbp_mmhg is not None else "")
            rows.append({"time": timezone.localtime(r.observed_at).strftime("%H:%M"),
                         "phase": r.get_phase_display().lower(), "bp": bp,
                         "hr": _figure(r.heart_rate_bpm), "spo2": _figure(r.spo2_pct),
                         "rr": _figure(r.resp_rate_per_min), "temp": _figure(r.temp_c),
                         "moaas": "" if r.moaas is None else str(r.moaas),
                         "by": (r.recorded_by.display_name if r.recorded_by
                                else f"Monitor {r.device}" if r.source == "device" else ""),
                         "in_error": r.entered_in_error_at is not None})
        return rows

    @property
    def not_charted(self) -> list[dict[str, str]]:
        """The monitors' values this session's chart does not show (a waveform, an impossible
        value, a code kapclinic does not record...), each with why, newest message first."""
        rows = []
        for kept in self.unrecorded:
            at = timezone.localtime(kept.received_at).strftime("%H:%M")
            for item in kept.not_stored[:MAX_NOT_CHARTED]:
                rows.append({"time": at, "what": _sent_words(item), "value": str(item.get("value", "")),
                             "why": str(item.get("why", ""))})
        return rows[:MAX_NOT_CHARTED]

    @property
    def log(self) -> list[dict[str, Any]]:
        """Steps, checklist answers, the dose and acknowledgements, newest first."""
        rows = [{"at": e.at, "what": f"{e.get_to_state_display()}", "detail": e.reason,
                 "by": e.recorded_by, "kind": "step"} for e in self.events if e.from_state]
        rows += [{"at": c.at, "what": c.get_item_display(), "kind": "checklist", "by": c.recorded_by,
                  "detail": _answer_words(c)} for c in self.checklist]
        if self.administration is not None:
            a = self.administration
            rows.append({"at": a.started_at, "what": "Dose started", "kind": "dose",
                         "by": a.administered_by, "detail": _dose_words(a)})
        rows += [{"at": e.at, "what": e.get_kind_display().replace("device", f"device {e.device_number}")
                  if e.device_number else e.get_kind_display(), "kind": "dose", "by": e.recorded_by,
                  "detail": e.reason} for e in self.dose_events]
        rows += [{"at": a.acknowledged_at, "what": "Alert acknowledged", "kind": "alert",
                  "by": a.acknowledged_by, "detail": f"{a.label}: {a.acknowledgement_note}"}
                 for a in self.alerts if a.acknowledged_at]
        return sorted(rows, key=lambda r: r["at"], reverse=True)

    def digest(self) -> str:
        """Changes when anything shown (not the clock) changes: the polls' audit marker."""
        parts = [self.session.state, self.session.version,
                 [(r.pk, r.entered_in_error_at is not None) for r in self.readings],
                 [(a.pk, a.acknowledged_at is not None) for a in self.alerts],
                 [c.pk for c in self.checklist], [e.pk for e in self.events],
                 None if self.administration is None else (self.administration.pk,
                                                           self.administration.ended_at),
                 [e.pk for e in self.dose_events], [m.pk for m in self.unrecorded]]
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


MAX_NOT_CHARTED = 30  # rows of monitor values not charted on the session page: the newest


def _sent_words(item: dict) -> str:
    """What a value a monitor sent was: its vital's name, else its code's, else the code."""
    if item.get("field") in FIELD_WORDS:
        return FIELD_WORDS[item["field"]][0]
    code = str(item.get("code", ""))
    found = devices.measurement(code) if code else None
    return found.label if found is not None else (f"code {code}" if code else "")


def _figure(value: float | None) -> str:
    """A reading as the nurse keyed it: 98, 36.6 (one decimal at most), nothing when absent."""
    if value is None:
        return ""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _answer_words(entry: ChecklistEntry) -> str:
    if entry.item == ChecklistItem.WEIGHT_TODAY and entry.value is not None:
        return f"{entry.value:g} kg"
    if entry.item == ChecklistItem.DISCHARGE_SCORE and entry.value is not None:
        return f"{entry.value:g}"
    if entry.note:
        return entry.note
    return entry.get_answer_display()


def _dose_words(a: Administration) -> str:
    per_kg = f" ({a.dose_mg_per_kg:g} mg/kg × {a.weight_kg:g} kg)" if a.dose_mg_per_kg and a.weight_kg else ""
    outside = "" if a.within_protocol else f"; outside the protocol: {a.override_reason}"
    lot = f", lot {a.lot}" if a.lot else ""
    return f"{a.dose_mg:g} mg {a.drug} {a.route}{per_kg}{lot}{outside}"


def load_live(session: Session, now: datetime) -> Live:
    readings = list(VitalReading.objects.filter(session=session).select_related("recorded_by")
                    .order_by("observed_at", "id"))
    alerts = list(Alert.objects.filter(source=ALERT_SOURCE, record_type=READING_RECORD,
                                       record_id__in=[r.pk for r in readings])
                  .select_related("acknowledged_by").order_by("raised_at", "id")) if readings else []
    given = [a for a in Administration.objects.filter(session=session).select_related("administered_by")
             .order_by("started_at", "id") if a.entered_in_error_at is None]
    live = Live(session, session_protocol(session), now, readings, alerts, given[-1] if given else None,
                list(SessionEvent.objects.filter(session=session).select_related("recorded_by")
                     .order_by("at", "id")),
                list(ChecklistEntry.objects.filter(session=session).select_related("recorded_by")
                     .order_by("at", "id")))
    if live.administration is not None:
        live.dose_events = list(AdministrationEvent.objects.filter(session=session)
                                .select_related("recorded_by").order_by("at", "id"))
    live.unrecorded = list(MonitorMessage.objects.filter(session=session).exclude(not_stored=[])
                           .order_by("-received_at", "-id")[:MAX_NOT_CHARTED])
    valid = [r for r in readings if r.entered_in_error_at is None]
    phase = vitals.PHASE_OF_STATE.get(State(session.state))
    settings = monitoring_settings(session.patient.clinic_id)
    if session.state in (State.DOSING, State.MONITORING):
        last = valid[-1].observed_at if valid else None
        started = live.administration.started_at if live.administration else None
        live.overdue = [a.label for a in evaluate(None, live.protocol, settings, now, last,
                                                  phase=phase, dose_started_at=started)]
        live.next_due_at = next_reading_due(live.protocol, settings, now, last, phase,
                                            started)
    live.charts = vitals_charts(valid, live, settings)
    return live


# ---- the vitals chart ----------------------------------------------------------------------

SERIES = {  # field: (short name, colour: a presentation attribute, each line its own thing)
    "sbp_mmhg": ("Systolic BP", "#a4262c"), "dbp_mmhg": ("Diastolic BP", "#9a5b00"),
    "heart_rate_bpm": ("Heart rate", "#1a5fb4"), "spo2_pct": ("SpO2", "#0b6e69"),
    "resp_rate_per_min": ("Breathing rate", "#6b3fa0"),
}
PANELS = (  # one chart per scale: (fields, title, unit, default low-high)
    (("sbp_mmhg", "dbp_mmhg", "heart_rate_bpm"), "Blood pressure and heart rate",
     "mmHg and beats/min", (40.0, 200.0)),
    (("spo2_pct",), "SpO2", "%", (85.0, 100.0)),
    (("resp_rate_per_min",), "Breathing rate", "breaths/min", (0.0, 30.0)),
)
OP_SIGNS = {">": ">", ">=": "≥", "<": "<", "<=": "≤"}


def thresholds(protocol: core.Protocol, settings) -> dict[str, list[tuple[float, str]]]:
    """The protocol's during- and after-dose alert thresholds (the clinic's values), by field."""
    rules = load_rules().rules
    found: dict[str, list[tuple[float, str]]] = {}
    for rule_id in protocol.monitoring_rules:
        rule = rules[rule_id]
        if not {"dosing", "after_dose"} & set(rule.phases):
            continue
        for c in rule.any:
            if c.from_baseline or c.field not in SERIES:
                continue
            value = settings.number(c.threshold)
            found.setdefault(c.field, []).append(
                (value, f"{SERIES[c.field][0]} {OP_SIGNS[c.op]} {value:g}"))
    return found


def vitals_charts(readings: list[VitalReading], live: Live, settings) -> list[Chart]:
    """Lines per vital sign over minutes since the dose (before it: negative), with the
    protocol's alert thresholds as labelled lines."""
    if not readings:
        return []
    zero = live.administration.started_at if live.administration else live.now
    minutes = {r.pk: (r.observed_at - zero).total_seconds() / 60 for r in readings}
    span = list(minutes.values()) + [0.0, (live.now - zero).total_seconds() / 60]
    lines_at = thresholds(live.protocol, settings)
    charts = []
    for index, (names, title, unit, (low, high)) in enumerate(PANELS):
        shown = [n for n in names if any(getattr(r, n) is not None for r in readings)]
        if not shown:
            continue
        values = [getattr(r, n) for r in readings for n in shown if getattr(r, n) is not None]
        limits = [v for n in shown for v, _ in lines_at.get(n, [])]
        chart = Chart("vitals-chart", width=640, height=230 if index == 0 else 170,
                      margin=(44, 128, 22, 44), grid=True, id=f"vitals-{index}",
                      label=f"{title} over the session, in {unit}; the numbers are in the "
                            "readings table")
        chart.value_y(min([low, *values, *limits]), max([high, *values, *limits]), count=4)
        # at least the first half hour, so a new session's few points are not stretched
        chart.value_x(min(min(span) - 2, -5), max(max(span) + 5, 30), count=7)
        chart.axis_titles(x_title="minutes since the dose started" if live.administration
                          else "minutes from now (no dose yet)")
        chart.texts.append(Text(chart.left, chart.top - 8, unit))
        merged: dict[float, list[str]] = {}
        for n in shown:
            for value, words in lines_at.get(n, []):
                merged.setdefault(value, []).append(words)
        for value, words in sorted(merged.items()):
            chart.rule(value, "vital-threshold", title="Alert threshold: " + "; ".join(words),
                       label="; ".join(words))
        for n in shown:
            name, colour = SERIES[n]
            points = [(minutes[r.pk], getattr(r, n)) for r in readings if getattr(r, n) is not None]
            if len(points) > 1:
                chart.line([x for x, _ in points], [y for _, y in points], "vital-line",
                           colour=colour, key=n, title=name)
            for x, y in points:
                chart.marker(x, y, f"vital-dot dot-{n}", r=3.5,
                             title=f"{name} {y:g} {FIELD_WORDS[n][1]} at {x:+.0f} min")
            chart.legend_entry(name, colour)
        charts.append(chart)
    return charts


# ---- what may be done next -----------------------------------------------------------------

def still_needed(session: Session, to: State, now: datetime,
                 known: gathered.Known | None = None) -> list[str]:
    """The guards a step would fail now, in the words the refusal would use (a read)."""
    protocol = session_protocol(session)
    found = gathered.gather(session, protocol, now, known=known)
    return [u.message for u in actions.with_clearance(check_transition(session.state, to, found.facts),
                                                      found.blockers)]


def _next_steps(live: Live, role: str) -> list[dict[str, Any]]:
    if not role_can(role, Action.SESSION_RUN):
        return []
    session = live.session
    known = gathered.Known(live.latest_answers, live.readings, live.administration, live.dose_events)
    steps = []
    for to in allowed_next(session.state):
        to = State(to)
        if to == State.DOSING:
            continue  # the dose form takes this step with the dose
        steps.append({"to": to.value, "words": STEP_WORDS[to], "needs_reason": to in NEEDS_REASON,
                      "needed": [] if to in NEEDS_REASON else still_needed(session, to, live.now, known),
                      "other_day": gathered.other_day(session, live.now) if to == State.CHECKED_IN else ""})
    return steps


def _checklist_items(session: Session, protocol: core.Protocol, role: str) -> tuple[str, ...]:
    if session.state in (State.CHECKED_IN, State.SCHEDULED, State.CLEARED):
        items = tuple(i for i in PRE_DOSE_ITEMS if i in protocol.checklist
                      or (i == ChecklistItem.WEIGHT_TODAY and protocol.weight_based))
    elif session.state == State.MONITORING:
        effects = {f"{e}_resolved" for e in protocol.effects_to_resolve}
        items = tuple(i for i in DISCHARGE_ITEMS if i in effects
                      or (i == ChecklistItem.DISCHARGE_SCORE
                          and protocol.discharge_criteria in CRITERIA_WORDS)
                      or (i == ChecklistItem.JUDGED_STABLE
                          and (protocol.discharge_criteria == "clinician_judgement"
                               or protocol.model.observation.clinician_judgement)))
    else:
        return ()
    if not role_can(role, Action.SESSION_RUN):  # the therapist writes the intention only
        items = tuple(i for i in items if i == ChecklistItem.INTENTION_NOTE)
        if not role_can(role, Action.SESSION_INTENTION):
            return ()
    return items


def _checklist_form(session, protocol, role, data=None) -> ChecklistForm | None:
    items = _checklist_items(session, protocol, role)
    if not items:
        return None
    return ChecklistForm(data, items=items,
                         score_words=CRITERIA_WORDS.get(protocol.discharge_criteria, "Discharge score"))


def _checklist_rows(form: ChecklistForm | None, live: Live) -> list[tuple[Any, ChecklistEntry | None]]:
    """Each item's field beside its latest answer (an answer can be given again: the latest counts)."""
    if form is None:
        return []
    latest = live.latest_answers
    for entry in latest.values():
        entry.answer_words = _answer_words(entry)
    return [(form[item], latest.get(item)) for item in form.items]


# ---- the session page ----------------------------------------------------------------------

def _live_context(request: HttpRequest, live: Live, page_version: int | None) -> dict[str, Any]:
    return {"session": live.session, "live": live, "patient": live.session.patient,
            "protocol": live.protocol, "poll_seconds": POLL_SECONDS, "seen": live.digest(),
            "page_version": page_version if page_version is not None else live.session.version,
            "ack_form": AcknowledgeForm(), **dose_controls.live_parts(request, live)}


def session_page(request: HttpRequest, session: Session, *, status: int = 200, refused=None,
                 forms: dict[str, Any] | None = None) -> HttpResponse:
    role = request.membership.role
    now = timezone.now()
    live = load_live(session, now)
    forms = forms or {}
    context = _live_context(request, live, None)
    running = session.state in (State.CHECKED_IN, State.CLEARED, State.DOSING, State.MONITORING)
    context["checklist_form"] = forms.get("checklist") or _checklist_form(session, live.protocol, role)
    context.update({
        "refused": refused, "steps": _next_steps(live, role),
        "dose_form": forms.get("dose") or (DoseForm(initial={"unit": live.protocol.dose_unit},
                                                    protocol=live.protocol)
                                           if session.state == State.CLEARED
                                           and role_can(role, Action.DOSE_ADMINISTER) else None),
        "vitals_form": forms.get("vitals") or (VitalsForm() if running
                                               and role_can(role, Action.SESSION_RUN) else None),
        "observation_form": forms.get("observation") or (
            ObservationForm(infusion=live.protocol.infusion_minutes is not None)
            if running and role_can(role, Action.SESSION_RUN) else None),
        "observations": list(session.observations.select_related("recorded_by")),
        "step_errors": forms.get("step"),
        "checklist_rows": _checklist_rows(context.get("checklist_form"), live),
        "weight": live.latest_answers.get(ChecklistItem.WEIGHT_TODAY),
        "score_words": CRITERIA_WORDS.get(live.protocol.discharge_criteria, ""),
        "dose_words": {"low": f"{live.protocol.dose_range[0]:g}", "high": f"{live.protocol.dose_range[1]:g}",
                       "cap": f"{live.protocol.cap:g}"},
    })
    context.update(dose_controls.page_parts(request, live, forms))
    context["session_notes"] = note_chart.for_session(request, session)
    return render(request, "treatment/session.html", context, status=status)


@require(Action.SESSION_VIEW)
@require_GET
def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    session = session_for_user(request, session_id, Action.SESSION_VIEW, audit_read=True)
    return session_page(request, session)


@require(Action.SESSION_VIEW)
@require_GET
def session_live(request: HttpRequest, session_id: int) -> HttpResponse:
    """The polled partial. Audited only when what it shows changed since ``seen`` (ADR 0011)."""
    session = session_for_user(request, session_id, Action.SESSION_VIEW)
    live = load_live(session, timezone.now())
    try:
        page_version = int(request.GET.get("v", ""))
    except ValueError:
        page_version = None
    context = _live_context(request, live, page_version)
    if request.GET.get("seen") != context["seen"]:
        trail.record("read", object_type="session", object_id=session.pk,
                     patient_id=session.patient_id, detail={"poll": True})
    return render(request, "treatment/_poll.html", context)


def _when(value: datetime | None) -> datetime:
    return value or timezone.now()


def _back(session: Session) -> HttpResponse:
    return redirect("session", session_id=session.pk)


@require(Action.SESSION_RUN)
@require_POST
@one_time_form
def take_step(request: HttpRequest, session_id: int) -> HttpResponse:
    session = session_for_user(request, session_id, Action.SESSION_RUN)
    form = StepForm(request.POST)
    if not form.is_valid():
        return session_page(request, session, status=422, forms={"step": form})
    to = form.cleaned_data["to"]
    try:
        actions.transition(session, to=to, at=_when(form.cleaned_data["at"]), by=request.user,
                           expected_version=form.cleaned_data["version"],
                           reason=form.cleaned_data["reason"], late_reason=form.cleaned_data["late_reason"])
    except StepRefused as exc:
        return session_page(request, session, status=409, refused={
            "step": STEP_WORDS.get(State(to), to), "reasons": [u.message for u in exc.unmet]})
    except SessionConflict as exc:
        session.refresh_from_db()
        return session_page(request, session, status=409, refused={"step": STEP_WORDS.get(State(to), to),
                                                                   "reasons": [str(exc)]})
    except FieldError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return session_page(request, session, status=422, forms={"step": form})
    session.refresh_from_db()
    messages.success(request, f"The session is now {session.state_words}.")
    return _back(session)


@require(Action.SESSION_INTENTION)
@require_POST
@one_time_form
def record_checklist(request: HttpRequest, session_id: int) -> HttpResponse:
    session = session_for_user(request, session_id, Action.SESSION_INTENTION)
    protocol = session_protocol(session)
    form = _checklist_form(session, protocol, request.membership.role, request.POST)
    if form is None:
        messages.error(request, "There is no checklist to answer at this step.")
        return _back(session)
    if form.is_valid() and not form.answers():
        form.add_error(None, "Answer at least one item.")
    if not form.is_valid():
        return session_page(request, session, status=422, forms={"checklist": form})
    now = timezone.now()
    try:
        with transaction.atomic():  # every answer of the form, or none
            for item, (answer, value, note) in form.answers().items():
                actions.record_checklist(session, item=item, answer=answer, value=value, note=note,
                                         at=now, by=request.user,
                                         late_reason=form.cleaned_data["late_reason"])
    except FieldError as exc:
        target = {"value": ChecklistItem.WEIGHT_TODAY if ChecklistItem.WEIGHT_TODAY in form.items
                  else ChecklistItem.DISCHARGE_SCORE, "note": ChecklistItem.INTENTION_NOTE}
        name = target.get(exc.field, exc.field)
        form.add_error(name if name in form.fields else None, exc.message)
        return session_page(request, session, status=422, forms={"checklist": form})
    messages.success(request, f"Checklist saved ({len(form.answers())} answer"
                              f"{'s' if len(form.answers()) != 1 else ''}).")
    return _back(session)


DOSE_FIELDS = {"dose_mg_per_kg": "dose", "dose_mg": "dose", "dose": "dose", "weight_kg": None,
               "second_password": "second_password", "second_code": "second_code",
               "second_clinician": "second_clinician", "override_reason": "override_reason",
               "at": "at", "late_reason": "late_reason"}


@require(Action.DOSE_ADMINISTER)
@require_POST
@one_time_form
def give_dose(request: HttpRequest, session_id: int) -> HttpResponse:
    """Record the dose and take the step into dosing, in one transaction."""
    session = session_for_user(request, session_id, Action.DOSE_ADMINISTER)
    form = DoseForm(request.POST, protocol=session_protocol(session))
    if not form.is_valid():
        return session_page(request, session, status=422, forms={"dose": form})
    data = form.cleaned_data
    second = None
    if data["second_clinician"]:
        second = member_named(session, data["second_clinician"])
        if second is None:
            form.add_error("second_clinician",
                           f"There is no user '{data['second_clinician']}' in this clinic.")
            return session_page(request, session, status=422, forms={"dose": form})
    fields = {**form.dose_fields(), "product_ndc": data["product_ndc"],
              "concentration_mg_per_ml": data["concentration_mg_per_ml"], "lot": data["lot"],
              "rate_mg_per_min": data["rate_mg_per_min"], "override_reason": data["override_reason"],
              "second_clinician": second, "second_password": data["second_password"],
              "second_code": data["second_code"]}
    try:
        actions.transition(session, to=State.DOSING, at=_when(data["at"]), by=request.user,
                           expected_version=session.version, late_reason=data["late_reason"],
                           administration=fields)
    except FieldError as exc:
        name = DOSE_FIELDS.get(exc.field, exc.field)
        form.add_error(name if name in form.fields else None, exc.message)
        return session_page(request, session, status=422, forms={"dose": form})
    except StepRefused as exc:
        return session_page(request, session, status=409, forms={"dose": form}, refused={
            "step": STEP_WORDS[State.DOSING], "reasons": [u.message for u in exc.unmet]})
    except SessionConflict as exc:
        session.refresh_from_db()
        return session_page(request, session, status=409, refused={
            "step": STEP_WORDS[State.DOSING], "reasons": [str(exc)]})
    messages.success(request, "Dose recorded: the session is being dosed.")
    return _back(session)


@require(Action.DOSE_ADMINISTER)
@require_GET
def dose_preview(request: HttpRequest, session_id: int) -> HttpResponse:
    """The dose in the other unit, and whether it is within the protocol, as it is typed
    (a calculation on the weight the page already shows; nothing is written or newly shown,
    so it is not audited)."""
    session = session_for_user(request, session_id, Action.DOSE_ADMINISTER)
    protocol = session_protocol(session)
    weight = gathered.latest_checklist(session).get(ChecklistItem.WEIGHT_TODAY)
    result, problem = None, ""
    try:
        dose = float(request.GET.get("dose", ""))
        per_kg = request.GET.get("unit") == "mg_per_kg"
        result = core.calculate_dose(
            protocol, None if weight is None else weight.value,
            dose_mg_per_kg=dose if per_kg else None, dose_mg=None if per_kg else dose,
            weight_date=None if weight is None else gathered.local_date(weight.at, session),
            today=gathered.weight_day(session, timezone.now(), weight), **gathered.dose_context(session))
    except ValueError:
        problem = "Type the dose to see it in the other unit."
    except core.DoseInputError as exc:
        problem = f"{exc.field.replace('_', ' ').capitalize()}: {exc.problem}"
    return render(request, "treatment/_dose_preview.html", {
        "result": result, "problem": problem,
        "mg": "" if result is None else f"{result.dose_mg:g}",
        "per_kg": "" if result is None or result.dose_mg_per_kg is None else f"{result.dose_mg_per_kg:g}",
        "weight_kg": "" if result is None or result.weight_kg is None else f"{result.weight_kg:g}"})


@require(Action.SESSION_RUN)
@require_POST
@one_time_form
def record_vitals(request: HttpRequest, session_id: int) -> HttpResponse:
    session = session_for_user(request, session_id, Action.SESSION_RUN)
    form = VitalsForm(request.POST)
    if not form.is_valid():
        return session_page(request, session, status=422, forms={"vitals": form})
    try:
        recorded = actions.record_vitals(session, observed_at=_when(form.cleaned_data["observed_at"]),
                                         values=form.values(), by=request.user,
                                         late_reason=form.cleaned_data["late_reason"])
    except FieldError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return session_page(request, session, status=422, forms={"vitals": form})
    at = local_text(recorded.reading.observed_at, "%H:%M")
    if not recorded.created:
        messages.info(request, f"That reading ({at}) was already saved; it is kept once.")
    elif recorded.alerts:  # the alerts themselves are on the page, with what to do
        urgent = sum(a.priority == Alert.Priority.URGENT for a in recorded.alerts)
        messages.error(request, f"Reading at {at} saved. It raised {len(recorded.alerts)} alert"
                                f"{'s' if len(recorded.alerts) != 1 else ''}"
                                f"{f' ({urgent} urgent)' if urgent else ''}: see below.")
    else:
        messages.success(request, f"Reading at {at} saved.")
    for warning in recorded.warnings:
        messages.warning(request, f"Check: {warning}")
    return redirect(reverse("session", args=[session.pk]) + "#vitals-h")


@require(Action.ALERT_ACKNOWLEDGE)
@require_POST
@one_time_form
def acknowledge(request: HttpRequest, session_id: int, alert_id: int) -> HttpResponse:
    """The alerts app's acknowledgement, from the session page (and back to it)."""
    session = session_for_user(request, session_id, Action.SESSION_VIEW)
    readings = VitalReading.objects.filter(session=session).values("pk")
    alert = get_for_user(request, Alert.objects.filter(source=ALERT_SOURCE, record_type=READING_RECORD,
                                                       record_id__in=readings),
                         alert_id, Action.ALERT_ACKNOWLEDGE, audit_read=False)
    refused = acknowledge_posted(request, alert)
    if refused is not None:
        messages.error(request, refused.refusal())
    return _back(session)


# ---- scheduling ----------------------------------------------------------------------------

@require(Action.SESSION_SCHEDULE)
@require_http_methods(["GET", "POST"])
@one_time_form
def schedule(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.SESSION_SCHEDULE,
                                   audit_read=request.method == "GET")
    form = ScheduleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            session = actions.schedule_session(patient=patient, by=request.user, **form.cleaned_data)
        except FieldError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Session booked for {local_text(session.scheduled_at)}.")
            return _back(session)
    return render(request, "treatment/schedule.html", {"patient": patient, "form": form},
                  status=422 if form.errors else 200)


# ---- the room board ------------------------------------------------------------------------

def _board_context(request: HttpRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    now = timezone.now()
    rows = board.in_progress(request.membership.clinic_id, now)
    for row in rows:
        due = row["next_reading_due_at"]
        row["due_words"] = _due_words(due, now) if due else ""
        row["due_overdue"] = bool(due and now - due > timedelta(minutes=1)) or bool(row["overdue"])
    digest = hashlib.sha256(repr([(r["id"], r["state"], r["version"], r["last_reading_at"],
                                   [a["id"] for a in r["open_alerts"]]) for r in rows])
                            .encode()).hexdigest()[:16]
    return {"rows": rows, "seen": digest, "poll_seconds": POLL_SECONDS, "now": now}, rows


@require(Action.SESSION_VIEW)
@require_GET
def room_board(request: HttpRequest) -> HttpResponse:
    context, rows = _board_context(request)
    board.audit(rows)
    return render(request, "treatment/board.html", context)


@require(Action.SESSION_VIEW)
@require_GET
def room_board_live(request: HttpRequest) -> HttpResponse:
    """The board's poll: audited like opening it, but only when what it shows changed."""
    context, rows = _board_context(request)
    if request.GET.get("seen") != context["seen"]:
        board.audit(rows)
    return render(request, "treatment/_board.html", context)


@require(Action.SESSION_RUN)
@require_POST
@one_time_form
def record_observation(request: HttpRequest, session_id: int) -> HttpResponse:
    """A side effect seen or an intervention given, from the session page."""
    session = session_for_user(request, session_id, Action.SESSION_RUN)
    form = ObservationForm(request.POST,
                           infusion=session_protocol(session).infusion_minutes is not None)
    if form.is_valid():
        data = form.cleaned_data
        kind, code = data["item"].split(":", 1)
        try:
            actions.record_observation(session, kind=kind, code=code, at=data["at"] or timezone.now(),
                                       note=data["note"], late_reason=data["late_reason"], by=request.user)
        except FieldError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Recorded.")
            return _back(session)
    return session_page(request, session, status=422, forms={"observation": form})
