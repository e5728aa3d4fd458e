"""Pages for stock that leaves other than by a dose: destruction (Form 41) and return to a
reverse distributor from a lot's page, a theft or loss as discovered, and the thefts and
losses with their DEA notices (the written notice is due within one business day)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kapclinic.accounts.permissions import Action, require
from kapclinic.accounts.scoping import get_for_user
from kapclinic.audit import trail
from kapclinic.inventory import disposals
from kapclinic.inventory import forms as ledger_forms
from kapclinic.inventory.errors import FieldError
from kapclinic.inventory.models import Disposal, DisposalKind, Lot
from kapclinic.inventory.views import show_refusal, valid_and_audited
from kapclinic.inventory.witness import member_named
from kapclinic.platform.idempotency import one_time_form

WITNESS_FIELDS = ("witness", "second_witness")


def _lot(request: HttpRequest, lot_id: int, action: Action) -> Lot:
    return get_for_user(request, Lot.objects.select_related("product"), lot_id, action,
                        audit_read=False)


@require(Action.STOCK_DISPOSE)
@require_http_methods(["GET", "POST"])
@one_time_form
def destroy(request: HttpRequest, lot_id: int) -> HttpResponse:
    lot = _lot(request, lot_id, Action.STOCK_DISPOSE)
    form = ledger_forms.DisposalForm(request.POST or None, clinic_id=lot.clinic_id)
    if request.method == "POST" and valid_and_audited(form):
        data = dict(form.cleaned_data)
        people = {}
        for field in WITNESS_FIELDS:
            people[field] = member_named(lot.clinic_id, data[field]) if data[field] else None
            if data[field] and people[field] is None:
                form.add_error(field, "Nobody of this clinic has that username.")
        if data["kind"] != DisposalKind.DESTRUCTION:
            people = {field: None for field in WITNESS_FIELDS}
        if not form.errors:
            try:
                disposals.dispose(lot=lot, by=request.user, **{**data, **people})
            except FieldError as exc:
                show_refusal(form, exc)
            else:
                messages.success(request, "The destruction is recorded." if data["kind"] ==
                                 DisposalKind.DESTRUCTION else "The return is recorded.")
                return redirect("stock-lot", lot_id=lot.pk)
    return render(request, "inventory/destroy.html", {"lot": lot, "form": form},
                  status=422 if form.errors else 200)


@require(Action.STOCK_REPORT_LOSS)
@require_http_methods(["GET", "POST"])
@one_time_form
def report_loss(request: HttpRequest, lot_id: int) -> HttpResponse:
    lot = _lot(request, lot_id, Action.STOCK_REPORT_LOSS)
    form = ledger_forms.LossForm(request.POST or None, clinic_id=lot.clinic_id)
    if request.method == "POST" and valid_and_audited(form):
        try:
            record = disposals.dispose(lot=lot, by=request.user, **form.cleaned_data)
        except FieldError as exc:
            show_refusal(form, exc)
        else:
            due = timezone.localtime(disposals.notice_due(record), record.clinic.zone)
            messages.warning(request, f"The {record.get_kind_display().split(' (')[0].lower()} is "
                                      f"recorded. Written notice to the DEA field division is due "
                                      f"by {due:%A %-d %B, %H:%M}; then file DEA Form 106 online.")
            return redirect("stock-losses")
    return render(request, "inventory/loss.html", {"lot": lot, "form": form},
                  status=422 if form.errors else 200)


@require(Action.STOCK_REPORT_LOSS)
@require_GET
def losses(request: HttpRequest) -> HttpResponse:
    clinic_id = request.membership.clinic_id
    found = list(Disposal.objects.filter(clinic_id=clinic_id,
                                         kind__in=(DisposalKind.THEFT, DisposalKind.LOSS))
                 .select_related("clinic", "recorded_by").prefetch_related(
                     "notices", "lines__lot__product", "lines__location")
                 .order_by("-happened_at", "-id")[:200])
    trail.record("list", object_type="disposal", detail={"thefts_and_losses": len(found)})
    now = timezone.now()
    rows = []
    for record in found:
        steps = {notice.step: notice for notice in record.notices.all()}
        due = disposals.notice_due(record)
        rows.append({"record": record, "lines": list(record.lines.all()), "steps": steps,
                     "due": due, "overdue": "written_notice" not in steps and due < now,
                     "form": ledger_forms.NoticeForm(auto_id=f"id_{record.pk}_%s")})
    return render(request, "inventory/losses.html", {"rows": rows})


@require(Action.STOCK_REPORT_LOSS)
@require_POST
@one_time_form
def notice(request: HttpRequest, disposal_id: int) -> HttpResponse:
    record = get_for_user(request, Disposal.objects.select_related("clinic"), disposal_id,
                          Action.STOCK_REPORT_LOSS, audit_read=False)
    form = ledger_forms.NoticeForm(request.POST)
    if valid_and_audited(form):
        try:
            disposals.record_notice(disposal=record, by=request.user, **form.cleaned_data)
        except FieldError as exc:
            messages.error(request, f"Nothing was recorded: {exc.message}.")
            return redirect("stock-losses")
        messages.success(request, "The step is recorded.")
    else:
        messages.error(request, "Nothing was recorded: give the step and when it was done.")
    return redirect("stock-losses")
