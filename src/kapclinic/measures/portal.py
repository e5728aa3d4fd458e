"""The measures app's parts of the patient's portal: questionnaires due, and their trajectory."""

from __future__ import annotations

from typing import Any

from kapclinic.measures.models import Response
from kapclinic.measures.views import open_requests, trajectories
from kapclinic.patients.models import Patient


def load_due(patient: Patient) -> dict[str, Any]:
    return {"due": list(open_requests(patient))}


def load_trajectories(patient: Patient) -> dict[str, Any]:
    return {"charts": trajectories(Response.objects.filter(patient=patient))}
