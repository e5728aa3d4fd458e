"""Adverse-event pages: record one from a session or the chart, read it with its review, REMS
report and closing, the prescriber's review, the clinic's safety listing (page and CSV) and
the clinic's lists. One view per action; every write goes through ``ae_actions``."""

from __future__ import annotations

import csv
import hashlib
import secrets
from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kapclinic.accounts.permissions import Action, require, role_can
from kapclinic.accounts.scoping import get_for_user
from kapclinic.audit import trail
from kapclinic.clinical import safety
from kapclinic.patients.models import Patient
from kapclinic.platform.idempotency import FORM_FIELD, one_time_form
from kapclinic.platform.spreadsheet import safe_cell
from kapclinic.treatment import ae_actions, safety_listing
from kapclinic.treatment import ae_forms as forms
from kapclinic.treatment.ae_models import AdverseEvent, AdverseEventSettings, Reporter
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import Session


def _refused(form, exc: FieldError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _zone(request: HttpRequest):
    return request.membership.clinic.zone


def _record(request: HttpRequest, patient: Patient, session: Session | None) -> HttpResponse:
    vocabulary = ae_actions.vocabulary_for(patient.clinic_id)
    form = forms.EventForm(request.POST or None, vocabulary=vocabulary, zone=_zone(request))
    if request.method == "POST" and form.is_valid():
        token = request.POST.get(FORM_FIELD, "")
        try:
            event = ae_actions.record_event(
                patient=patient, session=session, by=request.user,
                reported_by=Reporter.SESSION if session else Reporter.CHART,
                # the form's one-time token keys the event, so a replay records nothing more
                key=hashlib.sha256(token.encode()).hexdigest() if token else secrets.token_hex(16),
                **form.cleaned_data)
        except FieldError as exc:
            _refused(form, exc)
        else:
            messages.success(request, "The adverse event is recorded." + (
                " It is serious: the prescriber is alerted and reviews it." if event.serious else ""))
            return redirect("adverse-event", adverse_event_id=event.pk)
    return render(request, "treatment/ae_new.html", {
        "form": form, "patient": patient, "session": session, "sources": vocabulary.sources},
        status=422 if form.errors else 200)


@require(Action.ADVERSE_EVENT_RECORD)
@require_http_methods(["GET", "POST"])
@one_time_form
def new_for_session(request: HttpRequest, session_id: int) -> HttpResponse:
    session = get_for_user(request, Session.objects.select_related("patient"), session_id,
                           Action.ADVERSE_EVENT_RECORD, audit_read=request.method == "GET")
    return _record(request, session.patient, session)


@require(Action.ADVERSE_EVENT_RECORD)
@require_http_methods(["GET", "POST"])
@one_time_form
def new_for_patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_for_user(request, Patient, patient_id, Action.ADVERSE_EVENT_RECORD,
                           audit_read=request.method == "GET")
    return _record(request, patient, None)


def _event(request: HttpRequest, adverse_event_id: int, action: Action, *, read: bool = False):
    return get_for_user(request, AdverseEvent.objects.select_related("patient", "session", "clinic",
                                                                     "recorded_by"),
                        adverse_event_id, action, audit_read=read)


@require(Action.PATIENT_VIEW)
@require_GET
def detail(request: HttpRequest, adverse_event_id: int) -> HttpResponse:
    event = _event(request, adverse_event_id, Action.PATIENT_VIEW, read=True)
    return _detail_page(request, event)


def _detail_page(request, event, *, failed=None, status: int = 200) -> HttpResponse:
    vocabulary = ae_actions.vocabulary_for(event.clinic_id)
    role = request.membership.role
    reviews = list(event.reviews.select_related("reviewed_by"))
    closure = event.closure if hasattr(event, "closure") else None
    rems_report = event.rems_report if hasattr(event, "rems_report") else None
    live = event.entered_in_error_at is None and closure is None
    can_review = role_can(role, Action.ADVERSE_EVENT_REVIEW) and event.entered_in_error_at is None
    failed = failed or {}
    return render(request, "treatment/ae_detail.html", {
        "event": event, "reviews": reviews, "closure": closure, "rems_report": rems_report,
        "criteria": [vocabulary.seriousness_label(c) for c in event.serious_criteria],
        "esketamine": ae_actions.is_esketamine(event),
        "review_form": failed.get("review") or (forms.ReviewForm(vocabulary=vocabulary)
                                                if can_review else None),
        "rems_form": failed.get("rems") or (forms.RemsReportForm(
            initial={"reported_on": timezone.localdate(timezone.now(), _zone(request))})
            if can_review and rems_report is None and ae_actions.is_esketamine(event) else None),
        "close_form": failed.get("close") or (forms.CloseForm(vocabulary=vocabulary)
                                              if live and role_can(role, Action.ADVERSE_EVENT_RECORD)
                                              else None),
        "error_form": forms.ErrorForm() if live and role_can(role, Action.ADVERSE_EVENT_RECORD) else None,
        "waits_for_review": event.serious and not reviews,
    }, status=status)


def _follow_up(request: HttpRequest, adverse_event_id: int, action: Action, key: str,
               make_form, write, done: str) -> HttpResponse:
    """One follow-up of an event (review, REMS report, closing): the form, the action, and the
    page again with the refusal beside its field."""
    event = _event(request, adverse_event_id, action)
    form = make_form(event)
    if form.is_valid():
        try:
            write(event=event, by=request.user, **form.cleaned_data)
        except FieldError as exc:
            _refused(form, exc)
        else:
            messages.success(request, done)
            return redirect("adverse-event", adverse_event_id=event.pk)
    return _detail_page(request, event, failed={key: form}, status=422)


@require(Action.ADVERSE_EVENT_REVIEW)
@require_POST
@one_time_form
def review(request: HttpRequest, adverse_event_id: int) -> HttpResponse:
    return _follow_up(request, adverse_event_id, Action.ADVERSE_EVENT_REVIEW, "review",
                      lambda e: forms.ReviewForm(request.POST,
                                                 vocabulary=ae_actions.vocabulary_for(e.clinic_id)),
                      ae_actions.review_event, "Your review is recorded.")


@require(Action.ADVERSE_EVENT_REVIEW)
@require_POST
@one_time_form
def rems_report(request: HttpRequest, adverse_event_id: int) -> HttpResponse:
    return _follow_up(request, adverse_event_id, Action.ADVERSE_EVENT_REVIEW, "rems",
                      lambda e: forms.RemsReportForm(request.POST), ae_actions.report_to_rems,
                      "The report to the REMS is recorded.")


@require(Action.ADVERSE_EVENT_RECORD)
@require_POST
@one_time_form
def close(request: HttpRequest, adverse_event_id: int) -> HttpResponse:
    return _follow_up(request, adverse_event_id, Action.ADVERSE_EVENT_RECORD, "close",
                      lambda e: forms.CloseForm(request.POST,
                                                vocabulary=ae_actions.vocabulary_for(e.clinic_id)),
                      ae_actions.close_event, "The event is closed.")


@require(Action.ADVERSE_EVENT_RECORD)
@require_POST
@one_time_form
def entered_in_error(request: HttpRequest, adverse_event_id: int) -> HttpResponse:
    event = _event(request, adverse_event_id, Action.ADVERSE_EVENT_RECORD)
    form = forms.ErrorForm(request.POST)
    if form.is_valid():
        try:
            ae_actions.mark_event_entered_in_error(event, reason=form.cleaned_data["reason"],
                                                   by=request.user, role=request.membership.role)
        except FieldError as exc:
            messages.error(request, f"Nothing was changed: {exc.message}.")
        else:
            messages.success(request, "The event is marked entered in error; it stays on file.")
    else:
        messages.error(request, "Nothing was changed: say why the event was entered in error.")
    return redirect("adverse-event", adverse_event_id=event.pk)


# ---- the clinic's safety listing and lists -------------------------------------------------

@require(Action.SAFETY_LISTING)
@require_GET
def listing(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate(timezone.now(), _zone(request))
    asked = "start" in request.GET or "end" in request.GET
    form = forms.PeriodForm(request.GET if asked else None,
                            initial={"start": today - timedelta(days=90), "end": today})
    start, end = today - timedelta(days=90), today
    if asked and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    try:
        rows = safety_listing.listing(request.membership.clinic_id, start, end, _zone(request))
    except ValueError as exc:
        form.add_error("end", str(exc).capitalize() + ".")
        rows = []
    trail.record("export" if request.GET.get("format") == "csv" else "list",
                 object_type="safety_listing", detail={"from": str(start), "to": str(end)})
    if request.GET.get("format") == "csv" and not form.errors:
        return _listing_csv(rows, start, end)
    totals = {"sessions": sum(r.sessions for r in rows), "events": sum(r.events for r in rows),
              "serious": sum(r.serious for r in rows)}
    return render(request, "treatment/ae_listing.html", {
        "form": form, "rows": rows, "start": start, "end": end, "totals": totals,
        "can_settings": role_can(request.membership.role, Action.ADVERSE_EVENT_SETTINGS)},
        status=422 if form.errors else 200)


def _listing_csv(rows, start, end) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="safety-listing-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow(["period_start", "period_end", "protocol", "route", "sessions_dosed", "events",
                     "events_per_100_sessions", "serious_events", "serious_per_100_sessions",
                     "terms"])
    for row in rows:
        writer.writerow([start, end, safe_cell(row.protocol_label), safe_cell(row.route_label),
                         row.sessions, row.events, row.rate if row.rate is not None else "",
                         row.serious, row.serious_rate if row.serious_rate is not None else "",
                         safe_cell("; ".join(f"{term} ({n})" for term, n in row.by_term))])
    return response


