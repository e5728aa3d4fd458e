"""Who is on a patient's care team because the registry says so: the assigned prescriber and
therapist (other apps add theirs as ``extensions.CareTeamSource``; accounts.scoping unions
them)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from kapclinic.patients.models import Patient


def assigned(user_id: int, clinic_id: int) -> QuerySet[Patient]:
    """The clinic's patients whose assigned prescriber or therapist is the user."""
    return Patient.objects.filter(clinic_id=clinic_id).filter(
        Q(prescriber_id=user_id) | Q(therapist_id=user_id))
