"""Therapy-note pages: start a note, write its draft (saved as one types), sign it, read a signed
note with its addenda and co-signature, psychotherapy notes and their authorizations, emergency
access and its review, and the clinic's note settings. Every write goes through
``note_actions`` or ``emergency_access``; reads go through the scoping layer (notes: the care
team) or ``psychotherapy`` (the author and whom the patient authorised)."""

from __future__ import annotations

import hashlib
import re
import secrets

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kapclinic.accounts.models import User
from kapclinic.accounts.permissions import Action, check, require, role_can
from kapclinic.accounts.scoping import (
    OutsideCareTeam,
    Viewer,
    care_team_reasons,
    for_clinic,
    get_for_user,
)
from kapclinic.audit import trail
from kapclinic.clinical import notes as rules
from kapclinic.patients.models import Patient
from kapclinic.platform.idempotency import FORM_FIELD, one_time_form
from kapclinic.treatment import emergency_access, note_actions, psychotherapy
from kapclinic.treatment import note_forms as forms
from kapclinic.treatment.care_team import writes_for
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import Session
from kapclinic.treatment.note_models import (
    EmergencyAccess,
    Note,
    NoteDraft,
    NoteKind,
    NoteSettings,
    PsychotherapyAuthorization,
    PsychotherapyNote,
    Supervision,
)


def _key(request: HttpRequest) -> str:
    """The form's one-time token as the write's key: a replayed form writes nothing more."""
    token = request.POST.get(FORM_FIELD, "")
    return hashlib.sha256(token.encode()).hexdigest() if token else secrets.token_hex(16)


def _restricted(request: HttpRequest, patient_id: int | None) -> HttpResponse:
    """The 403 page for a clinician outside the care team: the record exists, and may be opened
    by emergency access (audited, reviewed, the care team told)."""
    patient = Patient.objects.filter(pk=patient_id).first()
    may = role_can(request.membership.role, Action.EMERGENCY_ACCESS)
    return render(request, "treatment/note_restricted.html", {
        "patient": patient, "may_break_glass": may,
        "minutes": emergency_access.minutes_for(request.membership.clinic_id)}, status=403)


def _care_team_patient(request: HttpRequest, patient_id: int, action: Action) -> Patient:
    """The patient, for a note write: in the clinic, and the writer on the care team (not only
    by emergency access)."""
    patient = get_for_user(request, Patient, patient_id, action, audit_read=False)
    if not writes_for(Viewer.of(request), patient.pk):
        trail.record("denied", object_type="note", object_id="", patient_id=patient.pk,
                     detail={"reason": "not on the patient's care team", "path": request.path})
        raise OutsideCareTeam("note", patient.pk)
    return patient


def _with_care_team(view):
    """Render the restricted page for an OutsideCareTeam raised by the view."""
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except OutsideCareTeam as exc:
            return _restricted(request, exc.patient_id)
    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    wrapped.__wrapped__ = view  # type: ignore[attr-defined]
    return wrapped


# --- starting and writing ---------------------------------------------------------------------

@require(Action.NOTE_WRITE)
@require_POST
@one_time_form
@_with_care_team
def note_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    """A note of the record (preparation, dosing session, integration, progress) started."""
    kind = request.POST.get("kind", "")
    if kind == NoteKind.PSYCHOTHERAPY:
        kind = ""  # started on its own page (psychotherapy_note_new): refused below
    return _start(request, patient_id, kind, Action.NOTE_WRITE)


@require(Action.PSYCHOTHERAPY_NOTE_WRITE)
@require_POST
@one_time_form
@_with_care_team
def psychotherapy_note_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    """A psychotherapy note started: kept apart, its author's alone."""
    return _start(request, patient_id, NoteKind.PSYCHOTHERAPY, Action.PSYCHOTHERAPY_NOTE_WRITE)