@require(Action.ADVERSE_EVENT_SETTINGS)
@require_http_methods(["GET", "POST"])
@one_time_form
def lists(request: HttpRequest) -> HttpResponse:
    clinic_id = request.membership.clinic_id
    vocabulary = ae_actions.vocabulary_for(clinic_id)
    stored = AdverseEventSettings.for_clinic(clinic_id).lists
    form = forms.ListsForm(request.POST or None, initial={
        name: "\n".join(getattr(vocabulary, name)) for name in safety.CLINIC_LISTS})
    if request.method == "POST" and form.is_valid():
        try:
            ae_actions.save_lists(clinic_id=clinic_id, lists=form.lists(), by=request.user)
        except FieldError as exc:
            _refused(form, exc)
        else:
            messages.success(request, "The adverse-event lists are saved.")
            return redirect("safety-listing")
    return render(request, "treatment/ae_lists.html", {
        "form": form, "sources": vocabulary.sources, "customised": sorted(stored)},
        status=422 if form.errors else 200)


# ---- the patient's portal -----------------------------------------------------------------

def load_portal(patient: Patient) -> dict:
    """The portal section: one question per recent session not yet answered."""
    from kapclinic.treatment import after_session

    return {"asks": [{"session": s, "form": forms.AfterSessionForm(
        terms=_patient_terms(patient), initial={"session": s.pk}, auto_id=f"id_after{s.pk}_%s")}
        for s in after_session.sessions_to_ask(patient)]}


