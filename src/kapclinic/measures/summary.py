"""What the chart shows of measures."""

from __future__ import annotations

from kapclinic.measures.models import Response
from kapclinic.patients.models import Patient


def latest_responses(patient: Patient) -> list[Response]:
    """The newest valid response per instrument."""
    latest: dict[str, Response] = {}
    for response in Response.objects.filter(patient=patient, entered_in_error_at__isnull=True):
        latest.setdefault(response.instrument, response)  # ordered newest first
    return sorted(latest.values(), key=lambda r: r.instrument)
