"""Who reads a psychotherapy note (45 CFR 164.501, 164.508): its author, and a person the patient
authorised in writing, for that author's notes signed in the authorised period, while the
authorization is in force. Nobody else, whatever their role, care team or emergency access:
for them the note does not exist (an audited 404). Every read is audited with its basis."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from kapclinic.accounts.permissions import Action
from kapclinic.accounts.scoping import get_for_user
from kapclinic.audit import trail
from kapclinic.patients.models import Patient
from kapclinic.treatment.note_models import PsychotherapyAuthorization, PsychotherapyNote


def authorizations_in_force(user_id: int, patient: Patient) -> list[PsychotherapyAuthorization]:
    today = timezone.localdate(timezone.now(), patient.clinic.zone)
    return list(PsychotherapyAuthorization.objects.filter(
        patient=patient, granted_to_id=user_id, revoked_at__isnull=True, expires_on__gte=today))


def _day_start(day, zone) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def readable(user_id: int, patient: Patient) -> QuerySet[PsychotherapyNote]:
    """The patient's psychotherapy notes this user may read: their own, and those an
    authorization in force covers (its author, its period in the clinic's days)."""
    zone = patient.clinic.zone
    allowed = Q(author_id=user_id)
    for granted in authorizations_in_force(user_id, patient):
        allowed |= Q(author_id=granted.notes_of_id,
                     signed_at__gte=_day_start(granted.notes_from, zone),
                     signed_at__lt=_day_start(granted.notes_to + timedelta(days=1), zone))
    return PsychotherapyNote.objects.filter(patient=patient).filter(allowed)


def basis(note: PsychotherapyNote, user_id: int) -> str:
    return "author" if note.author_id == user_id else "written authorization"


def get_readable(request: HttpRequest, note_id: int) -> PsychotherapyNote:
    """The note if this user may read it; otherwise an audited 404 (it does not exist for them).
    The read is audited with its basis."""
    user_id = request.user.pk
    probe = PsychotherapyNote.objects.filter(pk=note_id).select_related("patient__clinic").first()
    candidates = (readable(user_id, probe.patient) if probe is not None
                  and probe.patient.clinic_id == request.membership.clinic_id
                  else PsychotherapyNote.objects.none())
    note = get_for_user(request, candidates.select_related("patient", "author", "session"),
                        note_id, Action.NOTE_READ, audit_read=False)
    trail.record("read", object_type="psychotherapy_note", object_id=note.pk,
                 patient_id=note.patient_id, detail={"basis": basis(note, user_id)})
    return note
