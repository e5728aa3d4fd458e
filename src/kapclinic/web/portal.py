"""The patient's portal home: each app's part (consent to sign, questionnaires due, their own
trajectory...), registered as portal sections; this page only puts them together."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kapclinic.accounts.permissions import Action, require
from kapclinic.patients.access import get_own_patient
from kapclinic.patients.timeline import LoadedSection
from kapclinic.platform import extensions


@require(Action.PORTAL)
def portal(request: HttpRequest) -> HttpResponse:
    patient = get_own_patient(request)
    sections = [LoadedSection(section, section.load(patient))
                for section in extensions.portal_sections()]
    return render(request, "web/portal.html", {"patient": patient, "sections": sections})
