"""The session page's dose buttons: an infusion paused, resumed or stopped, a nasal spray device
given, and "Pause the infusion" on an alert that recommends it (the pause acknowledges the alert
with its reason). One action behind them all: ``actions.record_administration_event``; a
refusal is put back on the field it names, on the page.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapclinic.accounts.permissions import Action, require
from kapclinic.accounts.scoping import get_for_user
from kapclinic.alerts.forms import AcknowledgeForm
from kapclinic.alerts.models import Alert
from kapclinic.platform.charts import local_text
from kapclinic.platform.idempotency import one_time_form
from kapclinic.treatment import actions
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.forms import DoseEventForm
from kapclinic.treatment.models import ALERT_SOURCE, READING_RECORD, VitalReading
from kapclinic.treatment.models import AdministrationEventKind as Kind
from kapclinic.treatment.reads import session_for_user
from kapclinic.treatment.views import session_page

DONE_WORDS = {Kind.PAUSE: "Infusion paused", Kind.RESUME: "Infusion resumed",
              Kind.STOP: "Infusion stopped"}
FORM_FIELDS = ("reason", "at", "late_reason")  # the fields a refusal can be shown beside


def _back(session_id: int) -> HttpResponse:
    return redirect(reverse("session", args=[session_id]) + "#dose-h")


def _said(request: HttpRequest, recorded: actions.EventRecorded) -> None:
    event = recorded.event
    at = local_text(event.at, "%H:%M")
    done = (f"Device {event.device_number} given" if event.kind == Kind.DEVICE
            else DONE_WORDS[Kind(event.kind)])
    if recorded.created:
        messages.success(request, f"{done} at {at}.")
    else:
        messages.info(request, f"{done} at {at} was already recorded; it is kept once.")
    for warning in recorded.warnings:
        messages.warning(request, f"Check: {warning}")


@require(Action.DOSE_ADMINISTER)
@require_POST
@one_time_form
def record_dose_event(request: HttpRequest, session_id: int) -> HttpResponse:
    session = session_for_user(request, session_id, Action.DOSE_ADMINISTER)
    kind = request.POST.get("kind", "")
    form = DoseEventForm(request.POST, kind=kind if kind in Kind.values else "dose")
    if not form.is_valid():
        return session_page(request, session, status=422, forms={"dose_event": form})
    data = form.cleaned_data
    try:
        recorded = actions.record_administration_event(
            session, kind=data["kind"], at=data["at"] or timezone.now(), by=request.user,
            reason=data["reason"], device_number=data["device_number"],
            late_reason=data["late_reason"])
    except FieldError as exc:
        if exc.field not in FORM_FIELDS:  # where the dose stands changed: the page redrawn says how
            messages.error(request, f"Not recorded: {exc.message}.")
            return _back(session.pk)
        form.add_error(exc.field, exc.message)
        return session_page(request, session, status=422, forms={"dose_event": form})
    _said(request, recorded)
    return _back(session.pk)


@require(Action.DOSE_ADMINISTER)
@require_POST
@one_time_form
def pause_for_alert(request: HttpRequest, session_id: int, alert_id: int) -> HttpResponse:
    """The alert card's "Pause the infusion": its note is the pause's reason, and the pause
    acknowledges the alert with it (in the action's one transaction)."""
    session = session_for_user(request, session_id, Action.DOSE_ADMINISTER)
    readings = VitalReading.objects.filter(session=session).values("pk")
    alert = get_for_user(request, Alert.objects.filter(source=ALERT_SOURCE, record_type=READING_RECORD,
                                                       record_id__in=readings),
                         alert_id, Action.ALERT_ACKNOWLEDGE, audit_read=False)
    note = AcknowledgeForm(request.POST)
    refused = None if note.is_valid() else note.refusal()
    if refused is None:
        try:
            recorded = actions.record_administration_event(
                session, kind=Kind.PAUSE, at=timezone.now(), by=request.user,
                reason=note.cleaned_data["note"], alert=alert)
        except FieldError as exc:
            if exc.field != "reason":  # paused or moved on meanwhile: the page redrawn says how
                messages.error(request, f"Not paused: {exc.message}.")
                return _back(session.pk)
            refused = exc.message[:1].upper() + exc.message[1:] + "."
    if refused is not None:
        return session_page(request, session, status=422, forms={"alert_pause": {
            "alert_id": alert.pk, "message": refused, "note": request.POST.get("note", "")}})
    _said(request, recorded)
    alert.refresh_from_db()
    if alert.acknowledged_by_id == request.user.pk:
        messages.success(request, "The alert is acknowledged with your note.")
    elif alert.acknowledged_at is not None:
        messages.info(request, f"{alert.acknowledged_by.display_name} had acknowledged the alert "
                               f"at {local_text(alert.acknowledged_at, '%H:%M')}; your note is the "
                               "pause's reason.")
    return _back(session.pk)