def _start(request: HttpRequest, patient_id: int, kind: str, action: Action) -> HttpResponse:
    patient = _care_team_patient(request, patient_id, action)
    session = None
    if session_id := request.POST.get("session", "").strip():
        session = get_for_user(request, Session.objects.filter(patient=patient), session_id,
                               action, audit_read=False)
    try:
        draft = note_actions.start_draft(patient=patient, kind=kind, session=session,
                                         by=request.user, key=_key(request))
    except FieldError as exc:
        messages.error(request, f"No note was started: {exc.message}.")
        return redirect("patient-chart", patient_id=patient.pk)
    return redirect("note-draft", note_draft_id=draft.pk)


def _own_draft(request: HttpRequest, note_draft_id: int, *, read: bool) -> NoteDraft:
    """The user's own draft; anybody else's does not exist for them (an audited 404)."""
    draft = get_for_user(request, NoteDraft.objects.filter(author=request.user)
                         .select_related("patient", "session"), note_draft_id, Action.NOTE_WRITE,
                         audit_read=read)
    if draft.is_psychotherapy:
        check(request, Action.PSYCHOTHERAPY_NOTE_WRITE)
    return draft


def _posted_content(request: HttpRequest, draft: NoteDraft) -> dict:
    content = {}
    for section in draft.sections:
        name = f"s_{section['key']}"
        if section.get("type") == "check":
            content[section["key"]] = request.POST.get(name) == "on"
        elif name in request.POST:
            content[section["key"]] = request.POST[name]
    return content


def _version(request: HttpRequest) -> int:
    version = request.POST.get("version", "")
    if not re.fullmatch(r"[0-9]{1,9}", version):
        raise note_actions.NoteConflict("This page has no version of the draft: reload it.")
    return int(version)


def _draft_page(request, draft: NoteDraft, *, content=None, problem: str = "", status: int = 200):
    content = draft.content if content is None else content
    sections = [{**s, "value": content.get(s["key"], False if s.get("type") == "check" else "")}
                for s in draft.sections]
    return render(request, "treatment/note_draft.html", {
        "draft": draft, "patient": draft.patient, "sections": sections,
        "part2": draft.part2 if content is draft.content else request.POST.get("part2") == "on",
        "part2_words": rules.part2(), "problem": problem,
        "psychotherapy": rules.psychotherapy() if draft.is_psychotherapy else None,
        "cosigner": note_actions.supervisor_of(draft.patient.clinic_id, request.user),
    }, status=status)


@require(Action.NOTE_WRITE)
@require_http_methods(["GET", "POST"])
def note_draft(request: HttpRequest, note_draft_id: int) -> HttpResponse:
    """The draft, saved as the author types (htmx, below) and by the buttons: save, or sign."""
    draft = _own_draft(request, note_draft_id, read=request.method == "GET")
    if draft.signed_at is not None:
        return redirect(_signed_url(draft))
    if request.method == "GET":
        return _draft_page(request, draft)
    content = _posted_content(request, draft)
    part2 = request.POST.get("part2") == "on"
    try:
        draft = _save_or_caught_up(request, draft, content, part2)
        if request.POST.get("sign") != "1":
            messages.success(request, "Draft saved.")
            return redirect("note-draft", note_draft_id=draft.pk)
        note = note_actions.sign_draft(draft=draft, expected_version=draft.version, by=request.user)
    except note_actions.NoteConflict as exc:
        return _draft_page(request, draft, content=content, status=409,
                           problem=f"Not saved. {exc} What you typed is still below: copy it, "
                                   "reload the page, and add it again.")
    except FieldError as exc:
        return _draft_page(request, draft, content=content, status=422,
                           problem=f"Not signed: {exc.message}. The draft is saved.")
    messages.success(request, "Signed. The note is locked; corrections are added as addenda.")
    return redirect(_signed_url(draft, note))


def _save_or_caught_up(request: HttpRequest, draft: NoteDraft, content: dict, part2: bool) -> NoteDraft:
    """Save what the page sent. A page one autosave behind (the button pressed while the last
    autosave was on its way) is not a conflict when what it sends is what is stored."""
    try:
        return note_actions.save_draft(draft=draft, content=content, part2=part2,
                                       expected_version=_version(request), by=request.user)
    except note_actions.NoteConflict:
        draft.refresh_from_db()
        if (draft.signed_at is None and draft.part2 == part2
                and note_actions.clean_content(draft, content) == draft.content):
            return draft
        raise