def _patient_terms(patient: Patient) -> list[tuple[str, str]]:
    """The clinic's terms as the patient reads them (everyday words where known)."""
    vocabulary = ae_actions.vocabulary_for(patient.clinic_id)
    return [(t, vocabulary.in_patient_words(t)) for t in vocabulary.terms if t != ae_actions.OTHER]


# shown to a patient whose answer reaches the care team as urgent
URGENT_WORDS = ("Your care team has been told now. If you are thinking about harming yourself or "
                "feel unsafe, call your local emergency number or go to the nearest emergency "
                "department now; do not wait for a call back.")


@require(Action.PORTAL)
@require_POST
@one_time_form
def portal_after_session(request: HttpRequest) -> HttpResponse:
    from kapclinic.patients.access import get_own_patient
    from kapclinic.treatment import after_session

    patient = get_own_patient(request)
    form = forms.AfterSessionForm(request.POST, terms=_patient_terms(patient))
    session = None
    if form.is_valid():
        session = Session.objects.filter(patient=patient, pk=form.cleaned_data["session"]).first()
        if session is None:  # another patient's session, or none: a denied access
            trail.record("denied", object_type="session", object_id=str(form.cleaned_data["session"])[:20],
                         patient_id=patient.pk, detail={"reason": "not the patient's own session"})
    if session is None:
        messages.error(request, "Your answer could not be sent: please answer the question again.")
        return redirect("portal")
    try:
        after_session.answer(session=session, feeling=form.cleaned_data["feeling"],
                             effects=form.cleaned_data["effects"],
                             severity=form.cleaned_data["severity"], note=form.cleaned_data["note"],
                             by=request.user)
    except FieldError as exc:
        messages.error(request, f"Your answer was not sent: {exc.message}.")
        return redirect("portal")
    data = form.cleaned_data
    if data["feeling"] == "effects" and after_session.urgent(
            ae_actions.vocabulary_for(patient.clinic_id), data["effects"], data["severity"]):
        messages.error(request, URGENT_WORDS)
    else:
        messages.success(request, "Thank you: your care team has your answer.")
    return redirect("portal")
