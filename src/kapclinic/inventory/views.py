"""The ledger's pages: the stock, a lot's ledger (printable), and one page per movement.

Products, lots and locations are the clinic's records of what it bought and where it keeps
it (no health information). A lot's ledger names the patients dosed from it, so opening it is
audited as a read of the lot; every write goes through ``inventory.actions``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.permissions import Action, require, role_can
from kapclinic.accounts.scoping import for_clinic, get_for_user
from kapclinic.audit import trail
from kapclinic.inventory import actions, disposals, reports, stock
from kapclinic.inventory import forms as ledger_forms
from kapclinic.inventory.errors import FieldError
from kapclinic.inventory.models import Kind, LedgerLine, LedgerSettings, Location, Lot, Product
from kapclinic.inventory.witness import member_named
from kapclinic.patients.models import Patient
from kapclinic.platform import extensions as ext
from kapclinic.platform.idempotency import one_time_form


def _clinic(request: HttpRequest) -> Clinic:
    return request.membership.clinic


def _today(request: HttpRequest):
    return timezone.localdate(timezone.now(), _clinic(request).zone)


def show_refusal(form: forms.Form, exc: FieldError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _audit_foreign_choices(form: forms.Form) -> None:
    """An id in a form's body that is not one of this clinic's (another clinic's lot or
    location, or one that never existed) is refused by the form as an invalid choice; it is
    also a denied access, audited like a URL naming another clinic's record."""
    for field, errors in form.errors.as_data().items():
        if any(error.code == "invalid_choice" for error in errors):
            trail.record("denied", object_type="form_choice",
                         detail={"field": field, "value": str(form.data.get(field, ""))[:40],
                                 "reason": "not one of this clinic's"})


def valid_and_audited(form: forms.Form) -> bool:
    """``form.is_valid()``, auditing a choice from outside the clinic."""
    if form.is_valid():
        return True
    _audit_foreign_choices(form)
    return False


def _can(request: HttpRequest, action: Action) -> bool:
    return role_can(request.membership.role, action)


# ---- the stock ----------------------------------------------------------------------------

@require(Action.STOCK_VIEW)
@require_GET
def stock_page(request: HttpRequest) -> HttpResponse:
    clinic_id = request.membership.clinic_id
    today = _today(request)
    rows = stock.stock(clinic_id, today, include_empty=request.GET.get("empty") == "1")
    trail.record("list", object_type="stock", detail={"rows": len(rows)})
    undrawn = []
    if _can(request, Action.STOCK_ADMINISTER):
        undrawn = stock.undrawn_doses(clinic_id, timezone.now() - timedelta(days=stock.UNDRAWN_DAYS))
    # draws that do not match their dose (another amount or patient, a dose entered in error):
    # the undrawn doses have their own banner
    since = today - timedelta(days=stock.UNDRAWN_DAYS)
    unreconciled = [m for m in reports.mismatches(reports.Period(_clinic(request), since, today))
                    if m.line_id is not None]
    return render(request, "inventory/stock.html", {
        "rows": rows, "today": today, "undrawn": len(undrawn),
        "show_empty": request.GET.get("empty") == "1",
        "products": for_clinic(Product, clinic_id),
        "locations": for_clinic(Location, clinic_id),
        "lots": for_clinic(Lot, clinic_id).select_related("product").order_by("-expires_on"),
        "settings": LedgerSettings.for_clinic(clinic_id),
        "can_setup": _can(request, Action.STOCK_SETUP),
        "can_settings": _can(request, Action.STOCK_SETTINGS),
        "can_receive": _can(request, Action.STOCK_RECEIVE),
        "can_draw": _can(request, Action.STOCK_ADMINISTER),
        "expiry_days": stock.EXPIRY_WARNING_DAYS,
        "discrepancies": actions.open_discrepancies(clinic_id).count(),
        "awaiting_notice": disposals.awaiting_notice(clinic_id).count(),
        "unreconciled": len(unreconciled), "reconcile_from": since, "reconcile_to": today,
        "inventory": stock.inventory_due(clinic_id, today, _clinic(request).zone),
        "overdue_notice": len(disposals.overdue(clinic_id)),
        "can_report_loss": _can(request, Action.STOCK_REPORT_LOSS),
    })