def _signed_url(draft: NoteDraft, note=None) -> str:
    model = PsychotherapyNote if draft.is_psychotherapy else Note
    note = note or model.objects.get(draft=draft)
    if draft.is_psychotherapy:
        return reverse("psychotherapy-note", args=[note.pk])
    return reverse("note", args=[note.pk])


@require(Action.NOTE_WRITE)
@require_POST
def note_autosave(request: HttpRequest, note_draft_id: int) -> HttpResponse:
    """Saves the draft as the author types (htmx): nothing is lost if the tablet sleeps."""
    draft = _own_draft(request, note_draft_id, read=False)
    try:
        draft = note_actions.save_draft(draft=draft, content=_posted_content(request, draft),
                                        part2=request.POST.get("part2") == "on",
                                        expected_version=_version(request), by=request.user)
    except note_actions.NoteConflict as exc:
        return render(request, "treatment/_note_autosave.html", {
            "error": f"{exc} Not saved: reload the page to see the stored draft."}, status=409)
    except FieldError as exc:
        return render(request, "treatment/_note_autosave.html",
                      {"error": f"Not saved: {exc.message}."}, status=413)
    return render(request, "treatment/_note_autosave.html", {"draft": draft})


# --- reading a signed note ---------------------------------------------------------------------

def _note(request: HttpRequest, note_id: int, action: Action) -> Note:
    return get_for_user(request, Note.objects.select_related("patient", "author", "session",
                                                             "cosigner"),
                        note_id, action, audit_read=False)


def _basis(request: HttpRequest, patient_id: int) -> str:
    viewer = Viewer.of(request)
    reasons = care_team_reasons(viewer, patient_id)
    return ", ".join(reasons) if reasons else "role reads every patient's notes"


@require(Action.NOTE_READ)
@require_GET
@_with_care_team
def note_detail(request: HttpRequest, note_id: int) -> HttpResponse:
    note = _note(request, note_id, Action.NOTE_READ)
    trail.record("read", object_type="note", object_id=note.pk, patient_id=note.patient_id,
                 detail={"basis": _basis(request, note.patient_id)})
    return _note_page(request, note)


def _note_page(request, note: Note, *, addendum_form=None, cosign_form=None, status=200):
    role = request.membership.role
    cosignature = getattr(note, "cosignature", None) if hasattr(note, "cosignature") else None
    may_cosign = (note.cosigner_id == request.user.pk and cosignature is None
                  and role_can(role, Action.NOTE_COSIGN))
    return render(request, "treatment/note_detail.html", {
        "note": note, "patient": note.patient,
        "addenda": list(note.addenda.select_related("author")),
        "hash_holds": note_actions.hash_holds(note),
        "cosignature": cosignature,
        "addendum_form": addendum_form or (forms.AddendumForm() if role_can(role, Action.NOTE_WRITE)
                                           else None),
        "cosign_form": cosign_form or (forms.CosignForm() if may_cosign else None),
        "part2_words": rules.part2(),
    }, status=status)


@require(Action.NOTE_WRITE)
@require_POST
@one_time_form
@_with_care_team
def note_addendum(request: HttpRequest, note_id: int) -> HttpResponse:
    note = _note(request, note_id, Action.NOTE_WRITE)
    form = forms.AddendumForm(request.POST)
    if form.is_valid():
        try:
            note_actions.add_addendum(note=note, text=form.cleaned_data["text"], by=request.user,
                                      key=_key(request))
        except FieldError as exc:
            form.add_error("text", exc.message)
        else:
            messages.success(request, "Addendum signed. The note above it is unchanged.")
            return redirect("note", note_id=note.pk)
    return _note_page(request, note, addendum_form=form, status=422)


