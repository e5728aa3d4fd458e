"""Intake, eligibility decision and sign-off, and consent pages (clinician and portal)."""

from __future__ import annotations

import re

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from kapclinic.accounts.permissions import Action, public, require
from kapclinic.accounts.scoping import for_clinic, get_for_user
from kapclinic.audit import trail
from kapclinic.patients import link_session, links
from kapclinic.patients.access import get_own_patient, get_patient_for_user
from kapclinic.patients.models import PatientLink
from kapclinic.platform.idempotency import one_time_form
from kapclinic.screening import actions
from kapclinic.screening.forms import (
    DRAFT_MAX_CHARS,
    FIELD_MAX_CHARS,
    ConsentDocumentForm,
    ConsentSignForm,
    ConsentWithdrawForm,
    EvaluateForm,
    IntakeForm,
    SignOffForm,
    intake_field_label,
)
from kapclinic.screening.models import Consent, ConsentDocument, EligibilityDecision


class DraftTooLarge(Exception):
    """What was posted is over the intake's size limits; nothing was saved."""


def _draft(request: HttpRequest, form: IntakeForm) -> dict[str, str]:
    """The intake's own fields as typed (any other key posted is dropped, never stored),
    within the size limits: each answer as long as its field allows, all of them together
    at most DRAFT_MAX_CHARS (every save keeps a revision, so the limit bounds those too)."""
    draft = {key: value for key, value in request.POST.items() if key in form.fields}
    for key, value in draft.items():
        limit = getattr(form.fields[key], "max_length", None) or FIELD_MAX_CHARS
        if len(value) > limit:
            raise DraftTooLarge(f"The answer to “{form.fields[key].label}” is too long to save "
                                f"({len(value):,} characters; at most {limit:,}): shorten it.")
    if sum(len(value) for value in draft.values()) > DRAFT_MAX_CHARS:
        raise DraftTooLarge(f"The answers are too long to save (at most {DRAFT_MAX_CHARS:,} "
                            "characters in all): shorten the longest ones.")
    return draft


def _save(request: HttpRequest, patient, form: IntakeForm, *, validated: bool,
          source: str = "clinic"):
    draft = _draft(request, form)
    version = request.POST.get("version", "")
    if not re.fullmatch(r"[0-9]{1,9}", version):
        raise actions.StaleError("This form has no version: reload the page to continue.")
    expected = int(version)
    data = form.to_intake() if validated else None
    by = request.user if request.user.is_authenticated else None
    return actions.save_intake(patient=patient, draft=draft, data=data,
                               expected_version=expected, by=by, source=source)


def _post_intake(request: HttpRequest, patient, *, source: str = "clinic"):
    """Save what was posted, valid or not (nothing typed is lost).

    Returns (form, intake, version for the page, conflict message or None, saved and valid).
    On a conflict the page keeps the version the client sent, so it cannot overwrite.
    """
    intake = actions.intake_for(patient)
    form = IntakeForm(request.POST, patient=patient)
    validated = form.is_valid()
    try:
        intake = _save(request, patient, form, validated=validated, source=source)
    except (actions.StaleError, DraftTooLarge) as exc:
        return form, intake, request.POST.get("version", ""), str(exc), False
    return form, intake, intake.version, None, validated


def _autosave(request: HttpRequest, patient, *, source: str) -> HttpResponse:
    form = IntakeForm(request.POST, patient=patient)
    form.is_valid()
    try:
        intake = _save(request, patient, form, validated=False, source=source)
    except actions.StaleError as exc:
        return render(request, "screening/_autosave.html", {"error": str(exc)}, status=409)
    except DraftTooLarge as exc:
        return render(request, "screening/_autosave.html", {"error": str(exc)}, status=413)
    return render(request, "screening/_autosave.html", {"intake": intake})


def _intake_page(request: HttpRequest, patient, *, source: str, autosave_url: str,
                 done, diagnoses, by_link: bool = False) -> HttpResponse:
    """The intake form, for the clinic and for the patient's link alike: GET shows the
    draft; POST saves what was typed, valid or not, and ``done()`` answers a complete save
    (None: show the form again)."""
    if request.method == "POST":
        form, intake, version, conflict, complete = _post_intake(request, patient, source=source)
        if complete and (answer := done()) is not None:
            return answer
    else:
        intake = actions.intake_for(patient)
        version, conflict = intake.version, None
        if by_link:  # the clinic's page audits its read when it fetches the patient
            trail.record("read", object_type="intake", object_id=intake.pk or "",
                         patient_id=patient.pk)
        form = IntakeForm(initial=intake.draft, patient=patient)
    return render(request, "screening/intake.html", {
        "patient": patient, "form": form, "intake": intake, "version": version,
        "conflict": conflict, "autosave_url": autosave_url, "diagnoses": diagnoses,
        "by_link": by_link,
    }, status=409 if conflict else 422 if form.errors else 200)


