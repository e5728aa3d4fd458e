"""Who is on a patient's care team because of treatment: the clinician who supervises one of
their sessions or ran one of its steps after the booking (the nurses of their sessions), the
supervisor who co-signs a trainee's note about them, and a clinician whose emergency access to
the patient is still running. Registered as care-team sources.

Booking a session does not count: whoever may book (the coordinator, any nurse) would otherwise
join any patient's care team by booking for them."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from kapclinic.patients.models import Patient
from kapclinic.treatment.models import EmergencyAccess, Session, SessionEvent

EMERGENCY = "Emergency access"  # the care-team reason that opens notes to read, never to write


def session_staff(user_id: int, clinic_id: int) -> QuerySet[Patient]:
    """The clinic's patients one of whose sessions the user supervises or took a step of (the
    booking itself, the step from no state, is not one)."""
    stepped = SessionEvent.objects.filter(recorded_by_id=user_id).exclude(from_state="").values(
        "session_id")
    sessions = Session.objects.filter(Q(clinician_id=user_id) | Q(pk__in=stepped))
    return Patient.objects.filter(clinic_id=clinic_id, pk__in=sessions.values("patient_id"))


def supervision(user_id: int, clinic_id: int) -> QuerySet[Patient]:
    """The clinic's patients a note of whose names the user as the supervisor who co-signs it."""
    from kapclinic.treatment.note_models import Note

    return Patient.objects.filter(clinic_id=clinic_id,
                                  pk__in=Note.objects.filter(cosigner_id=user_id).values("patient_id"))


def emergency(user_id: int, clinic_id: int) -> QuerySet[Patient]:
    """The clinic's patients the user opened by emergency access that has not yet run out."""
    running = EmergencyAccess.objects.filter(user_id=user_id, expires_at__gt=timezone.now())
    return Patient.objects.filter(clinic_id=clinic_id, pk__in=running.values("patient_id"))


def writes_for(viewer, patient_id: int) -> bool:
    """Whether the viewer writes this patient's notes: on the care team for a reason other than an
    emergency access (which opens the notes to read, never to write)."""
    from kapclinic.accounts.scoping import care_team_reasons

    return viewer.reads_every_patient or any(
        reason != EMERGENCY for reason in care_team_reasons(viewer, patient_id))


def members(patient: Patient) -> list:
    """The people on the patient's care team who read notes (not by emergency access), still
    working at the clinic: the assigned prescriber and therapist and the staff of their sessions."""
    from kapclinic.accounts.models import Membership, User
    from kapclinic.accounts.permissions import MATRIX, Action
    from kapclinic.accounts.scoping import for_clinic

    sessions = Session.objects.filter(patient=patient)
    ids = {patient.prescriber_id, patient.therapist_id}
    ids |= set(sessions.values_list("clinician_id", flat=True))
    ids |= set(SessionEvent.objects.filter(session__in=sessions).exclude(from_state="")
               .values_list("recorded_by_id", flat=True))
    working = for_clinic(Membership.objects.filter(user_id__in=ids - {None},
                                                   role__in=list(MATRIX[Action.NOTE_READ])),
                         patient.clinic_id)
    return list(User.objects.filter(pk__in=working.values("user_id"), is_active=True).order_by("pk"))
