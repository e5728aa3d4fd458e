"""Bedside monitor pages: the clinic's monitors and where they stand (register, move, retire),
and the unmatched queue, where a nurse assigns a message no session claimed to the session in
progress it belongs to. Writes go through ``monitors.intake`` (messages) or are settings."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kapclinic.accounts.permissions import Action, require
from kapclinic.accounts.scoping import for_clinic, get_for_user
from kapclinic.audit import trail
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.forms import VITAL_LABELS
from kapclinic.treatment.models import (
    IN_PROGRESS,
    MessageStatus,
    MonitorDevice,
    MonitorMessage,
    Session,
)
from kapclinic.treatment.monitors import intake, pcd01
from kapclinic.treatment.settings_actions import register_monitor

SHOWN = 200


class DeviceForm(forms.Form):
    device_id = forms.CharField(label="Device id (as the monitor sends it: MSH-3 or OBX-18, e.g. an "
                                      "EUI-64)", max_length=100)
    label = forms.CharField(label="Name", max_length=80, required=False)
    room = forms.CharField(label="Room", max_length=60)
    chair = forms.CharField(label="Chair", max_length=60, required=False)
    active = forms.BooleanField(label="In use", required=False, initial=True)


@require(Action.SESSION_SETTINGS)
@require_http_methods(["GET", "POST"])
def monitors(request: HttpRequest) -> HttpResponse:
    """The clinic's monitors: registering one again with the same id moves (or retires) it."""
    clinic_id = request.membership.clinic_id
    form = DeviceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, _ = register_monitor(clinic_id=clinic_id, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for name, problems in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, problems)
        else:
            messages.success(request, f"Monitor {device.device_id} is at {device.room}"
                                      f"{' chair ' + device.chair if device.chair else ''}"
                                      f"{'' if device.active else ' (not in use)'}.")
            return redirect("monitors")
    devices = list(for_clinic(MonitorDevice, clinic_id))
    return render(request, "treatment/monitors.html", {"form": form, "devices": devices},
                  status=422 if form.errors else 200)


@require(Action.SESSION_RUN)
@require_GET
def unmatched(request: HttpRequest) -> HttpResponse:
    clinic = request.membership.clinic
    waiting = list(for_clinic(MonitorMessage.objects.filter(status=MessageStatus.UNMATCHED),
                              clinic.pk).order_by("-received_at")[:SHOWN])
    for kept in waiting:
        kept.values = _values(kept, clinic)
    sessions = list(for_clinic(Session.objects.filter(state__in=IN_PROGRESS)
                               .select_related("patient"), clinic.pk).order_by("room", "chair")
                    ) if waiting else []  # shown (and so audited) only beside a waiting message
    trail.record_many([trail.Event("list", "monitor_message", m.pk, patient_id=m.patient_id)
                       for m in waiting] + [trail.Event("list", "session", s.pk, patient_id=s.patient_id)
                                            for s in sessions]
                      or [trail.Event("list", "monitor_message", "")])
    return render(request, "treatment/monitors_unmatched.html", {"waiting": waiting,
                                                                 "sessions": sessions})


def _values(kept: MonitorMessage, clinic) -> list[str]:
    """Each observation time's values as the vitals form names them ("12:58 Heart rate 78 /min,
    SpO2 97 %"), for the nurse to recognise the patient by."""
    try:
        message = pcd01.parse(kept.raw, clinic.zone)
        groups, _, _, _ = intake.readings_of(message, fallback=kept.received_at)
        return [f"{at.astimezone(clinic.zone):%H:%M} " + ", ".join(_value(k, v) for k, v in values.items())
                for at, values in sorted(groups.items())]
    except (pcd01.Unreadable, ValueError, OverflowError):  # shown without its values, never a 500
        return []


def _value(field: str, value: float) -> str:
    label = VITAL_LABELS[field][0] if field in VITAL_LABELS else field
    name, _, unit = label.partition(" (")
    return f"{name} {value:g} {unit.rstrip(')')}".strip()


@require(Action.SESSION_RUN)
@require_POST
def assign(request: HttpRequest, monitor_message_id: int) -> HttpResponse:
    kept = get_for_user(request, MonitorMessage.objects.select_related("clinic"), monitor_message_id,
                        Action.SESSION_RUN, audit_read=False)
    session_id = request.POST.get("session", "")
    if not session_id.isdigit():
        messages.error(request, "Not assigned: choose the session the readings belong to.")
        return redirect("monitors-unmatched")
    session = get_for_user(request, Session.objects.select_related("patient"), session_id,
                           Action.SESSION_RUN, audit_read=False)
    try:
        stored = intake.assign(kept, session, by=request.user)
    except FieldError as exc:
        messages.error(request, f"Not assigned: the {exc.field} {exc.message}.")
    else:
        messages.success(request, f"Assigned to {session.patient.family_name}'s session: "
                                  f"{stored} reading{'s' if stored != 1 else ''} recorded.")
    return redirect("monitors-unmatched")


def unmatched_count(membership) -> int:
    return for_clinic(MonitorMessage.objects.filter(status=MessageStatus.UNMATCHED),
                      membership.clinic_id).count()
