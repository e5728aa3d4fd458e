"""Measures pages: a patient's questionnaires, entry forms, self-report links, dashboards."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from kapclinic.accounts.permissions import Action, public, require
from kapclinic.accounts.scoping import get_for_user
from kapclinic.alerts import sources as alert_sources
from kapclinic.alerts.models import Alert
from kapclinic.audit import trail
from kapclinic.clinical import instruments, outcomes
from kapclinic.measures import actions, anchoring, since_dose
from kapclinic.measures import outcomes as outcome_snapshots
from kapclinic.measures.chart import relapse_chart, trajectory
from kapclinic.measures.forms import (
    ClinicalEventForm,
    MeasureSettingsForm,
    OutcomeSettingsForm,
    QuestionnaireForm,
    SendForm,
)
from kapclinic.measures.models import (
    ClinicalEvent,
    DoseFollowUp,
    MeasureRequest,
    OutcomeSnapshot,
    Response,
    Schedule,
    instrument_name,
)
from kapclinic.patients import link_session
from kapclinic.patients.access import get_own_patient, get_patient_for_user
from kapclinic.patients.forms import EnteredInErrorForm
from kapclinic.patients.models import PatientLink
from kapclinic.platform import extensions as ext
from kapclinic.platform.idempotency import one_time_form


def trajectories(responses) -> list[dict]:
    """One chart (and its table) per instrument, oldest point first."""
    by_instrument = defaultdict(list)
    for response in sorted(responses, key=lambda r: r.taken_at):
        if response.entered_in_error_at is None:
            by_instrument[response.instrument].append(response)
    charts = []
    for instrument, rows in by_instrument.items():
        try:
            definition = instruments.get_instrument(instrument)
        except instruments.UnknownInstrumentError:
            # The clinic removed the definition file: the answers stay on record and shown.
            charts.append({"instrument": SimpleNamespace(
                id=instrument, short_name=instrument, name="definition no longer installed"),
                "chart": None, "rows": rows})
            continue
        for r in rows:
            r.current_reading = current_reading(r, definition)
            r.partial_note = partial_note(r, definition)
        # a partial total (an item not rated) is not on the same scale: off the trend line
        points = [(r.taken_at, r.total, bool(r.flags)) for r in rows
                  if r.total is not None and not is_partial(r)]
        charts.append({"instrument": definition, "chart": trajectory(instrument, points),
                       "rows": rows})
    return charts


def is_partial(response: Response) -> bool:
    """A total over only the rated items (stored before "partial" was: read from not_rated)."""
    result = response.result or {}
    return bool(result.get("partial") or (
        response.total is not None and result.get("missing_handling", {}).get("not_rated")))


def partial_note(response: Response, definition) -> str:
    """"partial: 1 of 4 items rated" for a total over only the rated items, else ""."""
    if not is_partial(response):
        return ""
    not_rated = len(response.result.get("missing_handling", {}).get("not_rated", []))
    scored = sum(1 for item in definition.items if item.scored)
    return f"partial: {scored - not_rated} of {scored} items rated"


def current_reading(response: Response, definition) -> dict | None:
    """For a response scored under an earlier version of its instrument (e.g. the two-tier
    C-SSRS screener), its stored answers re-scored by the current version, shown beside
    the result as recorded (which is never rewritten). None when the version is current."""
    if response.definition_version == definition.version:
        return None
    try:
        result = actions.score_answers(response.patient, response.instrument, response.answers)
    except (instruments.AnswerError, instruments.SettingError):
        return {"version": definition.version, "label": None}
    label = result.severity_label
    if label is None and result.total is not None:
        label = f"total {result.total:g}"
    return {"version": definition.version, "label": label}


def measures_page(request: HttpRequest, patient, *, event_form=None, status: int = 200
                  ) -> HttpResponse:
    responses = list(Response.objects.filter(patient=patient).select_related("entered_by"))
    # time since the nearest dose beside each answer: the patient's doses in one read
    since_dose.annotate(responses, ext.doses_of([patient.pk]).get(patient.pk, []),
                        since_dose.clinic_zone(request, patient))
    charts = trajectories(responses)
    clinic_settings = actions.settings_for(patient.clinic_id)
    version = clinic_settings.outcome_version
    snapshots = {s.instrument: outcome_snapshots.present(s, version)
                 for s in OutcomeSnapshot.objects.filter(patient=patient)}
    for chart in charts:
        chart["outcome"] = snapshots.get(chart["instrument"].id)
    events = list(ClinicalEvent.objects.filter(patient=patient).select_related("recorded_by"))
    trail.record_many([trail.Event("read", "clinical_event", e.pk, patient_id=patient.pk)
                       for e in events])
    # shown with the answers that raised them and the patient's phone, to call at once
    open_alerts = alert_sources.with_details(Alert.objects.open().filter(patient=patient)
                                             .select_related("patient").order_by("raised_at"))
    trail.record_many([trail.Event("read", "alert", a.pk, patient_id=patient.pk)
                       for a in open_alerts])
    return render(request, "measures/patient.html", {
        "patient": patient, "charts": charts, "responses": responses,
        "schedules": [_named(s) for s in Schedule.objects.filter(patient=patient)],
        "urgent_alerts": sum(a.priority == Alert.Priority.URGENT for a in open_alerts),
        "follow_up_alerts": sum(a.priority == Alert.Priority.FOLLOW_UP for a in open_alerts),
        "instruments": instruments.list_instruments(), "send_form": SendForm(),
        "events": events, "event_form": event_form or ClinicalEventForm(),
        "open_alerts": open_alerts, "followups": recent_followups(patient),
        "followup_settings": clinic_settings,
    }, status=status)


FOLLOWUPS_SHOWN = 6


def recent_followups(patient) -> list[DoseFollowUp]:
    """The follow-ups the patient's latest doses scheduled: waiting, sent or skipped (why)."""
    return list(DoseFollowUp.objects.filter(patient=patient)
                .order_by("-dose_given_at", "due_at")[:FOLLOWUPS_SHOWN])


