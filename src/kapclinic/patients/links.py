"""Single-use patient links: issue one, open it, close it. Every step is audited."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import User, hash_token
from kapclinic.audit import context, trail
from kapclinic.patients.models import Patient, PatientLink

# A link stays open for 7 days unless said otherwise [policy: labelled default].
DEFAULT_DAYS = 7


def issue_link(*, patient: Patient, purpose: str, by: User | None,
               days: int = DEFAULT_DAYS) -> tuple[PatientLink, str]:
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        link = PatientLink.objects.create(
            patient=patient, purpose=purpose, token_hash=hash_token(token), created_by=by,
            expires_at=timezone.now() + timedelta(days=days))
        trail.record("create", object_type="patient_link", object_id=link.pk,
                     patient_id=patient.pk, clinic_id=patient.clinic_id,
                     detail={"purpose": purpose, "days": days})
    return link, token


def find_link(token: str, purpose: str) -> PatientLink | None:
    """The link for this token and purpose, open or not (None if unknown)."""
    return (PatientLink.objects.select_related("patient", "patient__clinic")
            .filter(token_hash=hash_token(token), purpose=purpose).first())


def enter_link(token: str, purpose: str) -> PatientLink | None:
    """The link a page without a login was opened with (open or not), with the request set
    up as that link: the audit trail names it as the actor and times show in its clinic's
    zone. None if the token is unknown."""
    link = find_link(token, purpose)
    if link is not None:
        context.set_link_actor(link.pk, link.patient.clinic_id)
        timezone.activate(link.patient.clinic.zone)
    return link


def open_link(token: str, purpose: str) -> PatientLink | None:
    """The open link for this token and purpose, or None (unknown, used or expired)."""
    link = find_link(token, purpose)
    return link if link is not None and link.is_open else None


def close_link(link: PatientLink) -> bool:
    """Mark the link used; False if it was already used (a double submit)."""
    with transaction.atomic():
        closed = PatientLink.objects.filter(pk=link.pk, used_at__isnull=True).update(
            used_at=timezone.now())
        if closed:
            trail.record("update", object_type="patient_link", object_id=link.pk,
                         patient_id=link.patient_id, clinic_id=link.patient.clinic_id,
                         detail={"used": True})
    return bool(closed)