def _form_page(request: HttpRequest, form: forms.Form, *, title: str, intro: str, submit: str,
               status: int = 200, **extra: Any) -> HttpResponse:
    return render(request, "inventory/form.html", {
        "form": form, "title": title, "intro": intro, "submit": submit, **extra},
        status=status)


# ---- products, locations, lots ------------------------------------------------------------

@require(Action.STOCK_SETUP)
@require_http_methods(["GET", "POST"])
@one_time_form
def new_product(request: HttpRequest) -> HttpResponse:
    form = ledger_forms.ProductForm(request.POST or None)
    if request.method == "POST" and valid_and_audited(form):
        try:
            product = actions.add_product(clinic=_clinic(request), by=request.user, **form.cleaned_data)
        except FieldError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, f"{product.name} is added to the products the clinic stocks.")
            return redirect("stock")
    return _form_page(request, form, title="Add a product", submit="Add the product",
                      intro="A controlled substance the clinic stocks, as its label gives it: "
                            "NDC, strength and container.",
                      status=422 if form.errors else 200)


@require(Action.STOCK_SETUP)
@require_http_methods(["GET", "POST"])
@one_time_form
def new_location(request: HttpRequest) -> HttpResponse:
    form = ledger_forms.LocationForm(request.POST or None)
    if request.method == "POST" and valid_and_audited(form):
        try:
            location = actions.add_location(clinic=_clinic(request), by=request.user, **form.cleaned_data)
        except FieldError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, f"{location.name} is added to the storage locations.")
            return redirect("stock")
    return _form_page(request, form, title="Add a storage location", submit="Add the location",
                      intro="A securely locked place where controlled substances are kept: the "
                            "safe, a cabinet, a cart.", status=422 if form.errors else 200)


@require(Action.STOCK_SETUP)
@require_http_methods(["GET", "POST"])
@one_time_form
def new_lot(request: HttpRequest) -> HttpResponse:
    form = ledger_forms.LotForm(request.POST or None, clinic_id=request.membership.clinic_id)
    if request.method == "POST" and valid_and_audited(form):
        try:
            lot = actions.add_lot(by=request.user, **form.cleaned_data)
        except FieldError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, f"Lot {lot.lot_number} is recorded: receive its vials or "
                                      "devices into a location.")
            return redirect("stock-receive")
    return _form_page(request, form, title="Record a lot", submit="Record the lot",
                      intro="A lot as it arrived: the supplier's name, address and DEA number "
                            "and the invoice are part of the record of each receipt.",
                      status=422 if form.errors else 200)


SETTING_FIELDS = ("retention_years", "inventory_months", "exact_counts", "witness_waste",
                  "late_entry_days", "registrant_name", "registrant_address", "registrant_dea")


@require(Action.STOCK_SETTINGS)
@require_http_methods(["GET", "POST"])
@one_time_form
def ledger_settings(request: HttpRequest) -> HttpResponse:
    current = LedgerSettings.for_clinic(request.membership.clinic_id)
    # an unticked box sends nothing: a POST is bound even when empty
    form = ledger_forms.SettingsForm(request.POST if request.method == "POST" else None,
                                     initial={f: getattr(current, f) for f in SETTING_FIELDS})
    if request.method == "POST" and valid_and_audited(form):
        try:
            actions.save_settings(clinic=_clinic(request), by=request.user, **form.cleaned_data)
        except FieldError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, "Record settings saved.")
            return redirect("stock")
    return render(request, "inventory/settings.html", {"form": form, "settings": current},
                  status=422 if form.errors else 200)


# ---- movements ----------------------------------------------------------------------------

@require(Action.STOCK_RECEIVE)
@require_http_methods(["GET", "POST"])
@one_time_form
def receive(request: HttpRequest) -> HttpResponse:
    form = ledger_forms.ReceiptForm(request.POST or None, clinic_id=request.membership.clinic_id,
                                    initial={"lot": request.GET.get("lot")})
    if request.method == "POST" and valid_and_audited(form):
        data = form.cleaned_data
        try:
            line = actions.receive(lot=data["lot"], location=data["location"],
                                   containers=data["containers"], at=data["at"], by=request.user)
        except FieldError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, f"Received {line.containers} × {line.lot.product.strength} "
                                      f"into {line.location.name}.")
            return redirect("stock-lot", lot_id=line.lot_id)
    return _form_page(request, form, title="Receive stock", submit="Record the receipt",
                      intro="Full vials or devices of a recorded lot, put into a location.",
                      status=422 if form.errors else 200)


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


