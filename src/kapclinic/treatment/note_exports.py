"""Which therapy notes may leave the clinic in an export (FHIR, bulk data, research: issue 16
reads this, and nothing else, for notes).

Psychotherapy notes are never exported: they live in their own table, which no export reads.
A note labelled as a substance use disorder treatment record (42 CFR Part 2) leaves only for a
patient whose consent to that disclosure is recorded; the caller passes those patients."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import Q, QuerySet

from kapclinic.accounts.scoping import for_clinic
from kapclinic.treatment.note_models import Note


def notes_for_export(clinic_id: int, *, part2_consented: Collection[int] = ()) -> QuerySet[Note]:
    """The clinic's signed notes an export may include: every note not labelled Part 2, and a
    Part 2 note only of a patient in ``part2_consented``."""
    allowed = Q(part2=False) | Q(patient_id__in=list(part2_consented))
    return for_clinic(Note, clinic_id).filter(allowed)
