"""The clinic admin's view of the audit trail: browse and filter, never change."""

from __future__ import annotations

import json
import re

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kapclinic.accounts.permissions import Action, require
from kapclinic.accounts.roles import Role
from kapclinic.accounts.scoping import for_clinic
from kapclinic.audit import types as audit_types
from kapclinic.audit.models import AuditEntry


# The actions and record types each app declares (its audit_types.py), in words: the filter
# offers exactly what the trail may hold (trail.record refuses anything undeclared).
def action_labels() -> dict[str, str]:
    return audit_types.action_labels()


def record_labels() -> dict[str, str]:
    return audit_types.record_labels()


ROLE_LABELS = dict(Role.choices)


def in_words(code: object) -> str:
    """A code the app writes (``login_failed``, ``portal_login``) as words; one that the
    maps above do not know yet is still readable (underscores become spaces)."""
    text = str(code)
    return action_labels().get(text) or record_labels().get(text) or (
        text.replace("_", " ").capitalize() if re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+", text)
        else text)


def _detail_value(name: str, value: object) -> str:
    """A detail as the admin reads it: lists joined, codes in words, an instrument by name."""
    if isinstance(value, list | tuple):
        return ", ".join(_detail_value(name, v) for v in value) or "none"
    if name == "instrument" and isinstance(value, str):
        from kapclinic.clinical import instruments

        try:
            return instruments.get_instrument(value).short_name
        except instruments.UnknownInstrumentError:
            return value
    if isinstance(value, str) and re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+", value):
        return value.replace("_", " ")
    return str(value)


class AuditFilterForm(forms.Form):
    user = forms.CharField(required=False, label="User")
    # the stored codes are the values (so a filter link keeps working); people see words
    action = forms.ChoiceField(required=False, choices=lambda: [("", "Any action")]
                               + list(action_labels().items()))
    record = forms.ChoiceField(required=False, label="Record", choices=lambda: [("", "Any record")]
                               + sorted(record_labels().items(), key=lambda pair: pair[1]))
    patient = forms.IntegerField(required=False, min_value=1, label="Patient id")
    since = forms.DateField(required=False, label="From",
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To",
                            widget=forms.DateInput(attrs={"type": "date"}))


def _label_patients(entries, clinic_id: int) -> None:
    """Give each entry ``patient_label`` (MRN and name of its patient, looked up in this
    clinic only), so the admin knows whom it concerns without opening a chart: one query for
    the whole page; and ``detail_items``, its details as (name, value) pairs."""
    from kapclinic.patients.models import Patient

    entries = list(entries)
    wanted = {e.patient_id for e in entries if e.patient_id}
    names = {}
    if wanted:
        names = {row[0]: f"{row[1]} · {row[2]} {row[3]}" for row in for_clinic(
            Patient, clinic_id).filter(pk__in=wanted).values_list("id", "mrn", "given_name",
                                                                  "family_name")}
    for entry in entries:
        entry.patient_label = names.get(entry.patient_id, "")
        try:
            detail = json.loads(entry.detail_json)
        except ValueError:
            detail = {}
        entry.detail_items = ([(name.replace("_", " "), _detail_value(name, value))
                               for name, value in detail.items()]
                              if isinstance(detail, dict) else [])
        entry.action_label = in_words(entry.action)
        entry.record_label = record_labels().get(entry.object_type) or in_words(entry.object_type)
        entry.role_label = ROLE_LABELS.get(entry.role, entry.role)


@require(Action.AUDIT_VIEW)
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    entries = for_clinic(AuditEntry, request.membership.clinic_id)
    if form.is_valid():
        data = form.cleaned_data
        if data["user"]:
            entries = entries.filter(actor_username__iexact=data["user"].strip())
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["record"]:
            entries = entries.filter(object_type=data["record"])
        if data["patient"]:
            entries = entries.filter(patient_id=data["patient"])
        if data["since"]:
            entries = entries.filter(at__date__gte=data["since"])
        if data["until"]:
            entries = entries.filter(at__date__lte=data["until"])
    page = Paginator(entries.order_by("-seq"), 50).get_page(request.GET.get("page"))
    _label_patients(page, request.membership.clinic_id)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/log.html", {"form": form, "page": page,
                                              "query": query.urlencode()})
