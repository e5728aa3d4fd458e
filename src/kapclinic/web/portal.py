"""The patient's portal home: consent to sign, questionnaires due, their own trajectory.

Each part belongs to its app (screening, measures); this page only puts them together.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kapclinic.accounts.permissions import Action, get_own_patient, require
from kapclinic.measures.models import Response
from kapclinic.measures.views import open_requests, trajectories
from kapclinic.screening import actions as screening
from kapclinic.screening.forms import ConsentSignForm
from kapclinic.screening.models import Consent


@require(Action.PORTAL)
def portal(request: HttpRequest) -> HttpResponse:
    patient = get_own_patient(request)
    return render(request, "web/portal.html", {
        "patient": patient,
        "document": screening.current_document(patient.clinic_id),
        "consents": list(Consent.objects.filter(patient=patient).select_related("document")),
        "has_consent": screening.has_current_consent(patient),
        "needs_guardian": screening.needs_guardian(patient),
        "sign_form": ConsentSignForm(),
        "due": open_requests(patient),
        "charts": trajectories(Response.objects.filter(patient=patient)),
    })
