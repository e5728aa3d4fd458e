"""Every write of a therapy note: a draft started and saved as the author types, signed into a
note that never changes (or a psychotherapy note kept apart), an addendum, a supervisor's
co-signature, a patient's written authorization to read psychotherapy notes and its
revocation, the trainees' supervisors, and the clinic's note settings.

Emergency access lives in ``emergency_access``. Who may read what is the scoping layer's
(notes: the care team) and ``psychotherapy`` (the author, and whom the patient authorised)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from kapclinic.accounts.models import Membership, User
from kapclinic.accounts.permissions import Action, role_can
from kapclinic.accounts.scoping import for_clinic
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.clinical import notes as rules
from kapclinic.patients.models import Patient
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import Session
from kapclinic.treatment.note_models import (
    Note,
    NoteAddendum,
    NoteCosignature,
    NoteDraft,
    NoteKind,
    NoteSettings,
    PsychotherapyAuthorization,
    PsychotherapyNote,
    Supervision,
)

ADDENDUM_MAX_CHARS = rules.SECTION_MAX_CHARS
REASON_MAX_CHARS = 500
# engineering bounds on an authorization's dates (a typo such as 9999 is refused)
EARLIEST_NOTES = date(2000, 1, 1)
LONGEST_AUTHORIZATION_DAYS = 5 * 366


class NoteConflict(Exception):
    """The draft changed meanwhile (another window or tablet), or was signed: nothing written."""


def templates_for(clinic_id: int) -> dict[str, rules.Template]:
    """The clinic's templates over the labelled defaults (a stored one that no longer reads is
    passed over for the default rather than blocking every note)."""
    chosen = rules.default_templates()
    for kind, data in NoteSettings.for_clinic(clinic_id).templates.items():
        try:
            chosen[kind] = rules.template_from(kind, data)
        except (rules.TemplateError, AttributeError, TypeError):
            continue
    return chosen


def _text(field: str, value: Any, *, required: bool = False, limit: int) -> str:
    value = ("" if value is None else str(value)).strip()
    if required and not value:
        raise FieldError(field, "is required")
    if len(value) > limit:
        raise FieldError(field, f"is {len(value):,} characters long; at most {limit:,}: shorten it")
    return value


def _key(value: str) -> str:
    return _text("key", value, required=True, limit=64)


# --- drafts ------------------------------------------------------------------------------

@action
def start_draft(*, patient: Patient, kind: str, by: User, key: str,
                session: Session | None = None) -> NoteDraft:
    """A new draft of ``kind`` for the patient (a session's, if given), from the clinic's
    template. The same ``key`` again (a retried request) returns the draft first started."""
    key = _key(key)
    existing = NoteDraft.objects.filter(author=by, key=key).first()
    if existing is not None:
        return existing
    if kind not in NoteKind.values:
        raise FieldError("kind", f"choose one of: {', '.join(NoteKind.labels)}")
    if session is not None and session.patient_id != patient.pk:
        raise FieldError("session", "is not this patient's session")
    if kind == NoteKind.PSYCHOTHERAPY:
        title = rules.psychotherapy()["title"]
        sections = [{"key": "text", "label": "Notes", "hint": rules.psychotherapy()["hint"],
                     "type": "text"}]
    else:
        template = templates_for(patient.clinic_id)[kind]
        title = template.title
        sections = [s.to_dict() for s in (*template.sections, rules.free_text_section())]
    try:
        with transaction.atomic():
            draft = NoteDraft.objects.create(patient=patient, session=session, kind=kind,
                                             title=title, sections=sections, author=by, key=key)
    except IntegrityError:  # the same form sent twice at once: the first stands
        return NoteDraft.objects.get(author=by, key=key)
    trail.record("create", object_type="note_draft", object_id=draft.pk, patient_id=patient.pk,
                 detail={"kind": kind, "session": getattr(session, "pk", None)})
    return draft


def _own_open(draft: NoteDraft, by: User) -> None:
    if draft.author_id != by.pk:
        raise PermissionDenied("A draft is its author's alone.")
    if draft.signed_at is not None:
        raise NoteConflict("This draft is already signed: it is a note now, corrected by addendum.")


def clean_content(draft: NoteDraft, content: dict[str, Any]) -> dict[str, Any]:
    """The posted sections of the draft's template only (anything else is dropped), each within
    its size, all together within the note's size; a tick box as true or false."""
    kept: dict[str, Any] = {}
    for section in draft.sections:
        key = section["key"]
        if key not in content:
            continue
        if section.get("type") == "check":
            kept[key] = content[key] in (True, "on", "true", "1", "yes")
        else:
            kept[key] = _text(section["label"], content[key], limit=rules.SECTION_MAX_CHARS)
    total = sum(len(v) for v in kept.values() if isinstance(v, str))
    if total > rules.NOTE_MAX_CHARS:
        raise FieldError("content", f"the note is {total:,} characters long; at most "
                                    f"{rules.NOTE_MAX_CHARS:,}: shorten it")
    return kept


@action
def save_draft(*, draft: NoteDraft, content: dict[str, Any], part2: bool, expected_version: int,
               by: User) -> NoteDraft:
    """Store what the author typed. Compare-and-set on ``version``: a save from an older page
    (a second window, a tablet that slept) raises NoteConflict and writes nothing."""
    _own_open(draft, by)
    kept = clean_content(draft, content)
    with transaction.atomic():
        done = NoteDraft.objects.filter(pk=draft.pk, version=expected_version,
                                        signed_at__isnull=True).update(
            content=kept, part2=bool(part2), updated_at=timezone.now(), version=F("version") + 1)
        if done != 1:
            raise NoteConflict("The draft was saved from another window or device meanwhile.")
        draft.refresh_from_db()
        trail.record("update", object_type="note_draft", object_id=draft.pk,
                     patient_id=draft.patient_id, detail={"version": draft.version})
    return draft


def supervisor_of(clinic_id: int, user: User) -> User | None:
    """The supervisor who co-signs the user's notes while they are a trainee here."""
    found = for_clinic(Supervision.objects.filter(trainee=user, ended_at__isnull=True)
                       .select_related("supervisor"), clinic_id).first()
    return found.supervisor if found else None


@action
def sign_draft(*, draft: NoteDraft, expected_version: int, by: User) -> Note | PsychotherapyNote:
    """Sign the draft as it was last saved: a note of the record, or a psychotherapy note kept
    apart, sealed with the SHA-256 of its content. The draft closes (it is never deleted);
    signing again (a retry, a second window) raises NoteConflict."""
    _own_open(draft, by)
    written = [s for s in draft.sections if s.get("type") != "check"
               and str(draft.content.get(s["key"], "")).strip()]
    if not written:
        raise FieldError("content", "the note is empty: write at least one section before signing")
    now = timezone.now()
    with transaction.atomic():
        if NoteDraft.objects.filter(pk=draft.pk, version=expected_version,
                                    signed_at__isnull=True).update(signed_at=now) != 1:
            raise NoteConflict("The draft changed or was signed meanwhile: reload it and sign "
                               "what you see.")
        draft.refresh_from_db()  # sign what is stored at the version the author saw
        if draft.is_psychotherapy:
            note: Note | PsychotherapyNote = PsychotherapyNote(
                patient_id=draft.patient_id, session_id=draft.session_id, author=by,
                text=str(draft.content.get("text", "")).strip(), signed_at=now, draft=draft)
            kind = "psychotherapy_note"
        else:
            sections = [{**s, "text": draft.content.get(s["key"], False if s.get("type") == "check"
                                                        else "")} for s in draft.sections]
            note = Note(patient_id=draft.patient_id, session_id=draft.session_id,
                        kind=draft.kind, title=draft.title, sections=sections,
                        part2=draft.part2, author=by, signed_at=now, draft=draft,
                        cosigner=supervisor_of(draft.patient.clinic_id, by))
            kind = "note"
        note.content_sha256 = rules.content_hash(note.signed_content())
        note.save()
        trail.record("create", object_type=kind, object_id=note.pk, patient_id=draft.patient_id,
                     detail={"kind": draft.kind, "sha256": note.content_sha256,
                             "part2": draft.part2 if kind == "note" else None})
    return note


def hash_holds(record: Note | NoteAddendum | PsychotherapyNote) -> bool:
    """Whether the stored content still gives the hash it was signed with."""
    return rules.content_hash(record.signed_content()) == record.content_sha256


# --- after signing ---------------------------------------------------------------------------

@action
def add_addendum(*, note: Note, text: str, by: User, key: str) -> NoteAddendum:
    """A correction or addition to a signed note, signed by its writer; the note is unchanged.
    The same ``key`` again returns the addendum first written."""
    key = _key(key)
    existing = NoteAddendum.objects.filter(author=by, key=key).first()
    if existing is not None:
        return existing
    text = _text("text", text, required=True, limit=ADDENDUM_MAX_CHARS)
    addendum = NoteAddendum(note=note, text=text, author=by, signed_at=timezone.now(), key=key)
    addendum.content_sha256 = rules.content_hash(addendum.signed_content())
    try:
        with transaction.atomic():
            addendum.save()
    except IntegrityError:
        return NoteAddendum.objects.get(author=by, key=key)
    trail.record("create", object_type="note_addendum", object_id=addendum.pk,
                 patient_id=note.patient_id, detail={"note": note.pk,
                                                     "sha256": addendum.content_sha256})
    return addendum


@action
def cosign(*, note: Note, by: User, comment: str = "") -> NoteCosignature:
    """The supervisor's co-signature of a trainee's note: only the supervisor the note names,
    once."""
    if note.cosigner_id is None:
        raise NoteConflict("This note needs no co-signature.")
    if note.cosigner_id != by.pk:
        raise PermissionDenied("Only the supervisor named on the note co-signs it.")
    comment = _text("comment", comment, limit=REASON_MAX_CHARS)
    try:
        with transaction.atomic():
            signature = NoteCosignature.objects.create(note=note, cosigned_by=by, comment=comment)
    except IntegrityError as exc:
        raise NoteConflict("This note is already co-signed.") from exc
    trail.record("create", object_type="note_cosignature", object_id=signature.pk,
                 patient_id=note.patient_id, detail={"note": note.pk})
    return signature


# --- psychotherapy notes: the patient's written authorization -------------------------------

def _works_here(user: User, clinic_id: int, action_needed: Action) -> bool:
    return any(role_can(m.role, action_needed) for m in
               for_clinic(Membership.objects.filter(user=user), clinic_id))


@action
def record_authorization(*, patient: Patient, granted_to: User, purpose: str, notes_from: date,
                         notes_to: date, expires_on: date, signed_on: date, by: User,
                         key: str) -> PsychotherapyAuthorization:
    """The patient's written authorization (45 CFR 164.508) for ``granted_to`` to read the
    recording author's psychotherapy notes signed from ``notes_from`` to ``notes_to``, until
    ``expires_on``. Only the author of the notes records it: they hold the notes and the
    signed form, and nobody can grant themselves another's."""
    key = _key(key)
    existing = PsychotherapyAuthorization.objects.filter(recorded_by=by, key=key).first()
    if existing is not None:
        return existing
    if granted_to.pk == by.pk:
        raise FieldError("granted_to", "you already read your own notes: choose someone else")
    if not _works_here(granted_to, patient.clinic_id, Action.NOTE_READ):
        raise FieldError("granted_to", "choose a clinician who works at this clinic")
    purpose = _text("purpose", purpose, required=True, limit=300)
    today = timezone.localdate(timezone.now(), patient.clinic.zone)
    if notes_from < EARLIEST_NOTES:
        raise FieldError("notes_from", f"is before {EARLIEST_NOTES.year}: check the year")
    if notes_from > notes_to:
        raise FieldError("notes_to", "is before the first day of the notes covered")
    if (expires_on - signed_on).days > LONGEST_AUTHORIZATION_DAYS:
        raise FieldError("expires_on", "is more than five years after the patient signed: check "
                                       "the year as written on the form")
    if signed_on > today:
        raise FieldError("signed_on", "is in the future: the patient signs before it is recorded")
    if expires_on < today:
        raise FieldError("expires_on", "has passed: an authorization must still be in force")
    if expires_on < signed_on:
        raise FieldError("expires_on", "is before the patient signed it")
    if notes_to > expires_on:
        raise FieldError("notes_to", "is after the authorization expires: notes written after it "
                                     "cannot be read under it")
    try:
        with transaction.atomic():
            granted = PsychotherapyAuthorization.objects.create(
                patient=patient, notes_of=by, granted_to=granted_to, purpose=purpose,
                notes_from=notes_from, notes_to=notes_to, expires_on=expires_on,
                signed_on=signed_on, key=key, recorded_by=by)
    except IntegrityError:
        return PsychotherapyAuthorization.objects.get(recorded_by=by, key=key)
    trail.record("create", object_type="psychotherapy_authorization", object_id=granted.pk,
                 patient_id=patient.pk, detail={"granted_to": granted_to.pk,
                                                "expires_on": expires_on.isoformat()})
    return granted


@action
def revoke_authorization(*, authorization: PsychotherapyAuthorization, reason: str,
                         by: User) -> bool:
    """The patient revoked it (in writing), as recorded by the notes' author; once."""
    if authorization.notes_of_id != by.pk:
        raise PermissionDenied("Only the author of the notes records a revocation.")
    reason = _text("reason", reason, required=True, limit=REASON_MAX_CHARS)
    done = PsychotherapyAuthorization.objects.filter(
        pk=authorization.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by, revoked_reason=reason)
    if done:
        trail.record("update", object_type="psychotherapy_authorization",
                     object_id=authorization.pk, patient_id=authorization.patient_id,
                     detail={"revoked": True})
    return bool(done)


# --- clinic settings: trainees and templates -------------------------------------------------

def _roles_here(user: User, clinic_id: int) -> set[str]:
    return set(for_clinic(Membership.objects.filter(user=user), clinic_id)
               .values_list("role", flat=True))


@action
def start_supervision(*, clinic_id: int, trainee: User, supervisor: User, by: User) -> Supervision:
    """A trainee's notes wait for this supervisor's co-signature. The supervisor practises the
    trainee's discipline (a therapist supervises a therapist), or is a prescriber (who also
    supervises nurses and prescribers in training)."""
    if trainee.pk == supervisor.pk:
        raise FieldError("supervisor", "a trainee cannot supervise themselves")
    if not _works_here(trainee, clinic_id, Action.NOTE_WRITE):
        raise FieldError("trainee", "choose a clinician of this clinic who writes notes")
    if not _works_here(supervisor, clinic_id, Action.NOTE_COSIGN):
        raise FieldError("supervisor", "choose a prescriber or therapist of this clinic")
    supervising = _roles_here(supervisor, clinic_id)
    if "prescriber" not in supervising and not supervising & _roles_here(trainee, clinic_id):
        raise FieldError("supervisor", "choose a supervisor of the trainee's discipline, or a "
                                       "prescriber")
    try:
        with transaction.atomic():
            supervision = Supervision.objects.create(clinic_id=clinic_id, trainee=trainee,
                                                     supervisor=supervisor, started_by=by)
    except IntegrityError as exc:
        raise FieldError("trainee", "already has a supervisor: end that supervision first") from exc
    trail.record("create", object_type="supervision", object_id=supervision.pk,
                 clinic_id=clinic_id, detail={"trainee": trainee.pk, "supervisor": supervisor.pk})
    return supervision


@action
def end_supervision(*, supervision: Supervision, by: User) -> bool:
    done = Supervision.objects.filter(pk=supervision.pk, ended_at__isnull=True).update(
        ended_at=timezone.now(), ended_by=by)
    if done:
        trail.record("update", object_type="supervision", object_id=supervision.pk,
                     clinic_id=supervision.clinic_id, detail={"ended": True})
    return bool(done)


@action
def save_templates(*, clinic_id: int, templates: dict[str, dict[str, Any]], expected_version: int,
                   by: User) -> NoteSettings:
    """The clinic's templates (each checked: a wrong one names what to change); notes already
    started or signed keep the template they began with."""
    checked = {}
    for kind, data in templates.items():
        try:
            checked[kind] = rules.template_from(kind, data).to_dict()
        except rules.TemplateError as exc:
            raise FieldError(kind, str(exc)) from exc
    return _save_settings(clinic_id, expected_version, by, templates=checked)


@action
def save_emergency_rules(*, clinic_id: int, minutes: int, reasons: list[str],
                         expected_version: int, by: User) -> NoteSettings:
    low, high = rules.emergency_access_defaults()["minutes_bounds"]
    if not isinstance(minutes, int) or not low <= minutes <= high:
        raise FieldError("minutes", f"choose from {low} to {high} minutes")
    reasons = [_text("reasons", r, limit=120) for r in reasons]
    reasons = [r for r in dict.fromkeys(reasons) if r]
    if not 1 <= len(reasons) <= 20:
        raise FieldError("reasons", "give 1 to 20 reasons, one per line")
    return _save_settings(clinic_id, expected_version, by, emergency_minutes=minutes,
                          emergency_reasons=reasons)


def _save_settings(clinic_id: int, expected_version: int, by: User, **changes: Any) -> NoteSettings:
    with transaction.atomic():
        stored, _ = NoteSettings.objects.get_or_create(clinic_id=clinic_id)
        if NoteSettings.objects.filter(pk=stored.pk, version=expected_version).update(
                version=F("version") + 1, **changes) != 1:
            raise NoteConflict("The note settings were saved by someone else meanwhile.")
        trail.record("update", object_type="note_settings", object_id=stored.pk,
                     clinic_id=clinic_id, detail={"changed": sorted(changes)})
        stored.refresh_from_db()
    return stored
