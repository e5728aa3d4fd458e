"""What the chart shows of measures."""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import Max, Q

from kapclinic.measures.models import Response
from kapclinic.patients.models import Patient


def latest_responses(patient: Patient) -> list[Response]:
    """The newest valid response per instrument: two queries however long the history."""
    valid = Response.objects.filter(patient=patient, entered_in_error_at__isnull=True)
    newest = valid.values("instrument").annotate(at=Max("taken_at")).order_by()
    pairs = [Q(instrument=row["instrument"], taken_at=row["at"]) for row in newest]
    if not pairs:
        return []
    latest: dict[str, Response] = {}
    for response in valid.filter(reduce(or_, pairs)).order_by("-id"):
        latest.setdefault(response.instrument, response)
    return sorted(latest.values(), key=lambda r: r.instrument)