def _lot_for(request: HttpRequest, lot_id: int, action: Action, *, audit_read: bool = False) -> Lot:
    queryset = Lot.objects.select_related("product")
    return get_for_user(request, queryset, lot_id, action, audit_read=audit_read)


@require(Action.STOCK_VIEW)
@require_GET
def lot_ledger(request: HttpRequest, lot_id: int) -> HttpResponse:
    lot = _lot_for(request, lot_id, Action.STOCK_VIEW, audit_read=True)
    page = stock.lines_page(lot, before=_int_or_none(request.GET.get("before")))
    trail.record_many([trail.Event("read", "patient", pk, patient_id=pk,
                                   detail={"via": "lot ledger", "lot": lot.pk})
                       for pk in sorted({line.patient_id for line in page.lines if line.patient_id})])
    lines = page.lines
    wasted = stock.wasted_after_draws([line.pk for line in lines if line.kind == Kind.ADMINISTRATION])
    balances = list(lot.balances.select_related("location").order_by("location__name"))
    return render(request, "inventory/lot.html", {
        "lot": lot, "product": lot.product, "lines": lines, "balances": balances,
        "older": page.older_than, "newest": page.is_newest,
        "reversible": {line.pk for line in lines
                       if actions.may_reverse(line, request.user, request.membership.role)
                       and line.pk not in wasted},
        "wasteable": {pk for pk, left in stock.left_to_waste(lines, wasted).items() if left > 0},
        "today": _today(request), "clinic": _clinic(request),
        "names_patients": _can(request, Action.PATIENT_VIEW),
        "can_waste": _can(request, Action.STOCK_WASTE),
        "can_transfer": _can(request, Action.STOCK_TRANSFER),
        "can_reverse": _can(request, Action.STOCK_REVERSE),
        "can_receive": _can(request, Action.STOCK_RECEIVE),
        "can_count": _can(request, Action.STOCK_COUNT),
        "can_dispose": _can(request, Action.STOCK_DISPOSE),
        "can_report_loss": _can(request, Action.STOCK_REPORT_LOSS),
        "printed_at": timezone.localtime(timezone.now()),
    })


def _waste_page(request, draw: LedgerLine, form, status=200) -> HttpResponse:
    settings = LedgerSettings.for_clinic(draw.clinic_id)
    left = actions.remainder_of(draw) - actions.wasted_after(draw)
    return render(request, "inventory/waste.html", {
        "draw": draw, "lot": draw.lot, "form": form, "left_mg": left,
        "left_ml": draw.lot.product.ml_for(left), "witness_required": settings.witness_waste,
        "names_patients": _can(request, Action.PATIENT_VIEW)}, status=status)


@require(Action.STOCK_WASTE)
@require_http_methods(["GET", "POST"])
@one_time_form
def waste(request: HttpRequest, draw_id: int) -> HttpResponse:
    draw = get_for_user(request, LedgerLine.objects.select_related("lot__product", "location", "patient")
                        .filter(kind=Kind.ADMINISTRATION), draw_id, Action.STOCK_WASTE,
                        audit_read=False)
    form = ledger_forms.WasteForm(request.POST or None)
    if request.method == "POST" and valid_and_audited(form):
        data = form.cleaned_data
        witness = member_named(draw.clinic_id, data["witness"]) if data["witness"] else None
        if data["witness"] and witness is None:
            form.add_error("witness", "Nobody of this clinic has that username.")
        else:
            try:
                actions.waste(draw=draw, amount_mg=data["amount_mg"], amount_ml=data["amount_ml"],
                              method=data["method"], at=data["at"], by=request.user,
                              witness=witness, witness_password=data["witness_password"],
                              witness_code=data["witness_code"])
            except FieldError as exc:
                show_refusal(form, exc)
            else:
                messages.success(request, "The wastage is recorded.")
                return redirect("stock-lot", lot_id=draw.lot_id)
    return _waste_page(request, draw, form, status=422 if form.errors else 200)