@require(Action.NOTE_COSIGN)
@require_POST
@one_time_form
@_with_care_team
def note_cosign(request: HttpRequest, note_id: int) -> HttpResponse:
    note = _note(request, note_id, Action.NOTE_COSIGN)
    form = forms.CosignForm(request.POST)
    if form.is_valid():
        try:
            note_actions.cosign(note=note, by=request.user, comment=form.cleaned_data["comment"])
        except note_actions.NoteConflict as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Co-signed.")
        return redirect("note", note_id=note.pk)
    return _note_page(request, note, cosign_form=form, status=422)


@require(Action.NOTE_WRITE)
@require_GET
def my_notes(request: HttpRequest) -> HttpResponse:
    """The user's open drafts and the notes waiting for their co-signature."""
    clinic_id = request.membership.clinic_id
    drafts = for_clinic(NoteDraft.objects.filter(author=request.user, signed_at__isnull=True)
                        .select_related("patient"), clinic_id).order_by("-updated_at")[:100]
    to_cosign = for_clinic(Note.objects.filter(cosigner=request.user, cosignature__isnull=True)
                           .select_related("patient", "author"), clinic_id).order_by("signed_at")[:100]
    return render(request, "treatment/notes_mine.html", {"drafts": drafts, "to_cosign": to_cosign})


def open_work(membership) -> int:
    """The menu badge: open drafts and notes to co-sign."""
    user_id, clinic_id = membership.user_id, membership.clinic_id
    return (for_clinic(NoteDraft.objects.filter(author_id=user_id, signed_at__isnull=True), clinic_id)
            .count()
            + for_clinic(Note.objects.filter(cosigner_id=user_id, cosignature__isnull=True),
                         clinic_id).count())


# --- psychotherapy notes ------------------------------------------------------------------------

@require(Action.NOTE_READ)
@require_GET
def psychotherapy_note(request: HttpRequest, psychotherapy_note_id: int) -> HttpResponse:
    note = psychotherapy.get_readable(request, psychotherapy_note_id)
    return render(request, "treatment/psychotherapy_note.html", {
        "note": note, "patient": note.patient, "is_author": note.author_id == request.user.pk,
        "hash_holds": note_actions.hash_holds(note), "rule": rules.psychotherapy()})


