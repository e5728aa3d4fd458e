"""Every write to the patient registry: one transaction each, with its audit entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from kapclinic.accounts.models import Clinic, User
from kapclinic.audit import trail
from kapclinic.audit.actions import action
from kapclinic.audit.corrections import mark_entered_in_error
from kapclinic.clinical.codes import diagnoses
from kapclinic.patients import status as status_rules
from kapclinic.patients.models import Condition, Patient, StatusChange
from kapclinic.platform import extensions


class ConflictError(Exception):
    """Somebody else saved the record first; nothing was written."""

    def __init__(self, current: Patient):
        super().__init__(
            f"{current.full_name}'s record was changed by someone else while you were editing "
            f"(now version {current.version}). Your changes were not saved: review the current "
            "record and apply them again."
        )
        self.current = current


class StatusRefused(ValueError):
    """The status cannot be set by hand now; the message says why and what is possible."""


@action
def create_patient(*, clinic: Clinic, data: dict[str, Any], by: User | None) -> Patient:
    reason = status_rules.refusal(None, data.get("status", Patient._meta.get_field("status").default))
    if reason:
        raise StatusRefused(reason)
    with transaction.atomic():
        patient = Patient.objects.create(clinic=clinic, created_by=by, **data)
        StatusChange.objects.create(patient=patient, to_status=patient.status, changed_by=by)
        trail.record("create", object_type="patient", object_id=patient.pk,
                     patient_id=patient.pk, clinic_id=clinic.pk,
                     detail={"fields": sorted(data)})
    return patient


@action
def update_patient(*, patient: Patient, changes: dict[str, Any], expected_version: int,
                   by: User | None, status_owner: bool = False) -> Patient:
    """Compare-and-swap on ``version``: a stale edit raises ConflictError and writes nothing.

    A status change by hand must be a move ``patients.status`` allows (StatusRefused
    otherwise); only a status's owner (``change_status``, e.g. the screening sign-off) skips it.
    """
    with transaction.atomic():
        # NO KEY: a row that references the patient (a monitor batch's reading, which holds the
        # audit trail's lock) may still be written meanwhile; two edits still wait for each other
        stored = Patient.objects.select_for_update(no_key=True).get(pk=patient.pk)
        old_status = stored.status
        if "status" in changes and not status_owner:
            reason = status_rules.refusal(stored, changes["status"])
            if reason:
                raise StatusRefused(reason)
        updated = Patient.objects.filter(pk=patient.pk, version=expected_version).update(
            **changes, version=F("version") + 1, updated_at=timezone.now()
        )
        if updated != 1:
            raise ConflictError(Patient.objects.get(pk=patient.pk))
        fresh = Patient.objects.get(pk=patient.pk)
        if fresh.status != old_status:
            StatusChange.objects.create(patient=fresh, from_status=old_status,
                                        to_status=fresh.status, changed_by=by)
            extensions.status_changed(fresh, old_status, fresh.status, by)
        trail.record("update", object_type="patient", object_id=fresh.pk, patient_id=fresh.pk,
                     clinic_id=fresh.clinic_id,
                     detail={"fields": sorted(changes), "version": fresh.version})
    return fresh


@action
def add_condition(*, patient: Patient, code: str, treatment_resistant: bool = False,
                  note: str = "", by: User | None, recorded_at: datetime | None = None) -> Condition:
    """``recorded_at``: when another system recorded it (an import); now by default."""
    diagnosis = diagnoses().get(code)
    if diagnosis is None:
        raise ValueError(f"{code!r} is not an ICD-10-CM code ({diagnoses().code_set})")
    if treatment_resistant and not diagnosis.is_depression:
        raise ValueError("Only a depression code (F32.x/F33.x) can be marked treatment-resistant")
    with transaction.atomic():
        condition = Condition.objects.create(
            patient=patient, code=diagnosis.code, display=diagnosis.display,
            code_system=diagnosis.system, treatment_resistant=treatment_resistant,
            note=note, recorded_by=by, recorded_at=recorded_at or timezone.now(),
        )
        trail.record("create", object_type="condition", object_id=condition.pk,
                     patient_id=patient.pk, clinic_id=patient.clinic_id,
                     detail={"code": diagnosis.code})
        extensions.condition_changed(patient)  # e.g. outcomes are grouped by condition
    return condition


@action
def mark_condition_entered_in_error(*, condition: Condition, reason: str,
                                    by: User) -> Condition:
    with transaction.atomic():
        if mark_entered_in_error(condition, reason=reason, by=by, object_type="condition",
                                 what="condition"):
            extensions.condition_changed(condition.patient)
    condition.refresh_from_db()
    return condition


@dataclass
class NewPatient:
    data: dict[str, Any]
    conditions: list[tuple[str, bool]] = field(default_factory=list)  # (code, treatment_resistant)


@action
def bulk_create_patients(*, clinic: Clinic, records: list[NewPatient], by: User | None,
                         progress=None, batch_size: int = 500) -> int:
    """Create many patients at once (imports, the demo), audited like one-by-one creation."""
    table = diagnoses()
    for start in range(0, len(records), batch_size):
        batch = records[start:start + batch_size]
        with transaction.atomic():
            created = Patient.objects.bulk_create(
                [Patient(clinic=clinic, created_by=by, **record.data) for record in batch]
            )
            StatusChange.objects.bulk_create([
                StatusChange(patient=p, to_status=p.status, changed_by=by) for p in created
            ])
            conditions = []
            for patient, record in zip(created, batch, strict=True):
                for code, resistant in record.conditions:
                    diagnosis = table.get(code)
                    if diagnosis is None:
                        raise ValueError(f"{code!r} is not an ICD-10-CM code ({table.code_set})")
                    conditions.append(Condition(
                        patient=patient, code=diagnosis.code, display=diagnosis.display,
                        code_system=diagnosis.system, treatment_resistant=resistant,
                        recorded_by=by))
            Condition.objects.bulk_create(conditions)
            trail.record_many(
                [trail.Event("create", "patient", p.pk, patient_id=p.pk, clinic_id=clinic.pk)
                 for p in created]
                + [trail.Event("create", "condition", c.pk, patient_id=c.patient_id,
                               clinic_id=clinic.pk, detail={"code": c.code}) for c in conditions]
            )
        if progress is not None:
            progress(len(batch))
    return len(records)


@action
def change_status(*, patient: Patient, status: str, by: User | None) -> Patient:
    """Move a patient to ``status`` from whatever version is stored now (workflow steps)."""
    current = Patient.objects.get(pk=patient.pk)
    if current.status == status:
        return current
    return update_patient(patient=current, changes={"status": status},
                          expected_version=current.version, by=by, status_owner=True)


@action
def grant_portal_login(*, patient: Patient, username: str, password_hash: str | None = None,
                       by: User | None) -> User:
    """Give the patient a login to their portal (role patient in their clinic), linked to
    their record; without ``password_hash`` it has no password until one is set through a
    link. Refused if the patient already has one."""
    from kapclinic.accounts.models import Membership
    from kapclinic.accounts.roles import Role

    if patient.user_id is not None:
        raise ValueError("username: this patient already has a portal login.")
    with transaction.atomic():
        user = User(username=username, first_name=patient.given_name,
                    last_name=patient.family_name, email=patient.email)
        if password_hash:
            user.password = password_hash
        else:
            user.set_unusable_password()
        user.save()
        Membership.objects.create(user=user, clinic_id=patient.clinic_id, role=Role.PATIENT)
        Patient.objects.filter(pk=patient.pk).update(user=user)
        trail.record("update", object_type="patient", object_id=patient.pk,
                     patient_id=patient.pk, clinic_id=patient.clinic_id,
                     detail={"portal_login": user.pk})
    patient.user = user
    return user
