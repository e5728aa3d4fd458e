"""Attach the active clinic membership to each request and activate its time zone."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from kapclinic.accounts.models import Membership
from kapclinic.audit import context

SESSION_KEY = "active_clinic_id"


def membership_for(user, clinic_id: int | None) -> Membership | None:
    memberships = Membership.objects.select_related("clinic").filter(user=user).order_by("id")
    if clinic_id is not None:
        chosen = memberships.filter(clinic_id=clinic_id).first()
        if chosen is not None:
            return chosen
    return memberships.first()


def activate_membership(request: HttpRequest, membership: Membership | None) -> None:
    request.membership = membership  # type: ignore[attr-defined]
    context.set_actor(request.user, membership)
    if membership is not None:
        timezone.activate(membership.clinic.zone)


class ActiveClinicMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        membership = None
        if request.user.is_authenticated:
            membership = membership_for(request.user, request.session.get(SESSION_KEY))
        activate_membership(request, membership)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