@require(Action.NOTE_READ)
@require_GET
def psychotherapy_notes(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient's psychotherapy notes this user may read, and (for an author) the patient's
    written authorizations of their notes."""
    patient = get_for_user(request, Patient, patient_id, Action.NOTE_READ, audit_read=False)
    return _psychotherapy_page(request, patient)


def _psychotherapy_page(request, patient: Patient, *, form=None, status: int = 200):
    notes = list(psychotherapy.readable(request.user.pk, patient).select_related("author"))
    trail.record_many([trail.Event("list", "psychotherapy_note", n.pk, patient_id=patient.pk,
                                   detail={"basis": psychotherapy.basis(n, request.user.pk)})
                       for n in notes])
    may_authorize = role_can(request.membership.role, Action.PSYCHOTHERAPY_AUTHORIZATION)
    granted = list(PsychotherapyAuthorization.objects.filter(patient=patient, notes_of=request.user)
                   .select_related("granted_to", "revoked_by"))
    return render(request, "treatment/psychotherapy_notes.html", {
        "patient": patient, "notes": notes, "granted": granted,
        "today": timezone.localdate(timezone.now(), patient.clinic.zone),
        "form": form or (forms.AuthorizationForm(clinic_id=patient.clinic_id, author=request.user)
                         if may_authorize else None),
        "revoke_form": forms.RevokeForm(), "rule": rules.psychotherapy(),
        "may_write": role_can(request.membership.role, Action.PSYCHOTHERAPY_NOTE_WRITE)
        and writes_for(Viewer.of(request), patient.pk),
    }, status=status)


@require(Action.PSYCHOTHERAPY_AUTHORIZATION)
@require_POST
@one_time_form
def authorization_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_for_user(request, Patient, patient_id, Action.PSYCHOTHERAPY_AUTHORIZATION,
                           audit_read=False)
    form = forms.AuthorizationForm(request.POST, clinic_id=patient.clinic_id, author=request.user)
    if form.is_valid():
        data = dict(form.cleaned_data)
        granted_to = User.objects.get(pk=data.pop("granted_to"))  # a choice of the clinic's staff
        try:
            note_actions.record_authorization(patient=patient, granted_to=granted_to, by=request.user,
                                              key=_key(request), **data)
        except FieldError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "The authorization is recorded: "
                                      f"{granted_to.display_name} may read the notes it covers.")
            return redirect("psychotherapy-notes", patient_id=patient.pk)
    return _psychotherapy_page(request, patient, form=form, status=422)


@require(Action.PSYCHOTHERAPY_AUTHORIZATION)
@require_POST
def authorization_revoke(request: HttpRequest, psychotherapy_authorization_id: int) -> HttpResponse:
    granted = get_for_user(request, PsychotherapyAuthorization.objects.filter(notes_of=request.user),
                           psychotherapy_authorization_id, Action.PSYCHOTHERAPY_AUTHORIZATION,
                           audit_read=False)
    form = forms.RevokeForm(request.POST)
    if form.is_valid():
        try:
            if note_actions.revoke_authorization(authorization=granted, by=request.user,
                                                 reason=form.cleaned_data["reason"]):
                messages.success(request, "The authorization is revoked from now.")
        except (FieldError, PermissionDenied) as exc:
            messages.error(request, f"Nothing was changed: {exc}.")
    else:
        messages.error(request, "Nothing was changed: say how the patient revoked it.")
    return redirect("psychotherapy-notes", patient_id=granted.patient_id)


# --- emergency access -------------------------------------------------------------------------

@require(Action.EMERGENCY_ACCESS)
@require_http_methods(["GET", "POST"])
@one_time_form
def emergency_access_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_for_user(request, Patient, patient_id, Action.EMERGENCY_ACCESS,
                           audit_read=request.method == "GET")
    clinic_id = patient.clinic_id
    form = forms.EmergencyAccessForm(request.POST or None, clinic_id=clinic_id)
    if request.method == "POST" and form.is_valid():
        try:
            access = emergency_access.open_access(
                patient=patient, by=request.user, role=request.membership.role, key=_key(request),
                **form.cleaned_data)
        except FieldError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            until = timezone.localtime(access.expires_at, patient.clinic.zone).strftime("%H:%M")
            messages.warning(request, f"Emergency access open until {until}. Every read is audited, "
                                      "the care team has been told and the admin will review it.")
            return redirect(reverse("patient-chart", args=[patient.pk]) + "#notes-h")
    return render(request, "treatment/emergency_access_new.html", {
        "patient": patient, "form": form, "minutes": emergency_access.minutes_for(clinic_id),
        "running": emergency_access.running_for(request.user, patient)},
        status=422 if form.errors else 200)


@require(Action.EMERGENCY_ACCESS_REVIEW)
@require_GET
def emergency_access_list(request: HttpRequest) -> HttpResponse:
    clinic_id = request.membership.clinic_id
    rows = for_clinic(EmergencyAccess.objects.select_related("patient", "user", "reviewed_by"),
                      clinic_id)
    waiting = list(rows.filter(reviewed_at__isnull=True).order_by("started_at")[:200])
    reviewed = list(rows.filter(reviewed_at__isnull=False).order_by("-reviewed_at")[:50])
    trail.record_many([trail.Event("list", "emergency_access", a.pk, patient_id=a.patient_id)
                       for a in waiting + reviewed])
    return render(request, "treatment/emergency_access_list.html", {
        "waiting": waiting, "reviewed": reviewed, "form": forms.ReviewForm(),
        "now": timezone.now()})


@require(Action.EMERGENCY_ACCESS_REVIEW)
@require_POST
def emergency_access_review(request: HttpRequest, emergency_access_id: int) -> HttpResponse:
    access = get_for_user(request, EmergencyAccess, emergency_access_id,
                          Action.EMERGENCY_ACCESS_REVIEW, audit_read=False)
    form = forms.ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not reviewed: the note is at most 500 characters.")
    elif emergency_access.review(access=access, note=form.cleaned_data["note"], by=request.user):
        messages.success(request, "Marked reviewed.")
    return redirect("emergency-access-list")


def accesses_to_review(membership) -> int:
    return emergency_access.awaiting_review(membership.clinic_id)


# --- settings ------------------------------------------------------------------------------------

@require(Action.NOTE_SETTINGS)
@require_http_methods(["GET", "POST"])
def note_settings(request: HttpRequest) -> HttpResponse:
    clinic_id = request.membership.clinic_id
    stored = NoteSettings.for_clinic(clinic_id)
    templates = note_actions.templates_for(clinic_id)
    what = request.POST.get("what", "")
    template_forms = {kind: forms.TemplateForm(
        request.POST if what == f"template:{kind}" else None, prefix=kind,
        initial=forms.TemplateForm.initial_for(template)) for kind, template in templates.items()}
    rules_form = forms.EmergencyRulesForm(
        request.POST if what == "emergency" else None,
        initial={"minutes": emergency_access.minutes_for(clinic_id),
                 "reasons": "\n".join(emergency_access.reasons_for(clinic_id))})
    supervision_form = forms.SupervisionForm(request.POST if what == "supervision" else None,
                                             clinic_id=clinic_id)
    problem = ""
    if request.method == "POST":
        try:
            done = _save_settings(request, what, stored, template_forms, rules_form,
                                  supervision_form)
        except (FieldError, note_actions.NoteConflict) as exc:
            problem = getattr(exc, "message", str(exc))
        else:
            if done:
                messages.success(request, done)
                return redirect("note-settings")
    supervisions = for_clinic(Supervision.objects.filter(ended_at__isnull=True)
                              .select_related("trainee", "supervisor"), clinic_id)
    return render(request, "treatment/note_settings.html", {
        "stored": stored, "template_forms": [(kind, NoteKind(kind).label, form)
                                             for kind, form in template_forms.items()],
        "rules_form": rules_form, "supervision_form": supervision_form,
        "supervisions": supervisions, "problem": problem,
        "default_minutes": rules.emergency_access_defaults()["minutes"],
    }, status=422 if problem or request.method == "POST" else 200)


def _save_settings(request, what, stored, template_forms, rules_form, supervision_form) -> str:
    """The one part of the settings page that was posted; the message to show, or "" (the
    form is shown again with its errors)."""
    clinic_id, by = request.membership.clinic_id, request.user
    if what.startswith("template:"):
        form = template_forms.get(what.removeprefix("template:"))
        if form is None or not form.is_valid():
            return ""
        note_actions.save_templates(clinic_id=clinic_id, by=by, expected_version=stored.version,
                                    templates={**stored.templates, form.prefix: form.as_template()})
        return f"The {NoteKind(form.prefix).label.lower()} template is saved; notes already " \
               "started keep the one they began with."
    if what == "emergency" and rules_form.is_valid():
        note_actions.save_emergency_rules(clinic_id=clinic_id, by=by, expected_version=stored.version,
                                          **rules_form.cleaned_data)
        return "The emergency access rules are saved."
    if what == "supervision" and supervision_form.is_valid():
        trainee = User.objects.get(pk=supervision_form.cleaned_data["trainee"])
        supervisor = User.objects.get(pk=supervision_form.cleaned_data["supervisor"])
        note_actions.start_supervision(clinic_id=clinic_id, trainee=trainee, supervisor=supervisor,
                                       by=by)
        return f"{trainee.display_name}'s notes now wait for {supervisor.display_name}'s co-signature."
    if what.startswith("end:"):
        supervision = get_for_user(request, Supervision, what.removeprefix("end:"),
                                   Action.NOTE_SETTINGS, audit_read=False)
        note_actions.end_supervision(supervision=supervision, by=by)
        return "The supervision is ended; later notes need no co-signature."
    return ""
