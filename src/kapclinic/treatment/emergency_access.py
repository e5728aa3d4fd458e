"""Emergency access ("break the glass"): a clinician outside a patient's care team opens their
notes after giving a reason from the clinic's list and a word of explanation. It lasts the
clinic's set time (60 minutes by default), every read in it is audited, the care team is told
by email at once, and the admin reviews each one until marked reviewed.

Psychotherapy notes stay closed: they open only to their author and to whom the patient
authorised in writing (45 CFR 164.508), never by emergency access."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.accounts.scoping import Viewer, for_clinic, on_care_team
from kapclinic.alerts.notifications import send_to_staff
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.clinical import notes as rules
from kapclinic.patients.models import Patient
from kapclinic.treatment import care_team
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.note_models import EmergencyAccess, NoteSettings

EXPLANATION_MAX_CHARS = 1000
NOTE_MAX_CHARS = 500


def minutes_for(clinic_id: int) -> int:
    stored = NoteSettings.for_clinic(clinic_id).emergency_minutes
    return stored or int(rules.emergency_access_defaults()["minutes"])


def reasons_for(clinic_id: int) -> list[str]:
    return list(NoteSettings.for_clinic(clinic_id).emergency_reasons
                or rules.emergency_access_defaults()["reasons"])


def running_for(user: User, patient: Patient) -> EmergencyAccess | None:
    return EmergencyAccess.objects.filter(user=user, patient=patient,
                                          expires_at__gt=timezone.now()).first()


@action
def open_access(*, patient: Patient, reason: str, explanation: str, by: User, role: str,
                key: str) -> EmergencyAccess:
    """Open the patient's notes to ``by`` for the clinic's set time. The same ``key`` again (a
    retried form) returns the access first opened; one still running is returned as is."""
    key = (key or "").strip()[:64]
    if not key:
        raise FieldError("key", "is missing: reload the page and try again")
    existing = (EmergencyAccess.objects.filter(user=by, key=key).first()
                or running_for(by, patient))
    if existing is not None:
        return existing
    if on_care_team(Viewer(by.pk, patient.clinic_id, role), patient.pk):
        raise FieldError("reason", "you are on this patient's care team and read their notes "
                                   "already: no emergency access is needed")
    reasons = reasons_for(patient.clinic_id)
    if reason not in reasons:
        raise FieldError("reason", "choose one of the reasons listed")
    explanation = (explanation or "").strip()
    if not explanation:
        raise FieldError("explanation", "is required: say in a sentence why you need the record now")
    if len(explanation) > EXPLANATION_MAX_CHARS:
        raise FieldError("explanation", f"is longer than {EXPLANATION_MAX_CHARS} characters")
    now = timezone.now()
    minutes = minutes_for(patient.clinic_id)
    try:
        with transaction.atomic():
            access = EmergencyAccess.objects.create(
                patient=patient, user=by, reason=reason, explanation=explanation,
                started_at=now, expires_at=now + timedelta(minutes=minutes), key=key)
    except IntegrityError:
        return EmergencyAccess.objects.get(user=by, key=key)
    trail.record("create", object_type="emergency_access", object_id=access.pk,
                 patient_id=patient.pk, detail={"reason": reason, "minutes": minutes})
    _tell_care_team(access, patient, by)
    return access


def _tell_care_team(access: EmergencyAccess, patient: Patient, by: User) -> None:
    """An email to each member of the care team (through the outbox, so it commits with the
    access): who opened the record, until when, and the reason from the clinic's list. Not the
    explanation, which may hold clinical words: it is on the admin's review page."""
    zone = patient.clinic.zone
    until = timezone.localtime(access.expires_at, zone).strftime("%H:%M on %d %b %Y")
    name = by.get_full_name() or by.username
    for member in care_team.members(patient):
        if not member.email:
            continue
        send_to_staff(patient.clinic_id, member.email,
                      subject=f"Emergency access to the notes of patient {patient.mrn}",
                      body=(f"{name} opened the notes of patient {patient.mrn} by emergency access "
                            f"until {until}.\n\nReason: {access.reason}\n\nThe clinic's admin "
                            "reviews every emergency access. If this looks wrong, tell them."))


@action
def review(*, access: EmergencyAccess, note: str, by: User) -> bool:
    """The admin's review of an access (once): what they found, if anything."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX_CHARS:
        raise FieldError("note", f"is longer than {NOTE_MAX_CHARS} characters")
    done = EmergencyAccess.objects.filter(pk=access.pk, reviewed_at__isnull=True).update(
        reviewed_at=timezone.now(), reviewed_by=by, review_note=note)
    if done:
        trail.record("update", object_type="emergency_access", object_id=access.pk,
                     patient_id=access.patient_id, detail={"reviewed": True})
    return bool(done)


def awaiting_review(clinic_id: int) -> int:
    """How many accesses the admin has still to review (the menu's badge)."""
    return for_clinic(EmergencyAccess.objects.filter(reviewed_at__isnull=True), clinic_id).count()
