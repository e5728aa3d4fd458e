"""The notes sweep: psychotherapy notes and care-team notes never leak through any page, API
route or export of their own clinic.

In the cross-clinic sweep's world (tests/test_cross_clinic_sweep.py), clinic A's sweep patient
has a signed integration note (with an addendum), an open draft and a psychotherapy note, all
the therapist's; the patient authorised the prescriber in writing to read the psychotherapy
note. Every role of clinic A, a nurse outside the patient's care team and the patient in the
portal then GET every page and API route (walked from the URL resolver, filled with clinic A's
own ids) with their login and, for staff, their API token. Nothing is listed by hand, so a new
page or export is swept without editing this file:

- the psychotherapy note's words appear only on the psychotherapy-note pages, and there only
  for the author and the person the patient authorised;
- the draft's words appear only to its author, on the draft's own page;
- the signed note's and addendum's words never reach anyone outside the care team.
"""

from __future__ import annotations

import pytest
from django.test import Client

from kapclinic.accounts.models import Membership
from kapclinic.accounts.roles import Role
from kapclinic.accounts.tokens import issue_token
from tests.conftest import make_user
from tests.test_cross_clinic_sweep import (  # noqa: F401 (fixtures used by name)
    NOT_IDS,
    RANDOM_TOKENS,
    ROLES,
    built_world,
    fill,
    ids_of,
    is_catch_all,
    routes,
    world,
)

pytestmark = pytest.mark.django_db

MRN = "D1-SWEEP"  # clinic A's sweep patient (its notes say "sweep <kind> D1-SWEEP")
PSYCHOTHERAPY = f"sweep psychotherapy {MRN}"
DRAFT = f"sweep progress {MRN}"
CARE_TEAM = (f"sweep integration {MRN}", "sweep addendum")
PSYCHOTHERAPY_ROUTES = ("psychotherapy-notes/<int:psychotherapy_note_id>/",)
DRAFT_ROUTES = ("notes/drafts/<int:note_draft_id>/",)


def _get_everything(client: Client, ids: dict, secret: str | None) -> dict[str, str]:
    """Every page and API route's body as this caller gets it: route -> text."""
    seen = {}
    for route, _ in routes():
        if is_catch_all(route) or "token" in route or route in ("logout/",):
            continue
        url = fill(route, {**NOT_IDS, **ids})
        if route.startswith("api/") and secret:
            response = Client().get(url, HTTP_AUTHORIZATION=f"Bearer {secret}")
        else:
            response = client.get(url)
        if response.status_code < 300 and not getattr(response, "streaming", False):
            seen[route] = RANDOM_TOKENS.sub("", response.content.decode(errors="replace"))
        elif getattr(response, "streaming", False):
            seen[route] = b"".join(response.streaming_content).decode(errors="replace")
    return seen


def _callers(swept) -> dict[str, tuple[Client, str | None, Role]]:
    a = swept["harbor"]
    clinic = a["clinic"]
    callers = {}
    for role in ROLES:
        user = (a["staff"][role] if role in a["staff"]
                else Membership.objects.filter(clinic=clinic, role=role).first().user)
        client = Client()
        client.force_login(user)
        callers[role.value] = (client, a["secrets"].get(role), role)
    outsider = make_user("night-nurse", clinic, Role.NURSE)
    client = Client()
    client.force_login(outsider)
    callers["nurse outside the care team"] = (client, issue_token(user=outsider, name="n",
                                                                  scope="read")[1], Role.NURSE)
    return callers


@pytest.mark.slow
def test_psychotherapy_notes_drafts_and_care_team_notes_do_not_leak_through_any_route(world):  # noqa: F811
    a = world["harbor"]
    ids = ids_of(a["clinic"], a["patient"])
    failures = []
    shown_to_author = shown_to_authorised = shown_to_team = False
    for who, (client, secret, role) in _callers(world).items():
        for route, body in _get_everything(client, ids, secret).items():
            if PSYCHOTHERAPY in body:
                if route in PSYCHOTHERAPY_ROUTES and role in (Role.THERAPIST, Role.PRESCRIBER) \
                        and who == role.value:
                    shown_to_author |= role == Role.THERAPIST
                    shown_to_authorised |= role == Role.PRESCRIBER
                else:
                    failures.append(f"{who} sees the psychotherapy note on /{route}")
            if DRAFT in body and not (route in DRAFT_ROUTES and who == Role.THERAPIST.value):
                failures.append(f"{who} sees the therapist's draft on /{route}")
            shown_to_team |= who == Role.PRESCRIBER.value and all(w in body for w in CARE_TEAM)
            if who in ("nurse outside the care team", Role.COORDINATOR.value, Role.ADMIN.value,
                       Role.RESEARCHER.value, Role.PATIENT.value):
                failures += [f"{who} sees the care team's note ({words}) on /{route}"
                             for words in CARE_TEAM if words in body]
    assert not failures, "\n".join(failures)
    # the sweep can see: the same words do reach the people who may read them
    assert shown_to_author and shown_to_authorised and shown_to_team