@require(Action.STOCK_TRANSFER)
@require_http_methods(["GET", "POST"])
@one_time_form
def transfer(request: HttpRequest, lot_id: int) -> HttpResponse:
    lot = _lot_for(request, lot_id, Action.STOCK_TRANSFER)
    form = ledger_forms.TransferForm(request.POST or None, clinic_id=lot.clinic_id)
    if request.method == "POST" and valid_and_audited(form):
        data = form.cleaned_data
        try:
            actions.transfer(lot=lot, source=data["source"], destination=data["destination"],
                             amount_mg=data["amount_mg"], amount_ml=data["amount_ml"],
                             at=data["at"], reason=data["reason"], by=request.user)
        except FieldError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, f"Moved from {data['source']} to {data['destination']}.")
            return redirect("stock-lot", lot_id=lot.pk)
    return _form_page(request, form, title=f"Move lot {lot.lot_number}", submit="Record the move",
                      intro=f"{lot.product.name} ({lot.product.strength}) moved from one location "
                            "to another: a line out of one and a line into the other.",
                      back=lot, status=422 if form.errors else 200)


@require(Action.STOCK_REVERSE)
@require_http_methods(["GET", "POST"])
@one_time_form
def reverse(request: HttpRequest, ledger_line_id: int) -> HttpResponse:
    line = get_for_user(request, LedgerLine.objects.select_related("lot__product", "location"),
                        ledger_line_id, Action.STOCK_REVERSE, audit_read=False)
    form = ledger_forms.ReverseForm(request.POST or None)
    if request.method == "POST" and valid_and_audited(form):
        data = form.cleaned_data
        witness = member_named(line.clinic_id, data["witness"]) if data["witness"] else None
        try:
            if data["witness"] and witness is None:
                raise FieldError("witness", "Nobody of this clinic has that username.")
            actions.reverse(line=line, reason=data["reason"], by=request.user,
                            role=request.membership.role, witness=witness,
                            witness_password=data["witness_password"],
                            witness_code=data["witness_code"])
        except FieldError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Line {line.pk} is reversed.")
            return redirect("stock-lot", lot_id=line.lot_id)
    return render(request, "inventory/reverse.html", {
        "line": line, "lot": line.lot, "form": form,
        "allowed": actions.may_reverse(line, request.user, request.membership.role),
        "correction": actions.is_correction(line, request.user)},
        status=422 if form.errors else 200)


# ---- doses drawn from stock ---------------------------------------------------------------

def _draw_page(request: HttpRequest, *, failed: forms.Form | None = None, status: int = 200) -> HttpResponse:
    clinic_id = request.membership.clinic_id
    since = timezone.now() - timedelta(days=stock.UNDRAWN_DAYS)
    waiting = []
    for item in stock.undrawn_doses(clinic_id, since):
        mine = failed is not None and \
            str(failed.data.get("administration")) == str(item.dose.administration_id)
        form = failed if mine else ledger_forms.DrawForm(
            clinic_id=clinic_id, initial={"patient": item.patient.pk,
                                          "administration": item.dose.administration_id},
            auto_id=f"id_{item.dose.administration_id}_%s")
        waiting.append({"dose": item.dose, "patient": item.patient, "form": form})
    if waiting:
        trail.record("list", object_type="ledger_line", detail={"undrawn_doses": len(waiting)})
    return render(request, "inventory/draw.html", {
        "waiting": waiting, "days": stock.UNDRAWN_DAYS, "failed": failed}, status=status)


@require(Action.STOCK_ADMINISTER)
@require_GET
def doses_to_draw(request: HttpRequest) -> HttpResponse:
    return _draw_page(request)


