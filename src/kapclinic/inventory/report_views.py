"""The ledger's records on a page and as CSV (``inventory.reports`` makes them).

A report names patients (who was given a dose, whose dose is not drawn), so showing one is
audited: the report once, then a read of each patient on the page (or, for the CSV, batch by
batch before the rows leave). The page shows the record's lines a page at a time (Print
prints that page); the CSV streams every line."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from kapclinic.accounts.permissions import Action, require
from kapclinic.accounts.scoping import for_clinic
from kapclinic.inventory import reports
from kapclinic.inventory.models import LedgerSettings, Product


class ReportForm(forms.Form):
    kind = forms.ChoiceField(label="Record", choices=list(reports.KINDS.items()),
                             widget=forms.RadioSelect, initial="dispensing")
    start = forms.DateField(label="From", help_text="the first day, in the clinic's time zone",
                            widget=forms.DateInput(attrs={"type": "date",
                                                          "aria-describedby": "id_start-help"}))
    end = forms.DateField(label="To", help_text=f"the last day (at most {reports.MAX_PERIOD_DAYS} "
                                                "days after the first); the inventory is as of its end",
                          widget=forms.DateInput(attrs={"type": "date", "aria-describedby": "id_end-help"}))
    product = forms.TypedChoiceField(label="Product", required=False, coerce=int, empty_value=None,
                                     help_text="the dispensing record of one product only (optional)",
                                     widget=forms.Select(attrs={"aria-describedby": "id_product-help"}))

    def __init__(self, *args, clinic_id: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "Every product")] + [
            (p.pk, reports.product_words(p)) for p in for_clinic(Product, clinic_id).order_by("name", "pk")]

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end"):
            try:
                reports.check_period(data["start"], data["end"])
            except reports.PeriodError as exc:
                self.add_error("start" if exc.field == "from" else "end", exc.message)
        return data


def _form(request: HttpRequest, *, defaults: bool = True) -> ReportForm:
    """The period asked for; without one, this month so far (a download names its period)."""
    clinic = request.membership.clinic
    today = timezone.localdate(timezone.now(), clinic.zone)
    data = {"kind": "dispensing"}
    if defaults:
        data.update({"start": today.replace(day=1).isoformat(), "end": today.isoformat()})
    data.update({k: v for k, v in request.GET.items() if k in ("kind", "start", "end", "product") and v})
    return ReportForm(data, clinic_id=clinic.pk)


def _picker(request: HttpRequest, form: ReportForm, status: int = 200) -> HttpResponse:
    return render(request, "inventory/reports.html", {
        "form": form, "kinds": [(k, reports.KINDS[k], reports.KIND_HELP[k]) for k in reports.KINDS],
        "max_days": reports.MAX_PERIOD_DAYS}, status=status)


def _report(request: HttpRequest, form: ReportForm) -> reports.Report:
    data = form.cleaned_data
    period = reports.Period(request.membership.clinic, data["start"], data["end"])
    if data["kind"] == "dispensing":
        return reports.dispensing(period, product_id=data.get("product"))
    return reports.build(data["kind"], period)


def _query(form: ReportForm) -> str:
    data = form.cleaned_data
    return urlencode({"kind": data["kind"], "start": data["start"].isoformat(),
                      "end": data["end"].isoformat(),
                      **({"product": data["product"]} if data.get("product") else {})})


@require(Action.STOCK_REPORTS)
@require_GET
def reports_page(request: HttpRequest) -> HttpResponse:
    """The records and the period picker (no health information shown: not audited)."""
    return _picker(request, _form(request))


class _Counted:
    """What a Paginator needs of a table that has ``total`` rows, read a page at a time."""

    def __init__(self, total: int) -> None:
        self.total = total

    def count(self) -> int:
        return self.total

    def __getitem__(self, _slice) -> list:
        return []


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


@require(Action.STOCK_REPORTS)
@require_GET
def report_page(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    if not form.is_valid():
        return _picker(request, form, status=422)
    report = _report(request, form)
    number = _page_number(request)
    sections = []
    for table in report.tables:
        page, truncated, start = None, False, 0
        if table.key == "lines" and table.count is not None:
            paginator = Paginator(_Counted(table.count()), reports.PAGE_ROWS)
            number = min(number, max(1, paginator.num_pages))
            page = paginator.page(number)
            start = (number - 1) * reports.PAGE_ROWS
            rows = table.rows(start, reports.PAGE_ROWS)
        else:
            rows = table.rows(0, reports.LISTED_ROWS + 1)
            truncated = len(rows) > reports.LISTED_ROWS
            rows = rows[:reports.LISTED_ROWS]
        numeric = [name in table.numeric for name in table.columns]
        sections.append({
            "table": table, "page": page, "paged": page is not None, "truncated": truncated,
            "first": start + 1, "last": start + len(rows),
            "columns": list(zip(table.columns, numeric, strict=True)),
            "rows": [{"css": row.css, "cells": list(zip(row.cells, numeric, strict=True))} for row in rows],
            "_rows": rows})
    reads = reports.Reads(report, "page")
    reads.start(page=number)
    for section in sections:
        reads.rows(section.pop("_rows"))
    clinic = request.membership.clinic
    return render(request, "inventory/report.html", {
        "report": report, "sections": sections, "query": _query(form), "clinic": clinic,
        "help": reports.KIND_HELP[report.kind], "page_rows": reports.PAGE_ROWS,
        "listed_rows": reports.LISTED_ROWS,
        "retention": LedgerSettings.for_clinic(clinic.pk).retention_years,
        "printed_at": timezone.localtime(timezone.now(), clinic.zone)})


def in_context(lines: Iterator[str], ctx: contextvars.Context) -> Iterator[str]:
    """Run each step of ``lines`` in ``ctx``: a streamed response is read after the request's
    middleware has returned, and the audit entries must still name the person who asked."""
    while True:
        try:
            yield ctx.run(next, lines)
        except StopIteration:
            return


@require(Action.STOCK_REPORTS)
@require_GET
def report_csv(request: HttpRequest) -> HttpResponse:
    form = _form(request, defaults=False)
    if not form.is_valid():
        return _picker(request, form, status=422)
    report = _report(request, form)
    reads = reports.Reads(report, "csv")
    reads.start()
    response = StreamingHttpResponse(in_context(reports.csv_lines(report, reads), contextvars.copy_context()),
                                     content_type="text/csv; charset=utf-8")
    period = report.period
    response["Content-Disposition"] = (f'attachment; filename="{report.kind}-{period.clinic.slug}-'
                                       f'{period.start.isoformat()}-to-{period.end.isoformat()}.csv"')
    return response