@require(Action.INTAKE_EDIT)
@require_http_methods(["GET", "POST"])
def intake_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.INTAKE_EDIT)

    def done() -> HttpResponse:
        messages.success(request, "Intake saved. Evaluate it below.")
        return redirect("screening", patient_id=patient.pk)

    return _intake_page(request, patient, source="clinic", done=done,
                        autosave_url=reverse("intake-autosave", args=[patient.pk]),
                        diagnoses=[c for c in patient.conditions.all() if c.is_active])


@require(Action.INTAKE_EDIT)
@require_POST
def intake_autosave(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Saves the draft as the person types (htmx), whether or not it validates yet."""
    patient = get_patient_for_user(request, patient_id, Action.INTAKE_EDIT, audit_read=False)
    return _autosave(request, patient, source="clinic")


@require(Action.PATIENT_VIEW)
def screening(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.PATIENT_VIEW)
    decisions = list(EligibilityDecision.objects.filter(patient=patient)
                     .select_related("evaluated_by", "signoff__signed_by")[:10])
    latest = decisions[0] if decisions else None
    document = actions.current_document(patient.clinic_id)
    consents = list(Consent.objects.filter(patient=patient).select_related("document"))
    return render(request, "screening/screening.html", {
        "patient": patient, "intake": actions.intake_for(patient), "decisions": decisions,
        "latest": latest, "stale": latest is not None and actions.is_stale(latest),
        "missing": [intake_field_label(f) for f in (latest.result.get("missing", []) if latest else [])],
        "evaluate_form": EvaluateForm(initial={"drug": latest.drug if latest else "ketamine",
                                               "route": latest.route if latest else ""}),
        "signoff_form": SignOffForm(), "document": document, "consents": consents,
        "has_consent": actions.has_current_consent(patient),
        "needs_guardian": actions.needs_guardian(patient),
        "sign_form": ConsentSignForm(), "withdraw_form": ConsentWithdrawForm(),
    })


@require(Action.SCREENING_EVALUATE)
@require_POST
def evaluate(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.SCREENING_EVALUATE,
                                   audit_read=False)
    form = EvaluateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the drug (and route, if known) to evaluate for.")
    else:
        try:
            actions.evaluate_intake(patient=patient, drug=form.cleaned_data["drug"],
                                    route=form.cleaned_data["route"], by=request.user)
        except (actions.StaleError, ValueError) as exc:
            messages.error(request, str(exc))
    return redirect("screening", patient_id=patient.pk)


@require(Action.SCREENING_SIGNOFF)
@require_POST
@one_time_form
def sign_off(request: HttpRequest, patient_id: int, decision_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.SCREENING_SIGNOFF,
                                   audit_read=False)
    decision = get_for_user(request, EligibilityDecision.objects.filter(patient=patient),
                            decision_id, Action.SCREENING_SIGNOFF, audit_read=False)
    form = SignOffForm(request.POST)
    if hasattr(decision, "signoff"):
        messages.error(request, "This decision is already signed off.")
    elif not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
    else:
        choice = form.cleaned_data["decision"]
        try:
            actions.sign_off(decision=decision, accept=choice == "accept",
                             final_status=choice if choice != "accept" else "",
                             reason=form.cleaned_data["reason"], by=request.user)
            messages.success(request, "Signed off. The patient's status is updated.")
        except (actions.StaleError, ValueError) as exc:
            messages.error(request, str(exc))
    return redirect("screening", patient_id=patient.pk)


@require(Action.CONSENT_RECORD)
@require_POST
@one_time_form
def consent_sign_in_clinic(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.CONSENT_RECORD, audit_read=False)
    return _sign(request, patient, method=Consent.Method.IN_CLINIC,
                 back_url=reverse("screening", args=[patient.pk]))


@require(Action.CONSENT_RECORD)
@require_POST
def consent_withdraw(request: HttpRequest, patient_id: int, consent_id: int) -> HttpResponse:
    patient = get_patient_for_user(request, patient_id, Action.CONSENT_RECORD, audit_read=False)
    consent = get_for_user(request, Consent.objects.filter(patient=patient), consent_id,
                           Action.CONSENT_RECORD, audit_read=False)
    form = ConsentWithdrawForm(request.POST)
    form.is_valid()
    if actions.withdraw_consent(consent=consent, by=request.user,
                                reason=form.cleaned_data.get("reason", "")):
        messages.success(request, "Consent withdrawn. No further sessions until consent is "
                                  "given again.")
    else:
        messages.error(request, "This consent had already been withdrawn.")
    return redirect("screening", patient_id=patient.pk)


def _sign(request: HttpRequest, patient, *, method: str, back_url: str) -> HttpResponse:
    form = ConsentSignForm(request.POST)
    document_id = request.POST.get("document", "")
    document = for_clinic(ConsentDocument, patient.clinic_id).filter(
        pk=int(document_id) if re.fullmatch(r"[0-9]{1,9}", document_id) else 0).first()
    if document is None:
        messages.error(request, "That consent text was not found: reload the page and sign again.")
    elif not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label}: {' '.join(errors)}")
    else:
        try:
            actions.sign_consent(patient=patient, document=document, method=method,
                                 signed_name=form.cleaned_data["signed_name"],
                                 guardian_name=form.cleaned_data["guardian_name"],
                                 by=request.user)
            messages.success(request, "Consent signed.")
        except (actions.StaleError, ValueError) as exc:
            messages.error(request, str(exc))
    return redirect(back_url)


@require(Action.CONSENT_TEXT_EDIT)
@require_http_methods(["GET", "POST"])
def consent_documents(request: HttpRequest) -> HttpResponse:
    clinic = request.membership.clinic
    current = actions.current_document(clinic.pk)
    form = ConsentDocumentForm(request.POST or None, initial={
        "title": current.title if current else "Consent to ketamine-assisted psychotherapy",
        "text": current.text if current else ""})
    if request.method == "POST" and form.is_valid():
        document = actions.publish_consent_document(clinic=clinic, by=request.user,
                                                    **form.cleaned_data)
        messages.success(request, f"Version {document.version} is now the consent in force.")
        return redirect("consent-documents")
    return render(request, "screening/consent_documents.html", {
        "form": form, "documents": for_clinic(ConsentDocument, clinic.pk)},
        status=422 if form.errors else 200)


# ---- the patient's portal -----------------------------------------------------------------

@require(Action.PORTAL)
@require_POST
@one_time_form
def portal_consent_sign(request: HttpRequest) -> HttpResponse:
    patient = get_own_patient(request)
    trail.record("read", object_type="consent_document", object_id=request.POST.get("document", ""),
                 patient_id=patient.pk)
    return _sign(request, patient, method=Consent.Method.PORTAL, back_url=reverse("portal"))


# ---- the patient fills the intake through a single-use link ---------------------------------

@require(Action.INTAKE_EDIT)
@require_POST
def intake_link_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Issue a link and show it once (it is not stored, so it cannot be shown again)."""
    patient = get_patient_for_user(request, patient_id, Action.INTAKE_EDIT, audit_read=False)
    link, token = links.issue_link(patient=patient, purpose=PatientLink.Purpose.INTAKE,
                                   by=request.user)
    url = request.build_absolute_uri(reverse("intake-by-link", args=[token]))
    return render(request, "screening/link_issued.html", {"patient": patient, "link": link,
                                                           "url": url})


INTAKE_LINK = PatientLink.Purpose.INTAKE


def _link_closed(request: HttpRequest, *, lost: bool = False) -> HttpResponse:
    """Only that the link is closed: no name, no answers, no clinic (``lost``: this browser
    holds no link, e.g. after 30 idle minutes; the link in the message may still work)."""
    return render(request, "screening/link_closed.html", {"lost": lost}, status=404)


@public
@link_session.no_referrer
@require_http_methods(["GET", "POST"])
def intake_by_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link as sent (link_session.arrive: the token moves into the session)."""
    return link_session.arrive(request, token, INTAKE_LINK,
                               answer=lambda link: _intake_by_link(request, link),
                               closed=lambda: _link_closed(request), page="intake-link-page")


@public
@require_http_methods(["GET", "POST"])
def intake_link_page(request: HttpRequest) -> HttpResponse:
    link = link_session.current(request, INTAKE_LINK)
    if link is None:
        return _link_closed(request, lost=True)
    return _intake_by_link(request, link)


def _intake_by_link(request: HttpRequest, link: PatientLink) -> HttpResponse:
    patient = link.patient
    if not link.is_open:
        if request.method == "POST":  # a double submit: the browser shows its last answer
            return render(request, "screening/link_done.html", {"patient": patient})
        link_session.forget(request, INTAKE_LINK)
        return _link_closed(request)

    def done() -> HttpResponse | None:
        if links.close_link(link):
            return render(request, "screening/link_done.html", {"patient": patient})
        return None

    return _intake_page(request, patient, source="link", done=done, by_link=True,
                        autosave_url=reverse("intake-link-autosave"), diagnoses=[])


@public
@require_POST
def intake_link_autosave(request: HttpRequest) -> HttpResponse:
    """Autosave from the link page: the link this browser's session holds, never a token."""
    link = link_session.current(request, INTAKE_LINK)
    if link is None or not link.is_open:
        return render(request, "screening/_autosave.html",
                      {"error": "Not saved: this link is closed. Ask the clinic for a new one."}, status=410)
    return _autosave(request, link.patient, source="link")
