"""Every role against every URL: the matrix in accounts.permissions is what the app enforces.

A new page or endpoint without a permission, or with a URL argument this test
cannot fill, fails here.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from kapclinic.accounts.permissions import MATRIX, Action
from kapclinic.accounts.roles import Role
from kapclinic.api import api
from kapclinic.interop import views as fhir_views
from kapclinic.measures.actions import (
    record_clinical_event,
    record_response,
    send_request,
    start_default_schedule,
)
from kapclinic.patients.models import Patient
from kapclinic.screening import actions as screening
from tests.conftest import login, make_user, set_directly

PUBLIC_PATHS = {"login/", "logout/", "healthz", "r/intake/<str:token>/", "r/intake/",
                "r/intake/autosave/", "r/measure/<str:token>/", "r/measure/",
                "account/set-password/<uidb64>/<token>/", "account/forgot-password/"}


def page_patterns(resolver: URLResolver | None = None, prefix: str = ""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if str(entry.pattern).startswith("api/"):
                continue  # the API is walked through its operations below
            yield from page_patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            if (prefix + str(entry.pattern)).lstrip("^").startswith("fhir/R4"):
                continue  # the FHIR API checks each type's permission: tests/interop/test_fhir_sweep.py
            yield prefix + str(entry.pattern), entry.callback


def fill(route: str, ids: dict[str, int]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        assert name in ids, f"the matrix test has no sample value for <{name}> in {route}: add one"
        return str(ids[name])

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route).replace("{", "<").replace("}", ">")


def api_operations():
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in operation.methods:
                    yield method, "api/v1" + prefix + path, operation.view_func


@pytest.fixture
def world(clinic_a, prescriber):
    from kapclinic.patients.actions import add_condition
    from tests.conftest import new_patient

    patient = new_patient(clinic_a, prescriber)
    condition = add_condition(patient=patient, code="F33.1", by=prescriber)
    users = {role: make_user(f"matrix-{role.value}", clinic_a, role) for role in Role}
    set_directly(Patient.objects.filter(pk=patient.pk), user=users[Role.PATIENT])
    document = screening.publish_consent_document(clinic=clinic_a, title="Consent", text="Text",
                                                  by=None)
    consent = screening.sign_consent(patient=patient, document=document, signed_name="Ada",
                                     method="in_clinic", by=prescriber)
    screening.save_intake(patient=patient, draft={}, data={"date_of_birth": "1985-12-10"},
                          expected_version=1, by=prescriber)
    decision = screening.evaluate_intake(patient=patient, drug="ketamine", route=None,
                                         by=prescriber)
    recorded = record_response(patient=patient, instrument="phq9", source="clinic", by=prescriber,
                               answers={str(n): 1 for n in range(1, 10)})
    set_directly(Patient.objects.filter(pk=patient.pk), email="ada@example.org")
    patient.refresh_from_db()
    due = send_request(patient=patient, instrument="gad7", due_at=timezone.now(),
                       base_url="http://testserver")
    event = record_clinical_event(patient=patient, kind="suicide_attempt", note="ED visit",
                                  occurred_at=timezone.now(), by=prescriber)
    ids = {"request_id": due.pk, "patient_id": patient.pk, "condition_id": condition.pk,
           "decision_id": decision.pk, "consent_id": consent.pk, "instrument": "phq9",
           "alert_id": recorded.alerts[0].pk, "clinical_event_id": event.pk,
           "response_id": recorded.response.pk,
           "membership_id": prescriber.memberships.get().pk,
           "schedule_id": start_default_schedule(patient=patient, by=prescriber)[0].pk,
           "uidb64": "MQ", "token": "x-y",
           "file_name": "data.dictionary.csv"}  # made by the walk's POST to research/make before it
    from kapclinic.treatment import actions as treatment
    from kapclinic.treatment import course_actions

    # the sample session is the first of a course, so the course pages have one to move
    course = course_actions.plan_course(patient=patient, protocol="iv_racemic_ketamine",
                                        first_dose_at=timezone.now(), by=prescriber)
    session = course.sessions.order_by("scheduled_at").first()
    ids.update(course_id=course.pk, therapy_visit_id=course.therapy_visits.first().pk)
    # the sample alert is a session's: the alerts page and the session page both acknowledge it
    low = treatment.record_vitals(session, observed_at=timezone.now(), values={"spo2_pct": 88},
                                  by=prescriber)
    ids.update(session_id=session.pk, alert_id=low.alerts[0].pk)
    # only an esketamine session has a REMS form (any other is a 404 whoever asks)
    esketamine = treatment.schedule_session(patient=patient, protocol="intranasal_esketamine",
                                            scheduled_at=timezone.now(), by=prescriber)
    ids["rems_session_id"] = esketamine.pk
    # the controlled-substance ledger: a lot received into a location (its first line)
    from kapclinic.inventory import actions as ledger

    product = ledger.add_product(clinic=clinic_a, ndc="42023-113", name="Ketalar", drug="ketamine",
                                 form="vial", concentration_mg_per_ml="10", container_ml="20",
                                 by=prescriber)
    lot = ledger.add_lot(product=product, lot_number="M1", expires_on=timezone.now().date(),
                         supplier_name="S", supplier_address="A", supplier_dea="RE0000001",
                         invoice="I", by=prescriber)
    safe = ledger.add_location(clinic=clinic_a, name="Safe", by=prescriber)
    ledger.receive(lot=lot, location=safe, containers=1, by=prescriber)
    # the sample line is a dose's draw: it may be wasted after, and reversed
    drawn = ledger.draw_for_dose(lot=lot, location=safe, patient=patient, session_id=session.pk,
                                 administration_id=1, dose_mg=35, by=prescriber)
    counted = ledger.record_count(lot=lot, location=safe, kind="shift", counted_mg="150",
                                  by=prescriber)
    from kapclinic.inventory import disposals

    lost = disposals.dispose(lot=lot, location=safe, kind="loss", amount_mg=1, happened_at=None,
                             by=prescriber, description="A vial missing")
    ids.update(lot_id=lot.pk, ledger_line_id=drawn.pk, draw_id=drawn.pk, stock_count_id=counted.pk,
               disposal_id=lost.pk)
    # an adverse event of the sample session (issue 13)
    from kapclinic.treatment import ae_actions

    event = ae_actions.record_event(patient=patient, session=session, term="Nausea",
                                    onset_at=timezone.now(), severity="mild", grade=1,
                                    serious_criteria=[], key="matrix", by=prescriber)
    ids["adverse_event_id"] = event.pk
    # therapy notes (issue 13): the matrix's prescriber and therapist are the patient's care
    # team, and its nurse as the clinician of the sample session; a covering prescriber outside
    # the team opened the notes by emergency access
    from kapclinic.treatment import emergency_access, note_actions
    from kapclinic.treatment.models import Session

    set_directly(Patient.objects.filter(pk=patient.pk), prescriber=users[Role.PRESCRIBER],
                 therapist=users[Role.THERAPIST])
    set_directly(Session.objects.filter(pk=session.pk), clinician=users[Role.NURSE])
    patient.refresh_from_db()
    therapist = users[Role.THERAPIST]
    covering = make_user("matrix-covering", clinic_a, Role.PRESCRIBER)
    access = emergency_access.open_access(patient=patient, reason="Other (explain below)",
                                          explanation="x", by=covering, role=Role.PRESCRIBER,
                                          key="matrix")
    notes = {}
    for kind in ("integration", "psychotherapy", "progress"):
        draft = note_actions.start_draft(patient=patient, kind=kind, by=therapist, key=kind)
        draft = note_actions.save_draft(draft=draft, content={draft.sections[0]["key"]: "text"},
                                        part2=False, expected_version=draft.version, by=therapist)
        notes[kind] = (draft if kind == "progress" else
                       note_actions.sign_draft(draft=draft, expected_version=draft.version, by=therapist))
    today = timezone.localdate(timezone=patient.clinic.zone)  # the clinic's day, as the app counts it
    for reader in (Role.PRESCRIBER, Role.NURSE):  # the patient authorised them in writing
        granted = note_actions.record_authorization(
            patient=patient, granted_to=users[reader], purpose="matrix", notes_from=today,
            notes_to=today, signed_on=today, expires_on=today, by=therapist, key=reader.value)
    ids.update(note_id=notes["integration"].pk, psychotherapy_note_id=notes["psychotherapy"].pk,
               note_draft_id=notes["progress"].pk, psychotherapy_authorization_id=granted.pk,
               emergency_access_id=access.pk)
    # a bedside monitor's message for no known patient (issue 15)
    import random

    from kapclinic.treatment.monitors import intake, simulate

    intake.receive(simulate.message(control_id="matrix", mrn="NOBODY", device="ABC", at=timezone.now(),
                                    patient=simulate.Drift(random.Random(1))), clinic=clinic_a)
    ids["monitor_message_id"] = intake.MonitorMessage.objects.get(control_id="matrix").pk
    return ids, users


# Rows that exist for one person only, whatever the role: a draft is its author's, and only the
# notes' author records or revokes the patient's authorization. Anybody else of an allowed role
# gets a 404 (the row does not exist for them): parameter -> the role of the one who may.
OWNED_BY = {"note_draft_id": Role.THERAPIST, "psychotherapy_authorization_id": Role.THERAPIST}


def test_every_page_declares_its_permission():
    for route, view in page_patterns():
        assert hasattr(view, "required_action"), f"/{route} has no @require(Action...) or @public"
        if view.required_action is None:
            assert route in PUBLIC_PATHS, f"/{route} is public but not listed as such"


def test_every_api_operation_declares_its_permission():
    operations = list(api_operations())
    assert len(operations) >= 5
    for method, route, view in operations:
        assert getattr(view, "required_action", None) in Action, f"{method} {route} has no @require"


# actions that widen a row rule instead of guarding a page: accounts.scoping reads it
ROW_RULES = {Action.NOTE_READ_ANY_PATIENT}


def test_every_action_is_used_by_some_url():
    used = {view.required_action for _, view in page_patterns()}
    used |= {view.required_action for _, _, view in api_operations()}
    used |= fhir_views.CHECKED_ACTIONS  # the FHIR API checks each resource type's own
    assert set(Action) - ROW_RULES <= used, f"actions no URL checks: {set(Action) - used}"


@pytest.mark.parametrize("role", list(Role))
def test_each_role_reaches_exactly_the_pages_the_matrix_grants(world, role):
    ids, users = world
    client = login(users[role])
    checked = 0
    for route, view in page_patterns():
        action = view.required_action
        if action is None:
            continue
        url = fill(route, {**ids, "session_id": ids["rems_session_id"]} if "/rems/" in route else ids)
        allowed = role in MATRIX[action]
        if "acknowledge" in route and "alert_id" in route:
            # the sample alert is a dosing session's: its source also asks for SESSION_RUN
            allowed = allowed and role in MATRIX[Action.SESSION_RUN]
        owner = next((OWNED_BY[name] for name in OWNED_BY if f"<int:{name}>" in route), None)
        if allowed and owner is not None and role != owner:
            for method in ("get", "post"):
                assert getattr(client, method)(url).status_code in (404, 405), (role, url)
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if allowed:
                refused = response.status_code in (403, 404) or (
                    response.status_code == 302 and response["Location"].startswith("/login/"))
                assert not refused, f"{role} was refused {method.upper()} {url} ({response.status_code})"
            elif response.status_code != 405:  # a POST-only view refuses GET before the role
                assert response.status_code == 403, (
                    f"{role} got {response.status_code} for {method.upper()} {url}, not 403")
            checked += 1
    assert checked > 10


@pytest.mark.parametrize("role", list(Role))
def test_each_role_reaches_exactly_the_api_operations_the_matrix_grants(world, role):
    from kapclinic.accounts.tokens import issue_token

    ids, users = world
    _, secret = issue_token(user=users[role], name="matrix", scope="write")
    spare, _ = issue_token(user=users[role], name="revoked by the walk")
    ids = {**ids, "token_id": spare.pk}
    client = login(users[role])
    for method, route, view in api_operations():
        url = fill(route, ids)
        response = client.generic(method, url, data="{}", content_type="application/json",
                                  HTTP_AUTHORIZATION=f"Bearer {secret}")
        if role in MATRIX[view.required_action]:
            assert response.status_code not in (401, 403, 404), (
                f"{role} was refused {method} {url}: {response.content[:200]!r}")
        else:
            assert response.status_code == 403, f"{role} got {response.status_code} on {method} {url}"
            assert response["Content-Type"] == "application/problem+json"


def test_anonymous_visitors_are_sent_to_log_in_from_every_page(world):
    from django.test import Client

    ids, _ = world
    client = Client()
    for route, view in page_patterns():
        if view.required_action is None:
            continue
        response = client.get(fill(route, ids))
        assert response.status_code in (302, 405), route
        if response.status_code == 302:
            assert response["Location"].startswith("/login/"), route
