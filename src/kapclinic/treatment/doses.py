"""Doses as other apps see them (``platform.extensions.Dose``): given to the hooks when a dose
is recorded, and read in bulk by whoever needs time since a dose (measures)."""

from __future__ import annotations

from collections.abc import Iterable

from kapclinic.platform import extensions as ext
from kapclinic.treatment.models import Administration, Session


def as_dose(session: Session, administration: Administration) -> ext.Dose:
    return ext.Dose(patient_id=session.patient_id, session_id=session.pk,
                    course_id=getattr(session, "course_id", None), protocol=session.protocol,
                    protocol_label=session.protocol_label, drug=administration.drug,
                    route=administration.route, dose_mg=administration.dose_mg,
                    given_at=administration.started_at, administration_id=administration.pk,
                    given_by_id=administration.administered_by_id,
                    product_ndc=administration.product_ndc, lot=administration.lot,
                    concentration_mg_per_ml=administration.concentration_mg_per_ml)


def doses_of(patient_ids: Iterable[int]) -> dict[int, list[ext.Dose]]:
    """Each patient's doses, oldest first, in one query (entered in error left out)."""
    found: dict[int, list[ext.Dose]] = {}
    given = (Administration.objects
             .filter(session__patient_id__in=list(patient_ids), entered_in_error_at__isnull=True)
             .select_related("session").order_by("started_at", "id"))
    for administration in given:
        found.setdefault(administration.session.patient_id, []).append(
            as_dose(administration.session, administration))
    return found
