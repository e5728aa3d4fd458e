"""Patient pages: the list, the chart, and the forms that create and edit."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from kapclinic.accounts.permissions import Action, require, role_can
from kapclinic.accounts.scoping import get_for_user
from kapclinic.audit import trail
from kapclinic.clinical.codes import diagnoses
from kapclinic.patients import actions
from kapclinic.patients.access import get_patient_for_user
from kapclinic.patients.forms import (
    ConditionForm,
    EnteredInErrorForm,
    PatientForm,
    PatientSearchForm,
)
from kapclinic.patients.models import Condition
from kapclinic.patients.queries import search_patients
from kapclinic.patients.timeline import LoadedSection, build_timeline
from kapclinic.platform import extensions
from kapclinic.platform.idempotency import one_time_form


@require(Action.PATIENT_LIST)
def patient_list(request: HttpRequest) -> HttpResponse:
    clinic = request.membership.clinic
    form = PatientSearchForm(request.GET or None, clinic=clinic)
    filters = form.cleaned_data if form.is_valid() else {}
    patients = search_patients(clinic.pk, filters.get("q", ""), filters.get("status", ""),
                               filters.get("member"))
    page = Paginator(patients, settings.KAPCLINIC_PAGE_SIZE).get_page(request.GET.get("page"))
    trail.record_many([
        trail.Event("list", "patient", patient.pk, patient_id=patient.pk) for patient in page
    ])
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    template = "patients/_results.html" if request.htmx else "patients/list.html"
    return render(request, template, context)


@require(Action.PATIENT_VIEW)
def patient_chart(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.PATIENT_VIEW)
    conditions = list(patient.conditions.select_related("recorded_by", "entered_in_error_by"))
    # each app's part of the chart, loaded once and shared with the timeline
    role = request.membership.role
    sections = [LoadedSection(section, section.load(patient))
                for section in extensions.chart_sections() if role_can(role, section.action)]
    return render(request, "patients/chart.html", {
        "patient": patient,
        "age": patient.age_on(timezone.localdate()),
        "conditions": conditions,
        "timeline": build_timeline(patient, conditions, sections),
        "condition_form": ConditionForm(),
        "main_sections": [part for part in sections if part.section.column == "main"],
        "side_sections": [part for part in sections if part.section.column == "side"],
    })


@require(Action.PATIENT_CREATE)
@require_http_methods(["GET", "POST"])
@one_time_form
def patient_create(request: HttpRequest) -> HttpResponse:
    clinic = request.membership.clinic
    form = PatientForm(request.POST or None, clinic=clinic)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            patient = actions.create_patient(clinic=clinic, data=data, by=request.user)
        except actions.StatusRefused as exc:
            form.add_error("status", str(exc))
        else:
            messages.success(request, f"{patient.full_name} was added to the registry.")
            return redirect("patient-chart", patient_id=patient.pk)
    return render(request, "patients/form.html", {"form": form, "creating": True},
                  status=422 if form.errors else 200)


@require(Action.PATIENT_EDIT)
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.PATIENT_EDIT)
    form = PatientForm(request.POST or None, instance=patient, clinic=patient.clinic)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            expected = int(request.POST.get("version", ""))
        except ValueError:
            expected = -1
        try:
            actions.update_patient(patient=patient, changes=form.changed_values(),
                                   expected_version=expected, by=request.user)
        except actions.ConflictError as exc:
            conflict = exc
        except actions.StatusRefused as exc:  # the record moved on since the form was checked
            form.add_error("status", str(exc))
        else:
            messages.success(request, "Changes saved.")
            return redirect("patient-chart", patient_id=patient.pk)
    version = patient.version
    if conflict is not None:
        # Keep the user's typing on screen; the next save compares against the record now stored.
        version = conflict.current.version
    return render(request, "patients/form.html", {
        "form": form, "patient": patient, "version": version, "conflict": conflict,
        "current": conflict.current if conflict else None,
    }, status=409 if conflict else 422 if form.errors else 200)


@require(Action.PATIENT_EDIT)
@require_POST
@one_time_form
def condition_add(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.PATIENT_EDIT, audit_read=False)
    form = ConditionForm(request.POST)
    if form.is_valid():
        actions.add_condition(patient=patient, code=form.cleaned_data["code"],
                              treatment_resistant=form.cleaned_data["treatment_resistant"],
                              note=form.cleaned_data["note"], by=request.user)
        added = diagnoses().get(form.cleaned_data["code"])
        messages.success(request, f"Condition added: {added.code} {added.display}.")
    else:
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label if field in form.fields else ''}: "
                                    f"{' '.join(errors)}")
    return redirect("patient-chart", patient_id=patient.pk)


@require(Action.PATIENT_EDIT)
@require_POST
def condition_entered_in_error(request: HttpRequest, patient_id: int,
                               condition_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.PATIENT_EDIT, audit_read=False)
    condition = get_for_user(request, Condition.objects.filter(patient=patient), condition_id,
                             Action.PATIENT_EDIT, audit_read=False)
    form = EnteredInErrorForm(request.POST)
    if form.is_valid():
        actions.mark_condition_entered_in_error(condition=condition,
                                                reason=form.cleaned_data["reason"],
                                                by=request.user)
        messages.success(request, f"{condition.code} marked as entered in error.")
    else:
        messages.error(request, "Say why the condition was entered in error.")
    return redirect("patient-chart", patient_id=patient.pk)
