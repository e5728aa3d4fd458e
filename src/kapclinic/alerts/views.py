"""The alerts pages: the clinic's open alerts (with what each source shows behind its own),
acknowledging one, and the outbox of every message the clinic sends."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from kapclinic.accounts.permissions import Action, require, role_can
from kapclinic.accounts.scoping import for_clinic, get_for_user
from kapclinic.alerts import actions, sources
from kapclinic.alerts.forms import AcknowledgeForm
from kapclinic.alerts.models import Alert, OutboxMessage
from kapclinic.audit import trail
from kapclinic.platform.idempotency import one_time_form


@require(Action.ALERT_VIEW)
def alert_list(request: HttpRequest) -> HttpResponse:
    return _alerts_page(request)


def _alerts_page(request: HttpRequest, *, refused: AcknowledgeForm | None = None,
                 refused_alert_id: int | None = None) -> HttpResponse:
    """The open alerts; with ``refused``, the note refused for ``refused_alert_id`` is shown
    in its box with what is wrong with it, to correct and send again."""
    open_alerts = sources.with_details(
        for_clinic(Alert.objects.open(), request.membership.clinic_id)
        .select_related("patient").order_by("raised_at"))
    role = request.membership.role
    for alert in open_alerts:  # the note box only where this role may acknowledge it
        needs = sources.acknowledge_action(alert)
        alert.may_acknowledge = role_can(role, Action.ALERT_ACKNOWLEDGE) and (
            needs is None or role_can(role, needs))
    trail.record_many([trail.Event("list", "alert", a.pk, patient_id=a.patient_id)
                       for a in open_alerts])
    return render(request, "alerts/alerts.html",
                  {"alerts": open_alerts, "form": refused or AcknowledgeForm(),
                   "refused_alert_id": refused_alert_id},
                  status=422 if refused is not None else 200)


@require(Action.ALERT_ACKNOWLEDGE)
@require_POST
@one_time_form
def acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = get_for_user(request, Alert, alert_id, Action.ALERT_ACKNOWLEDGE, audit_read=False)
    refused = acknowledge_posted(request, alert)
    if refused is not None:
        return _alerts_page(request, refused=refused, refused_alert_id=alert.pk)
    return redirect("alerts")


def acknowledge_posted(request: HttpRequest, alert: Alert) -> AcknowledgeForm | None:
    """Acknowledge ``alert`` with the note posted in ``request`` and say how it went (a
    message on the next page), for the Alerts page and any app's page that shows its own
    alerts (a dosing session). Returns the form when the note was refused, for the caller to
    show (``form.refusal()`` words it as a message); None once it was handled. The caller has
    fetched ``alert`` with ``get_for_user`` (Action.ALERT_ACKNOWLEDGE). A role the alert's
    source does not let acknowledge it (a dosing session's, for who may not run sessions) is
    refused: PermissionDenied, audited."""
    sources.check_acknowledge(request, alert)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        return form
    if actions.acknowledge_alert(alert=alert, note=form.cleaned_data["note"], by=request.user):
        messages.success(request, "Alert acknowledged.")
    else:
        alert.refresh_from_db()
        messages.error(request, f"{alert.acknowledged_by.display_name} acknowledged this alert "
                                f"at {timezone.localtime(alert.acknowledged_at):%H:%M} first; "
                                "your note was not saved.")
    return None


@require(Action.OUTBOX_VIEW)
def outbox(request: HttpRequest) -> HttpResponse:
    sent = for_clinic(OutboxMessage, request.membership.clinic_id)
    page = Paginator(sent, 50).get_page(request.GET.get("page"))
    trail.record_many([trail.Event("list", "outbox_message", m.pk, patient_id=m.patient_id)
                       for m in page])
    return render(request, "alerts/outbox.html", {"page": page, "query": ""})
