"""Template context every page needs: the active clinic, the role, what it may do, and the
main menu each app contributes to."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from kapclinic.accounts.permissions import Action, role_can
from kapclinic.platform import extensions


@dataclass(frozen=True)
class MenuLink:
    label: str
    url: str
    current: bool
    count: int


def navigation(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    role = membership.role if membership else None
    from kapclinic.accounts import mfa

    pending = membership is not None and mfa.pending_step(request) is not None
    # while the second factor is owed, the menu offers nothing it would refuse
    can = {action.name.lower(): role_can(role, action) and not pending for action in Action}
    memberships = []
    if membership is not None:
        memberships = list(request.user.memberships.select_related("clinic").order_by("clinic__name"))
    return {"membership": membership, "can": can, "memberships": memberships,
            "menu": _menu(request, membership, pending),
            "page_clinic": page_clinic(request, membership)}


def page_clinic(request: HttpRequest, membership):
    """The clinic whose page this is, whose zone the page's times are shown in: the one a
    view named (``request.page_clinic``: a patient link's, an ended access's), else the
    member's; None where no clinic is known (the footer then names no zone)."""
    named = getattr(request, "page_clinic", None)
    if named is not None:
        return named
    return membership.clinic if membership is not None else None


def _menu(request: HttpRequest, membership, pending: bool) -> list[MenuLink]:
    """The role's links; the clinic's settings pages behind one "Settings" link at the end."""
    if membership is None or pending:
        return []
    match = getattr(request, "resolver_match", None)
    here = match.url_name if match else None
    links = [MenuLink(item.label, reverse(item.url_name), item.url_name == here,
                      item.badge(membership) if item.badge else 0)
             for item in extensions.nav_items() if role_can(membership.role, item.action) and not item.about]
    settings = settings_items(membership.role)
    if settings:
        current = here == "settings" or any(item.url_name == here for item in settings)
        links.append(MenuLink("Settings", reverse("settings"), current, 0))
    return links


def settings_items(role) -> list[extensions.NavItem]:
    """The clinic's settings pages the role may open (those with ``about`` words)."""
    return [item for item in extensions.nav_items() if item.about and role_can(role, item.action)]
