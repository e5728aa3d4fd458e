"""Reading the registry: search and filters, always within one clinic."""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet

from kapclinic.accounts.scoping import for_clinic
from kapclinic.patients.models import Patient

# A name, an MRN or a date of birth fits; each word of a search is one more condition
# in the query, so a search of thousands of words would be thousands [policy].
MAX_QUERY_CHARS = 100


class SearchTooLong(ValueError):
    """The search text is longer than MAX_QUERY_CHARS."""


def search_patients(clinic_id: int, q: str = "", status: str = "",
                    member_id: int | None = None) -> QuerySet[Patient]:
    patients = for_clinic(Patient, clinic_id).select_related("prescriber", "therapist")
    q = q.strip()
    if len(q) > MAX_QUERY_CHARS:
        raise SearchTooLong(f"a search has at most {MAX_QUERY_CHARS} characters (this one has "
                            f"{len(q):,}): search by name, MRN or date of birth")
    if q:
        try:
            born = date.fromisoformat(q)
        except ValueError:
            born = None
        if born is not None:
            patients = patients.filter(date_of_birth=born)
        else:
            for word in q.split():
                patients = patients.filter(
                    Q(given_name__icontains=word) | Q(family_name__icontains=word)
                    | Q(mrn__iexact=word)
                )
    if status:
        patients = patients.filter(status=status)
    if member_id:
        patients = patients.filter(Q(prescriber_id=member_id) | Q(therapist_id=member_id))
    return patients