def _named(schedule: Schedule) -> Schedule:
    """The schedule with its instrument's short name (or its id if no longer installed)."""
    try:
        schedule.name = instruments.get_instrument(schedule.instrument).short_name
    except instruments.UnknownInstrumentError:
        schedule.name = schedule.instrument
    return schedule


@require(Action.PATIENT_VIEW)
def patient_measures(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.PATIENT_VIEW)
    return measures_page(request, patient)


@require(Action.EVENT_RECORD)
@require_POST
def record_event(request: HttpRequest, patient_id: int) -> HttpResponse:
    # audited as a read too: a refused form shows the measures page again
    patient = get_patient_for_user(request, patient_id, Action.EVENT_RECORD)
    form = ClinicalEventForm(request.POST)
    if not form.is_valid():
        return measures_page(request, patient, event_form=form, status=422)
    actions.record_clinical_event(patient=patient, by=request.user, **form.cleaned_data)
    messages.success(request, f"{ClinicalEvent.KINDS[form.cleaned_data['kind']]} recorded; "
                              "outcomes recomputed.")
    return redirect("patient-measures", patient_id=patient.pk)


def _mark_in_error(request: HttpRequest, patient, mark, record, what: str,
                   done: str) -> HttpResponse:
    """The shared half of the entered-in-error pages: a reason is needed, and a record
    someone else already marked is said so (``mark`` is the actions function)."""
    form = EnteredInErrorForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Say why the {what} was entered in error; nothing was changed.")
    elif mark(record, reason=form.cleaned_data["reason"], by=request.user):
        messages.success(request, f"{what.capitalize()} marked entered in error; {done}")
    else:
        messages.error(request, f"That {what} was already marked entered in error.")
    return redirect("patient-measures", patient_id=patient.pk)


@require(Action.EVENT_RECORD)
@require_POST
def event_entered_in_error(request: HttpRequest, patient_id: int, clinical_event_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.EVENT_RECORD, audit_read=False)
    event = get_for_user(request, ClinicalEvent.objects.filter(patient=patient), clinical_event_id,
                         Action.EVENT_RECORD, audit_read=False)
    return _mark_in_error(request, patient, actions.mark_event_entered_in_error, event,
                          "event", "outcomes recomputed.")


@require(Action.MEASURE_ENTER)
@require_POST
def response_entered_in_error(request: HttpRequest, patient_id: int, response_id: int
                              ) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.MEASURE_ENTER, audit_read=False)
    response = get_for_user(request, Response.objects.filter(patient=patient), response_id,
                            Action.MEASURE_ENTER, audit_read=False)
    return _mark_in_error(request, patient, actions.mark_response_entered_in_error, response,
                          "questionnaire", "it no longer counts in the outcomes.")


SESSION_MAX = 2**63 - 1