@require(Action.STOCK_ADMINISTER)
@require_POST
@one_time_form
def draw(request: HttpRequest) -> HttpResponse:
    clinic_id = request.membership.clinic_id
    form = ledger_forms.DrawForm(request.POST, clinic_id=clinic_id,
                                 auto_id=f"id_{request.POST.get('administration', 'x')}_%s")
    if not valid_and_audited(form):
        return _draw_page(request, failed=form, status=422)
    data = form.cleaned_data
    patient = for_clinic(Patient, clinic_id).filter(pk=data["patient"]).first()
    dose = None
    if patient is not None:
        dose = next((d for d in ext.doses_of([patient.pk]).get(patient.pk, [])
                     if d.administration_id == data["administration"]), None)
    if dose is None:
        trail.record("denied", object_type="administration", object_id=str(data["administration"])[:20],
                     detail={"reason": "not a dose of this clinic's", "patient": str(data["patient"])[:20]})
        form.add_error(None, "That dose is not one of this clinic's (or it was marked entered "
                             "in error): nothing was drawn.")
        return _draw_page(request, failed=form, status=422)
    try:
        line = actions.draw_for_dose(lot=data["lot"], location=data["location"], patient=patient,
                                     session_id=dose.session_id,
                                     administration_id=dose.administration_id,
                                     dose_mg=dose.dose_mg, at=dose.given_at, by=request.user,
                                     drug=dose.drug, route=dose.route,
                                     concentration=dose.concentration_mg_per_ml,
                                     expired_confirmed=data["expired_confirmed"])
    except FieldError as exc:
        show_refusal(form, exc)
        return _draw_page(request, failed=form, status=422)
    # a retry returns the draw that stands, which names its own lot and location
    messages.success(request, f"{abs(line.amount_mg).normalize():f} mg drawn from lot "
                              f"{line.lot.lot_number} at {line.location.name} for {patient.mrn}.")
    return redirect("stock-draws")


# ---- counts and discrepancies -------------------------------------------------------------

@require(Action.STOCK_COUNT)
@require_http_methods(["GET", "POST"])
@one_time_form
def count(request: HttpRequest, lot_id: int) -> HttpResponse:
    lot = _lot_for(request, lot_id, Action.STOCK_COUNT)
    form = ledger_forms.CountForm(request.POST or None, clinic_id=lot.clinic_id)
    if request.method == "POST" and valid_and_audited(form):
        data = form.cleaned_data
        try:
            counted = actions.record_count(lot=lot, location=data["location"], kind=data["kind"],
                                           counted_mg=data["counted_mg"], counted_ml=data["counted_ml"],
                                           estimated=data["estimated"], note=data["note"],
                                           by=request.user)
        except FieldError as exc:
            show_refusal(form, exc)
        else:
            if counted.difference_mg:
                messages.warning(request, f"The count is {counted.difference_words}: it is a "
                                          "discrepancy until the clinic admin resolves it.")
            else:
                messages.success(request, "The count agrees with the ledger.")
            return redirect("stock-lot", lot_id=lot.pk)
    return _form_page(request, form, title=f"Count lot {lot.lot_number}", submit="Record the count",
                      intro=f"{lot.product.name} ({lot.product.strength}): what is there now. "
                            "A count that differs from the ledger is kept as a discrepancy for "
                            "the clinic admin to resolve.", back=lot,
                      status=422 if form.errors else 200)


@require(Action.STOCK_VIEW)
@require_GET
def discrepancies(request: HttpRequest) -> HttpResponse:
    found = list(actions.open_discrepancies(request.membership.clinic_id))
    trail.record("list", object_type="stock_count", detail={"open_discrepancies": len(found)})
    can_resolve = _can(request, Action.STOCK_RESOLVE)
    return render(request, "inventory/discrepancies.html", {
        "counts": [{"count": c, "form": ledger_forms.ResolveForm(auto_id=f"id_{c.pk}_%s")
                    if can_resolve else None} for c in found]})


@require(Action.STOCK_RESOLVE)
@require_http_methods(["GET", "POST"])
@one_time_form
def resolve(request: HttpRequest, stock_count_id: int) -> HttpResponse:
    from kapclinic.inventory.models import StockCount

    counted = get_for_user(request, StockCount.objects.select_related("lot__product", "location"),
                           stock_count_id, Action.STOCK_RESOLVE, audit_read=False)
    form = ledger_forms.ResolveForm(request.POST or None)
    if request.method == "POST" and valid_and_audited(form):
        try:
            actions.resolve(count=counted, reason=form.cleaned_data["reason"],
                            adjust=form.cleaned_data["adjust"], by=request.user)
        except FieldError as exc:
            form.add_error("reason" if exc.field == "reason" else None, exc.message)
        else:
            messages.success(request, f"The discrepancy of lot {counted.lot.lot_number} is resolved.")
            return redirect("stock-discrepancies")
    return _form_page(request, form, title="Resolve a discrepancy", submit="Resolve",
                      intro=f"Lot {counted.lot.lot_number} at {counted.location.name}: counted "
                            f"{counted.counted_mg.normalize():f} mg, the ledger said "
                            f"{counted.balance_mg.normalize():f} mg.",
                      status=422 if form.errors else 200)
