"""What the live session page shows about the dose once it started, and the buttons that record
what happens to it: Pause (with why), Resume and Stop for an infusion; "Device N given" for a
nasal spray. Each button is offered only in the state and to the roles the action allows
(``actions.record_administration_event``; the API's ``/administration/events`` takes the same).

The controls sit inside the polled part of the page (ADR 0011), so a pause taken at another
station changes the buttons here within one poll. The forms a nurse types into are marked
``hx-preserve`` with ids that name their kind: a poll keeps a half-written reason, and drops the
form when its kind is no longer allowed (the Pause form of an infusion paused elsewhere).

Also here: the predicted curve and the earlier doses (decision support, not an order) for
the roles that use the dose explorer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest

from kapclinic.accounts.permissions import Action, role_can
from kapclinic.clinical import protocols as core
from kapclinic.clinical.monitoring import load_rules
from kapclinic.treatment import dose_history, dose_response, infusion
from kapclinic.treatment import facts as gathered
from kapclinic.treatment.forms import DoseEventForm
from kapclinic.treatment.models import ENDED, ChecklistItem, State
from kapclinic.treatment.models import AdministrationEventKind as Kind

PAUSE_ACTION = "pause_infusion"  # the monitoring rules' code for "pause the infusion"


@dataclass
class DoseControls:
    """Where the dose stands and the forms this role may use now (kind -> form)."""

    course: dict[str, Any] | None
    forms: dict[str, DoseEventForm] = field(default_factory=dict)
    next_device: int | None = None
    device_rest_until: datetime | None = None
    rest_minutes: float | None = None                     # the label's rest between devices
    devices: list[Any] = field(default_factory=list)      # the device events, in order
    last_change: Any = None                               # the latest pause, resume or stop
    pause_alerts: set[int] = field(default_factory=set)   # open alerts a pause would answer

    @property
    def any(self) -> bool:
        return bool(self.forms)


def _recommends_pause(kind: str) -> bool:
    rule = load_rules().rules.get(kind)
    return rule is not None and PAUSE_ACTION in rule.actions


def dose_controls(live: Any, role: str, bound: DoseEventForm | None = None) -> DoseControls:
    """``live`` is the page's ``views.Live`` (its administration, dose events, alerts); no query."""
    given = live.administration
    events = [e for e in live.dose_events if given is not None and e.administration_id == given.pk]
    controls = DoseControls(infusion.summary(given, events, live.protocol, live.now))
    course = controls.course
    if course is None:
        return controls
    may = role_can(role, Action.DOSE_ADMINISTER)
    kinds: list[tuple[str, dict[str, Any]]] = []
    if course["kind"] == "infusion":
        changes = [e for e in events if e.kind != Kind.DEVICE]
        controls.last_change = changes[-1] if changes else None
        if may and live.session.state == State.DOSING:
            if course["state"] == "running":
                kinds = [(Kind.PAUSE, {}), (Kind.STOP, {})]
                if role_can(role, Action.ALERT_ACKNOWLEDGE):
                    controls.pause_alerts = {a.pk for a in live.open_alerts if _recommends_pause(a.kind)}
            elif course["state"] == "paused":
                kinds = [(Kind.RESUME, {}), (Kind.STOP, {})]
    elif course["kind"] == "devices":
        controls.devices = [e for e in events if e.kind == Kind.DEVICE]
        if (course["devices_given"] < course["devices_expected"]
                and live.session.state in (State.DOSING, State.MONITORING)):
            controls.next_device = course["devices_given"] + 1
            rest = controls.rest_minutes = infusion.device_rest_minutes(live.protocol)
            if controls.devices and rest:
                controls.device_rest_until = controls.devices[-1].at + timedelta(minutes=rest)
            if may:
                kinds = [(Kind.DEVICE, {"device_number": controls.next_device})]
    for kind, extra in kinds:
        if bound is not None and bound.data.get("kind") == kind:
            controls.forms[kind] = bound
        else:
            controls.forms[kind] = DoseEventForm(kind=kind, initial=extra)
    return controls


def live_parts(request: HttpRequest, live: Any) -> dict[str, Any]:
    """For the page and each poll: the dose's controls and the predicted curve (which moves
    its "now" line with the clock; the curve itself is computed once per dose)."""
    role = request.membership.role
    parts: dict[str, Any] = {"dose": dose_controls(live, role)}
    if _decision_support(live, role):
        patient = live.session.patient
        parts["predicted"], parts["predicted_missing"] = dose_response.predicted(
            live.protocol, live.administration, live.dose_events, _weight(live),
            patient.age_on(live.now.date()), live.now, _usual(live))
    return parts


def _decision_support(live: Any, role: str) -> bool:
    """The curve and the earlier doses: for the roles that use the dose explorer, in a session
    that has a dose or may still have one."""
    return role_can(role, Action.PK_SIMULATE) and (live.administration is not None
                                                  or live.session.state not in ENDED)


def page_parts(request: HttpRequest, live: Any, forms: dict[str, Any]) -> dict[str, Any]:
    """For the page only: a refused form put back with its error, and the earlier doses."""
    role = request.membership.role
    parts: dict[str, Any] = {"alert_pause": forms.get("alert_pause")}
    if forms.get("dose_event") is not None:
        parts["dose"] = dose_controls(live, role, forms["dose_event"])
    if _decision_support(live, role):
        planned = None
        if live.administration is None:
            planned, _ = dose_response.todays_dose(live.protocol, None, [], _weight(live), _usual(live))
        parts["history"] = dose_history.dose_history(
            live.session, live.administration, None if planned is None else planned.dose_mg,
            None if planned is None else planned.dose_mg_per_kg, live.readings, live.now)
    return parts


def _usual(live: Any) -> float | None:
    """Before the dose, the one to plan for this patient (their age, their first dose or not):
    one query, only while no dose is recorded."""
    if live.administration is not None:
        return None
    return core.usual_dose(live.protocol, **gathered.dose_context(live.session))


def _weight(live: Any) -> float | None:
    weight = live.latest_answers.get(ChecklistItem.WEIGHT_TODAY)
    return None if weight is None else weight.value