def requested_session(request: HttpRequest) -> tuple[int | None, str]:
    """The ``?session=`` a session page's link carries: (id, "") or (None, the problem)."""
    raw = request.GET.get("session", "").strip()
    if not raw:
        return None, ""
    if not raw.isdigit() or not 0 < int(raw) <= SESSION_MAX:
        return None, f"Session: {raw[:20]!r} is not a session number."
    return int(raw), ""


def session_refusal(session_id: int) -> str:
    return (f"Session: no dose is recorded for this patient in session {session_id}, so the "
            "questionnaire cannot be linked to it. Save it without the session (it is shown "
            "by its time against the nearest dose), or record the dose first.")


@require(Action.MEASURE_ENTER)
@require_http_methods(["GET", "POST"])
@one_time_form
def enter_response(request: HttpRequest, patient_id: int, instrument: str) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.MEASURE_ENTER)
    try:
        form = QuestionnaireForm(request.POST or None, instrument=instrument)
    except instruments.UnknownInstrumentError:
        return render(request, "web/404.html", status=404)
    # taken in a dosing session (the session page links here with ?session=<id>): linked only
    # to a session in which this patient's own dose is recorded
    session_id, session_problem = requested_session(request)
    dose = anchoring.session_dose(patient, session_id)
    if session_id is not None and dose is None:
        session_problem = session_refusal(session_id)
    if request.method == "POST" and session_problem:
        form.is_valid()
        form.add_error(None, session_problem)
    elif request.method == "POST" and form.is_valid():
        try:
            recorded = actions.record_response(patient=patient, instrument=instrument,
                                               answers=form.answers(), source="clinic",
                                               by=request.user,
                                               session_id=dose.session_id if dose else None)
        except instruments.AnswerError as exc:
            form.add_error(f"item_{exc.item}" if f"item_{exc.item}" in form.fields else None,
                           exc.problem)
        else:
            urgent = [a.label for a in recorded.alerts if a.priority == Alert.Priority.URGENT]
            follow_up = [a.label for a in recorded.alerts if a.priority != Alert.Priority.URGENT]
            if urgent:
                messages.error(request, "Urgent: " + "; ".join(urgent))
            if follow_up:
                messages.warning(request, "Follow-up: " + "; ".join(follow_up))
            messages.success(request, f"{form.definition.short_name} saved.")
            return redirect(after_entry(patient, dose))
    plain = reverse("measure-enter", args=[patient.pk, instrument])
    return render(request, "measures/enter.html", {
        "patient": patient, "form": form, "session_problem": session_problem,
        "since_dose": dose and since_dose.describe(timezone.now(), [dose],
                                                   since_dose.clinic_zone(request, patient)),
        # a session that cannot be linked: the form saves without it, as the notice says
        "action": request.get_full_path() if dose else plain,
        "cancel_url": after_entry(patient, dose),
    }, status=422 if form.errors else 200)


def after_entry(patient, dose) -> str:
    """Back to the session page it was taken in (the treatment app's, found by its URL
    name: no import), else the patient's measures."""
    if dose is not None:
        try:
            return reverse("session", args=[dose.session_id])
        except NoReverseMatch:
            pass
    return reverse("patient-measures", args=[patient.pk])


@require(Action.MEASURE_SEND)
@require_POST
def send_now(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.MEASURE_SEND, audit_read=False)
    form = SendForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.problem())
    else:
        try:
            actions.send_request(patient=patient, instrument=form.cleaned_data["instrument"],
                                 due_at=timezone.now(), base_url=request.build_absolute_uri("/"),
                                 by=request.user)
        except actions.Unreachable as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Questionnaire link sent.")
    return redirect("patient-measures", patient_id=patient.pk)


@require(Action.MEASURE_SEND)
@require_POST
def start_schedule(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.MEASURE_SEND, audit_read=False)
    made = actions.start_default_schedule(patient=patient, by=request.user)
    if made:
        messages.success(request, "Measuring " + ", ".join(_named(s).name for s in made) + ".")
    clinic_settings = actions.settings_for(patient.clinic_id)
    for instrument in actions.default_instruments(patient, clinic_settings):
        refusal = actions.self_report_refusal(instrument)
        if refusal:
            messages.warning(request, f"Not scheduled. {refusal}")
    return redirect("patient-measures", patient_id=patient.pk)


