"""Finding a patient for a request: the chart's one lookup and the portal's own record.

They live with the registry (not in accounts) because they fetch the patient; accounts keeps
the permission matrix and the scoping layer they use.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest

from kapclinic.accounts import scoping
from kapclinic.accounts.permissions import Action, check
from kapclinic.audit import trail
from kapclinic.patients.models import Patient


def get_patient_for_user(request: HttpRequest, patient_id: int, action: Action,
                         *, audit_read: bool = True) -> Patient:
    """The patient, if it belongs to the request's active clinic and the role allows ``action``.

    Any other patient, of another clinic or not at all, does not exist for this user:
    Http404, and the attempt is written to the audit trail (also to the trail of the clinic
    holding the patient, naming them there only). The one lookup, scoping.get_for_user, for
    the model every chart starts from.
    """
    return scoping.get_for_user(request, Patient, patient_id, action, audit_read=audit_read)


def get_own_patient(request: HttpRequest) -> Patient:
    """The record of the logged-in patient, in their active clinic (portal pages only)."""
    check(request, Action.PORTAL)
    membership = request.membership  # type: ignore[attr-defined]
    patient = scoping.for_clinic(Patient.objects.filter(user=request.user),
                                 membership.clinic_id).first()
    if patient is None:
        raise Http404("No patient record is linked to this login")
    trail.record("read", object_type="patient", object_id=patient.pk, patient_id=patient.pk)
    return patient
