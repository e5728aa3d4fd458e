"""The clinic admin's view of the audit trail: browse and filter, never change."""

from __future__ import annotations

import json

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kapclinic.accounts.permissions import Action, require
from kapclinic.audit.models import AuditEntry

ACTIONS = ["create", "read", "list", "update", "denied", "login", "login_failed", "logout",
           "mfa_verified", "mfa_failed", "token_created", "token_revoked"]
# What an entry is about (AuditEntry.object_type), as the app writes them.
RECORD_TYPES = sorted([
    "alert", "api_token", "clinic", "clinical_event", "condition", "consent",
    "consent_document", "eligibility_decision", "intake", "measure_request", "measure_settings",
    "membership", "outbox_message", "outcome", "outcome_settings", "patient", "patient_link", "permission",
    "response", "schedule", "signoff", "user",
])


class AuditFilterForm(forms.Form):
    user = forms.CharField(required=False, label="User")
    action = forms.ChoiceField(required=False,
                               choices=[("", "Any action")] + [(a, a) for a in ACTIONS])
    record = forms.ChoiceField(required=False, label="Record",
                               choices=[("", "Any record")] + [(r, r) for r in RECORD_TYPES])
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
        names = {row[0]: f"{row[1]} · {row[2]} {row[3]}" for row in Patient.objects.filter(
            clinic_id=clinic_id, pk__in=wanted).values_list("id", "mrn", "given_name",
                                                            "family_name")}
    for entry in entries:
        entry.patient_label = names.get(entry.patient_id, "")
        try:
            detail = json.loads(entry.detail_json)
        except ValueError:
            detail = {}
        entry.detail_items = list(detail.items()) if isinstance(detail, dict) else []


@require(Action.AUDIT_VIEW)
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    entries = AuditEntry.objects.filter(clinic_id=request.membership.clinic_id)
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