@require(Action.MEASURE_SEND)
@require_POST
def toggle_schedule(request: HttpRequest, patient_id: int, schedule_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.MEASURE_SEND, audit_read=False)
    schedule = get_for_user(request, Schedule.objects.filter(patient=patient), schedule_id,
                            Action.MEASURE_SEND, audit_read=False)
    resume = request.POST.get("active") == "1"
    if actions.set_schedule_active(schedule=schedule, active=resume, by=request.user):
        name = instruments.get_instrument(schedule.instrument).short_name
        messages.success(request, f"{name} questionnaires resumed." if resume
                         else f"{name} questionnaires paused: none are sent until resumed.")
    return redirect("patient-measures", patient_id=patient.pk)


@require(Action.DASHBOARD_VIEW)
def clinic_dashboard(request: HttpRequest) -> HttpResponse:
    from kapclinic.measures import dashboard

    clinic_id = request.membership.clinic_id
    instrument = request.GET.get("instrument", "phq9")
    if instrument not in outcomes.outcome_instruments():
        instrument = "phq9"
    curve = dashboard.relapse_curve(clinic_id, instrument)
    clinic_settings = actions.settings_for(clinic_id)
    late, expired = dashboard.overdue(clinic_id)
    waiting = dashboard.waiting_followups(clinic_id)
    fading = list(dashboard.relief_fading(clinic_id, instrument))
    trail.record_many(
        [trail.Event("list", "outcome", s.pk, patient_id=s.patient_id) for s in fading]
        + [trail.Event("list", "schedule", s.pk, patient_id=s.patient_id) for s in late]
        + [trail.Event("list", "measure_request", r.pk, patient_id=r.patient_id)
           for r in expired]
        + [trail.Event("list", "dose_follow_up", f.pk, patient_id=f.patient_id)
           for f in waiting])
    return render(request, "measures/dashboard.html", {
        "instrument": instruments.get_instrument(instrument),
        "choices": [instruments.get_instrument(i) for i in outcomes.outcome_instruments()],
        "rates": dashboard.rates_by_condition(clinic_id, instrument),
        "by_treatment": dashboard.rates_by_treatment(clinic_id, instrument),
        "baseline_window": clinic_settings.outcome_settings().baseline_window_days,
        "curve": curve, "km": relapse_chart(curve) if curve is not None else None,
        "fading": fading, "late": late, "expired": expired, "waiting": waiting,
        "fading_fraction": clinic_settings.fading_fraction,
        "relapse_after": clinic_settings.relapse_after.replace("_", " "),
        "stale": outcome_snapshots.stale(clinic_id).count(),
    })


@require(Action.MEASURE_SETTINGS)
@require_http_methods(["GET", "POST"])
@one_time_form
def measure_settings(request: HttpRequest) -> HttpResponse:
    current = actions.settings_for(request.membership.clinic_id)
    form = MeasureSettingsForm(request.POST or None, instance=current)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_settings(clinic_id=request.membership.clinic_id, values=form.values(),
                                  by=request.user, expected_version=form.cleaned_data["version"])
        except actions.SettingsConflict as exc:
            conflict = exc  # the typing stays on screen; nothing was overwritten
        else:
            messages.success(request, "Measurement settings saved.")
            return redirect("measure-settings")
    return render(request, "measures/settings.html", {"form": form, "conflict": conflict},
                  status=409 if conflict else 422 if form.errors else 200)


@require(Action.OUTCOME_SETTINGS)
@require_http_methods(["GET", "POST"])
@one_time_form
def outcome_settings(request: HttpRequest) -> HttpResponse:
    current = actions.settings_for(request.membership.clinic_id)
    version_before = current.outcome_version
    form = OutcomeSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        saved = actions.save_outcome_settings(clinic_id=request.membership.clinic_id,
                                              values=form.values(), by=request.user)
        if saved.outcome_version != version_before:
            messages.success(request, f"Outcome rules saved (version {saved.outcome_version}).")
        else:
            messages.success(request, "Nothing changed.")
        return redirect("outcome-settings")
    return render(request, "measures/outcome_settings.html", {
        "form": form, "settings": current,
        "stale": outcome_snapshots.stale(request.membership.clinic_id).count(),
        "reference_rules": [SimpleNamespace(instrument_name=instrument_name(r.instrument),
                                            label=r.label)
                            for r in outcomes.load_rules().relapse_rules.values()],
    }, status=422 if form.errors else 200)


# ---- the patient's self-report link ------------------------------------------------------

MEASURE_LINK = PatientLink.Purpose.MEASURE


def _link_closed(request: HttpRequest, *, lost: bool = False) -> HttpResponse:
    """Only that the link is closed: no name, no answers, no crisis page, no clinic."""
    return render(request, "screening/link_closed.html", {"lost": lost}, status=404)


@public
@link_session.no_referrer
@require_http_methods(["GET", "POST"])
def self_report(request: HttpRequest, token: str) -> HttpResponse:
    """The link as sent (link_session.arrive: the token moves into the session)."""
    return link_session.arrive(request, token, MEASURE_LINK, answer=lambda link: _self_report(request, link),
                               closed=lambda: _link_closed(request), page="self-report-page")


@public
@require_http_methods(["GET", "POST"])
@one_time_form
def self_report_page(request: HttpRequest) -> HttpResponse:
    link = link_session.current(request, MEASURE_LINK)
    if link is None:
        return _link_closed(request, lost=True)
    return _self_report(request, link)


def _self_report(request: HttpRequest, link: PatientLink) -> HttpResponse:
    patient = link.patient
    if not link.is_open:
        return _answered_by_link(request, link)
    instrument = link.request.instrument
    form = QuestionnaireForm(request.POST or None, instrument=instrument)
    if request.method == "POST" and form.is_valid():
        try:
            recorded = actions.record_response(patient=patient, instrument=instrument,
                                               answers=form.answers(), source="link", by=None,
                                               link=link)
        except actions.LinkUsed:
            return _answered_by_link(request, link)
        except instruments.AnswerError as exc:
            form.add_error(None, exc.problem)
        else:
            return _after_answer(request, patient, recorded.crisis)
    if request.method == "GET":
        trail.record("read", object_type="measure_request", object_id=link.request.pk,
                     patient_id=patient.pk)
    return render(request, "measures/self_report.html", {
        "patient": patient, "form": form, "action": reverse("self-report-page")},
        status=422 if form.errors else 200)


def _answered_by_link(request: HttpRequest, link: PatientLink) -> HttpResponse:
    """A second tap of "Send" (a POST from the browser holding the link) shows what the
    answer showed, crisis help too: the phone shows the last response it gets. Any later
    visit shows only that the link is closed."""
    if request.method == "POST":
        return _answered_page(request, link)
    link_session.forget(request, MEASURE_LINK)
    return _link_closed(request)


def _after_answer(request: HttpRequest, patient, crisis: bool) -> HttpResponse:
    if crisis:
        crisis_text = actions.settings_for(patient.clinic_id).crisis_text
        return render(request, "measures/crisis.html", {"crisis_text": crisis_text,
                                                        "patient": patient})
    return render(request, "screening/link_done.html", {"patient": patient})


def _answered_page(request: HttpRequest, link) -> HttpResponse:
    """A second tap on an answered link shows what the first one showed (crisis help too)."""
    answered = Response.objects.filter(link=link).first()
    if answered is None:
        return render(request, "screening/link_closed.html", status=404)
    return _after_answer(request, link.patient, answered.crisis)


# ---- the patient's portal ------------------------------------------------------------------

def open_requests(patient):
    return (MeasureRequest.objects.filter(patient=patient, link__used_at__isnull=True,
                                          link__expires_at__gt=timezone.now())
            .select_related("link").order_by("due_at"))


@require(Action.PORTAL)
@require_http_methods(["GET", "POST"])
@one_time_form
def portal_answer(request: HttpRequest, request_id: int) -> HttpResponse:
    patient = get_own_patient(request)
    due = get_for_user(request, open_requests(patient), request_id, Action.PORTAL,
                       audit_read=False)
    form = QuestionnaireForm(request.POST or None, instrument=due.instrument)
    if request.method == "POST" and form.is_valid():
        try:
            recorded = actions.record_response(patient=patient, instrument=due.instrument,
                                               answers=form.answers(), source="portal",
                                               by=request.user, link=due.link)
        except actions.LinkUsed:
            return _answered_page(request, due.link)
        except instruments.AnswerError as exc:
            form.add_error(None, exc.problem)
        else:
            if recorded.crisis:
                return _after_answer(request, patient, crisis=True)
            messages.success(request, "Thank you: your answers are with your care team.")
            return redirect("portal")
    return render(request, "measures/self_report.html", {
        "patient": patient, "form": form, "action": reverse("portal-answer", args=[due.pk])},
        status=422 if form.errors else 200)
