"""The cross-clinic sweep: every page and API route, asked by every role of clinic A with
clinic B's ids, must refuse (403, 404, 405; the portal may also be sent to log in), show none
of clinic B's data, and leave every clinic-B row as it was.

Nothing here lists routes, ids or tables by hand, so a new app is swept without editing this
file: routes come from walking the URL resolver; each ``<kind_id>`` URL parameter is filled
with a clinic-B row of the model it names (``decision_id``: the model whose audit name is or
ends in ``decision``, here EligibilityDecision); which rows are clinic B's, for the snapshot,
comes from each model's ``clinic_path`` (kapclinic.accounts.scoping). A parameter naming no
model, or a model with no row in the world, fails the sweep naming it.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.db import transaction
from django.db.models import F
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from kapclinic import demo
from kapclinic.accounts import scoping
from kapclinic.accounts import staff as staff_actions
from kapclinic.accounts.models import Clinic, Invitation, Membership, User
from kapclinic.accounts.roles import Role
from kapclinic.accounts.tokens import issue_token
from kapclinic.measures import actions as measures
from kapclinic.measures.demo_data import answers_for_total
from kapclinic.measures.models import ClinicalEvent
from kapclinic.patients import actions as patients
from kapclinic.patients.models import Patient, Status
from kapclinic.screening.actions import intake_for
from kapclinic.screening.demo_data import walk
from kapclinic.screening.models import ConsentDocument
from kapclinic.treatment import actions as treatment
from kapclinic.treatment import course_actions
from tests.conftest import PASSWORD, make_user, new_patient, set_directly
from tests.test_clinic_scoping import clinic_paths

pytestmark = pytest.mark.django_db

# label -> lookup from a row to its clinic, as each model declares it (accounts.scoping)
CLINIC_PATH = clinic_paths()

ROLES = [*demo.STAFF_ROLES, Role.PATIENT]
# URL parameters that are not a row id: what the sweep puts there
NOT_IDS = {
    "instrument": "phq9",
    "token": "not-a-real-link-token",  # capability links: test_link_security.py
    "file_name": "data.csv",  # the research files: the caller's own clinic's folder only
}
PAGE_METHODS = ("get", "post")
API_METHODS = ("get", "post", "put", "patch", "delete")
REFUSED = {403, 404, 405}
# clinic B's name, its MRNs, its sweep patient's name and its staff's usernames
B_MARKERS = ("Cedar KAP Center", "D2-", "sweep-b-", "prescriber2", "nurse2", "therapist2",
             "coordinator2", "admin2", "researcher2", "leaver2")


# --- the world --------------------------------------------------------------------------

def _full_patient(clinic: Clinic, staff: dict, document, mrn: str, given: str) -> Patient:
    """A patient with every kind of record: conditions (one entered in error), intake,
    decision and sign-off, consent, responses with an alert, a schedule, a sent
    questionnaire (link, request, outbox), a clinical event and a portal login."""
    prescriber = staff[Role.PRESCRIBER]
    patient = new_patient(clinic, prescriber, mrn=mrn, given_name=given, family_name="Sweep",
                          email=f"{given}@example.org", phone="555-0100",
                          prescriber=prescriber, therapist=staff[Role.THERAPIST])
    patients.add_condition(patient=patient, code="F33.1", treatment_resistant=True, by=prescriber)
    wrong = patients.add_condition(patient=patient, code="F41.1", by=prescriber)
    patients.mark_condition_entered_in_error(condition=wrong, reason="typo", by=prescriber)
    patient = Patient.objects.select_related("clinic").get(pk=patient.pk)
    walk(patient, Status.IN_TREATMENT, staff, document)
    patient = Patient.objects.select_related("clinic").get(pk=patient.pk)
    answers = answers_for_total("phq9", 20)
    measures.record_response(patient=patient, instrument="phq9", answers=answers,
                             source="clinic", by=staff[Role.NURSE])
    measures.record_response(patient=patient, instrument="gad7",
                             answers=answers_for_total("gad7", 9), source="clinic",
                             by=staff[Role.NURSE])
    measures.start_default_schedule(patient=patient, by=staff[Role.NURSE])
    measures.send_request(patient=patient, instrument="phq9", due_at=timezone.now(),
                          base_url="http://testserver", by=staff[Role.NURSE])
    measures.record_clinical_event(patient=patient, kind=next(iter(ClinicalEvent.KINDS)),
                                   occurred_at=timezone.now() - timedelta(days=2),
                                   note="sweep", by=prescriber)
    # a course whose first session (today's) is the one the session routes use, then one more
    course_actions.plan_course(patient=patient, protocol="iv_racemic_ketamine",
                               first_dose_at=timezone.now(), room="Sweep room", by=staff[Role.NURSE])
    treatment.schedule_session(patient=patient, protocol="iv_racemic_ketamine",
                               scheduled_at=timezone.now(), room="Sweep room", by=staff[Role.NURSE])
    # a serious adverse event from the chart: the review, REMS and close routes take it
    from kapclinic.treatment import ae_actions

    ae_actions.record_event(patient=patient, term="Nausea", onset_at=timezone.now() - timedelta(hours=1),
                            severity="mild", grade=1, serious_criteria=["important_medical_event"],
                            key=f"sweep-{mrn}", by=staff[Role.NURSE])
    _notes(patient, staff, mrn)
    _monitor_message(clinic, mrn)
    return patient


def _monitor_message(clinic: Clinic, mrn: str) -> None:
    """A bedside monitor's message for no known patient: it waits in the unmatched queue."""
    import random

    from kapclinic.treatment.monitors import intake, simulate

    raw = simulate.message(control_id=f"sweep-{mrn}", mrn=f"NOBODY-{mrn}", device="ABCDEF0123456789",
                           at=timezone.now(), patient=simulate.Drift(random.Random(1)))
    intake.receive(raw, clinic=clinic)


def _notes(patient: Patient, staff: dict, mrn: str) -> None:
    """The therapist's signed note (with an addendum), a psychotherapy note and an
    authorization of it, a draft, and an emergency access by a clinician outside the team."""
    from kapclinic.treatment import emergency_access, note_actions

    therapist = staff[Role.THERAPIST]
    for kind, key in (("integration", "n"), ("psychotherapy", "p"), ("progress", "d")):
        draft = note_actions.start_draft(patient=patient, kind=kind, by=therapist, key=f"{mrn}{key}")
        field = draft.sections[0]["key"]
        draft = note_actions.save_draft(draft=draft, content={field: f"sweep {kind} {mrn}"},
                                        part2=False, expected_version=draft.version, by=therapist)
        if key != "d":
            note = note_actions.sign_draft(draft=draft, expected_version=draft.version, by=therapist)
            if key == "n":
                note_actions.add_addendum(note=note, text="sweep addendum", by=therapist, key=mrn)
    today = timezone.localdate(timezone=patient.clinic.zone)  # the clinic's day, as the app counts it
    note_actions.record_authorization(
        patient=patient, granted_to=staff[Role.PRESCRIBER], purpose="sweep", notes_from=today,
        notes_to=today, signed_on=today, expires_on=today, by=therapist, key=mrn)
    covering = make_user(f"covering-{mrn.lower()}", patient.clinic, Role.PRESCRIBER)
    emergency_access.open_access(patient=patient, reason="Other (explain below)", explanation="sweep",
                                 by=covering, role=Role.PRESCRIBER, key=mrn)


@pytest.fixture(scope="module")
def built_world(django_db_setup, django_db_blocker):
    """The world, built once for this module's tests (it took ~5 s per test on PostgreSQL)
    inside a transaction rolled back after the last of them. Each test runs in its own
    savepoint within it (pytest-django's db fixture), so what one test writes (the sweep's
    POSTs, a renamed clinic) is gone before the next."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build_world()
        transaction.set_rollback(True)


@pytest.fixture
def world(built_world, db):
    """A copy of the world's instances for each test, as they were built, so no change a test
    makes to one in memory (force_login sets a user's last_login) reaches the next test."""
    return copy.deepcopy(built_world)


def _build_world() -> dict:
    """Two demo clinics (harbor = A, cedar = B) plus, in each, one patient holding a record of
    every kind, API tokens, a pending invitation and an ended membership."""
    demo.load_demo(patients=8, seed=11, password=PASSWORD, weeks=4)
    out = {}
    for slug, suffix, given in (("harbor", "", "sweep-a"), ("cedar", "2", "sweep-b")):
        clinic = Clinic.objects.get(slug=slug)
        staff = {role: User.objects.get(username=f"{role.value}{suffix}")
                 for role in demo.STAFF_ROLES}
        document = ConsentDocument.objects.filter(clinic=clinic).latest("pk")
        patient = _full_patient(clinic, staff, document, f"D{1 + bool(suffix)}-SWEEP",
                                f"{given}-ada")
        secrets = {role: issue_token(user=user, name="sweep", scope="write")[1]
                   for role, user in staff.items()}
        outsider_clinic = Clinic.objects.create(slug=f"outside-{slug}", name=f"Outside {slug}")
        outsider = make_user(f"drifter{suffix}", outsider_clinic, Role.NURSE)
        outsider.email = f"drifter{suffix}@example.org"
        outsider.save()
        staff_actions.invite(clinic=clinic, username=outsider.username, email=outsider.email,
                             role=Role.NURSE, by=staff[Role.ADMIN])
        leaver = make_user(f"leaver{suffix}", clinic, Role.THERAPIST)
        staff_actions.end_access(membership=Membership.objects.get(user=leaver, clinic=clinic),
                                 by=staff[Role.ADMIN])
        out[slug] = {"clinic": clinic, "staff": staff, "patient": patient, "secrets": secrets}
    return out


# An id parameter whose model its name does not find (see model_for): name -> model label.
# a parameter whose name is not its model's audit name: the dose's draw a wastage follows
PARAM_MODELS: dict[str, str] = {"draw": "inventory.LedgerLine"}


def model_for(param: str):
    """The clinic-owned model a ``<kind_id>`` URL parameter names: the one whose audit name
    (scoping.record_type) is ``kind`` or ends in ``_kind``; None when none or several do."""
    if not param.endswith("_id"):
        return None
    kind = param.removesuffix("_id")
    if kind in PARAM_MODELS:
        return apps.get_model(PARAM_MODELS[kind])
    scoped = [apps.get_model(label) for label in CLINIC_PATH]
    for fits in (lambda name: name == kind, lambda name: name.endswith(f"_{kind}")):
        found = [model for model in scoped if fits(scoping.record_type(model))]
        if found:
            return found[0] if len(found) == 1 else None
    return None


def _staff_member(rows, clinic: Clinic):
    """A nurse's row: a staff member the admin may act on (not the clinic's last admin)."""
    nurse = Membership.objects.filter(clinic=clinic, role=Role.NURSE).get().user
    return rows.filter(user=nurse)


def _draw_with_nothing_wasted(rows, clinic: Clinic):
    """A dose's standing draw with no wastage yet: the rest of it may be wasted."""
    from kapclinic.inventory.models import LedgerLine

    wasted = LedgerLine.objects.filter(kind="waste").values("related_id")
    return rows.filter(kind="administration", reversed_by__isnull=True).exclude(pk__in=wasted)


# Which of clinic B's rows an id parameter takes, where "the sweep patient's first" (or, for a
# row about no patient, the clinic's first) would not do: parameter or model label -> narrowing.
PICK = {
    "draw_id": _draw_with_nothing_wasted,
    # the demo's shift count that differs from the ledger (its initial inventory agrees)
    "inventory.StockCount": lambda rows, clinic: rows.exclude(counted_mg=F("balance_mg"))
    .filter(resolution__isnull=True),
    "accounts.Membership": _staff_member,
    # the unmatched message (about no patient yet) a nurse assigns
    "treatment.MonitorMessage": lambda rows, clinic: rows.filter(status="unmatched"),
    "accounts.ApiToken": _staff_member,
    # the demo's latest dose drawn from stock (the first is wasted after): a line whose
    # reversal the stock allows
    "ledger_line_id": lambda rows, clinic: _draw_with_nothing_wasted(rows, clinic).order_by("-pk"),
}


def id_params() -> set[str]:
    return {name for route, _ in routes() if not is_catch_all(route)
            for name in params(route) if name not in NOT_IDS}


def ids_of(clinic: Clinic, patient: Patient) -> dict[str, str]:
    """One id of ``clinic`` for every id parameter of every route, the rows about a patient
    being ``patient``'s; ``uidb64`` is a staff member's user id as a set-password link has it."""
    ids, missing = {}, []
    for name in sorted(id_params() - {"uidb64"}):
        model = model_for(name)
        if model is None:
            continue  # test_every_url_parameter_names_a_model_the_sweep_can_fill says so
        rows = scoping.for_clinic(model, clinic.pk).order_by("pk")
        about = scoping.patient_path(model)
        label = model._meta.label
        if name in PICK or label in PICK:
            rows = PICK.get(name, PICK.get(label))(rows, clinic)
        elif about is not None:
            rows = rows.filter(**{about: patient.pk})
        row = rows.first()
        if row is None:
            missing.append(f"{name} ({label})")
        else:
            ids[name] = str(row.pk)
    assert not missing, (f"the sweep's world has no row for {', '.join(missing)} in "
                         f"{clinic.slug}: give _full_patient (or the app's demo loader) one")
    nurse = Membership.objects.filter(clinic=clinic, role=Role.NURSE).get().user
    ids["uidb64"] = urlsafe_base64_encode(force_bytes(nurse.pk))
    return ids


# --- routes -----------------------------------------------------------------------------

PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def _walk(resolver, prefix=""):
    for pattern in resolver.url_patterns:
        route = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern, prefix + route)
        elif isinstance(pattern, URLPattern):
            if is_fhir(prefix + route):
                continue
            yield prefix + route, pattern.name


def is_fhir(route: str) -> bool:
    """The FHIR API's routes name resources by type and id, not by model: they are swept, with
    every role and the other clinic's ids of every type, in tests/interop/test_fhir_sweep.py."""
    return route.lstrip("^").startswith("fhir/R4")


def routes():
    """Every URL pattern as (route with <params>, name), through included resolvers, once
    per route (the API lists a path once per method)."""
    seen = {}
    for route, name in _walk(get_resolver()):
        seen.setdefault(route, name)
    return list(seen.items())


def fill(route: str, ids: dict[str, str]) -> str:
    return "/" + PARAM.sub(lambda m: ids[m.group(2)], route)


def params(route: str) -> list[str]:
    return [m.group(2) for m in PARAM.finditer(route)]


def is_catch_all(route: str) -> bool:
    return "(?P<rest>" in route  # the API's own 404 for a path no endpoint has


def test_every_url_parameter_names_a_model_the_sweep_can_fill_with_another_clinics_id():
    unknown = sorted(f"{name} (in {route})" for route, _ in routes() if not is_catch_all(route)
                     for name in params(route)
                     if name not in NOT_IDS and name != "uidb64" and model_for(name) is None)
    assert not unknown, (
        "the cross-clinic sweep cannot tell which model these URL parameters name: "
        f"{', '.join(unknown)}. Name the parameter after its model (<kind>_id, e.g. "
        "session_id for TreatmentSession), or add it to PARAM_MODELS in "
        "tests/test_cross_clinic_sweep.py.")


def test_the_sweep_finds_each_id_parameters_model_by_its_name():
    found = {name: model_for(name)._meta.label for name in
             ("patient_id", "decision_id", "clinical_event_id", "request_id", "token_id",
              "consent_id")}
    assert found == {"patient_id": "patients.Patient",
                     "decision_id": "screening.EligibilityDecision",
                     "clinical_event_id": "measures.ClinicalEvent",
                     "request_id": "measures.MeasureRequest", "token_id": "accounts.ApiToken",
                     "consent_id": "screening.Consent"}
    assert model_for("instrument") is None and model_for("nothing_id") is None


def test_the_world_has_a_row_of_clinic_b_for_every_id_parameter(world):
    ids = ids_of(world["cedar"]["clinic"], world["cedar"]["patient"])
    assert set(ids) >= {name for name in id_params() if model_for(name) or name == "uidb64"}


# --- snapshot of clinic B ---------------------------------------------------------------

APPEND_ONLY = {"audit.AuditEntry"}  # a refused attempt is audited, in either clinic


def snapshot(clinic: Clinic) -> dict[str, dict]:
    rows = {}
    for label in CLINIC_PATH:
        # every row, those a default manager hides too (an ended membership)
        query = scoping.for_clinic(apps.get_model(label)._base_manager, clinic.pk)
        rows[label] = {row["id"]: row for row in query.order_by("pk").values()}
    return rows


def changes(before: dict, after: dict) -> list[str]:
    found = []
    for label, rows in before.items():
        now = after[label]
        for pk, row in rows.items():
            if pk not in now:
                found.append(f"{label} {pk} gone")
            elif now[pk] != row:
                changed = sorted(k for k in row if row[k] != now[pk][k])
                found.append(f"{label} {pk} changed: {', '.join(changed)}")
        if label not in APPEND_ONLY:
            found += [f"{label} {pk} added" for pk in set(now) - set(rows)]
    return found


def cross_links(a: Clinic, b: Clinic) -> list[str]:
    """Rows of clinic A that point at a row of clinic B (a consent of A's patient on B's
    document, A's patient with B's prescriber): a write that took a B id from the body."""
    found = []
    for label, path in CLINIC_PATH.items():
        model = apps.get_model(label)
        for field in model._meta.concrete_fields:
            target = field.related_model
            if not field.is_relation or target is None or target._meta.label not in CLINIC_PATH:
                continue
            if target._meta.label == "accounts.Clinic":
                continue  # the row's own clinic is its path; a pointer to B shows in B's rows
            b_rows = scoping.for_clinic(target._base_manager, b.pk)
            a_rows = scoping.for_clinic(model._base_manager, a.pk).exclude(**{path: b.pk})
            for pk in a_rows.filter(**{f"{field.name}__in": b_rows.values("pk")}).values_list(
                    "pk", flat=True).distinct():
                found.append(f"{label} {pk}.{field.name} points into clinic B")
    return found


# --- the sweep --------------------------------------------------------------------------

def form_body(ids: dict[str, str], world_clinic: dict, patient: Patient) -> dict:
    """A POST body that passes the page's form for ``patient`` (test_the_sweeps_posts_would_
    write_to_the_callers_own_records shows it does): every body-borne id is that clinic's too."""
    clinic = world_clinic["clinic"]
    return {
        "version": str(patient.version), "reason": "sweep", "note": "sweep",
        "accept": "on", "final_status": "eligible", "status": patient.status,
        "role": Role.THERAPIST, "active": "0", "code": "F32.1",
        "signed_name": patient.full_name, "method": "in_clinic",
        "document": str(ConsentDocument.objects.filter(clinic=clinic).latest("pk").pk),
        "token": ids["token_id"], "clinic": str(clinic.pk),
        "invitation": str(Invitation.objects.get(clinic=clinic).pk),
        "kind": next(iter(ClinicalEvent.KINDS)),
        "occurred_at": (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "given_name": "Swept", "family_name": patient.family_name, "mrn": patient.mrn,
        "date_of_birth": patient.date_of_birth.isoformat(), "sex_at_birth": patient.sex_at_birth,
        "username": "swept", "email": "swept@example.org",
        **{f"item_{key}": str(value) for key, value in answers_for_total("phq9", 27).items()},
    }


def route_body(route: str, body: dict, patient: Patient) -> dict:
    """The shared body, with what one route reads differently (the intake's own version)."""
    if route.startswith("patients/<int:patient_id>/intake/"):
        return {**body, "version": str(intake_for(patient).version)}
    if route in SESSION_PAGE_BODIES:
        return {**body, **SESSION_PAGE_BODIES[route](patient)}
    if route in LEDGER_PAGE_BODIES:
        return {**body, **LEDGER_PAGE_BODIES[route](patient)}
    if route in ADVERSE_EVENT_BODIES:
        return {**body, **ADVERSE_EVENT_BODIES[route](patient)}
    if route in NOTE_BODIES:
        return {**body, **NOTE_BODIES[route](patient)}
    return body


def _authorization_form(patient: Patient) -> dict:
    today = timezone.localdate(timezone=patient.clinic.zone).isoformat()  # the clinic's day
    nurse = Membership.objects.filter(clinic=patient.clinic, role=Role.NURSE).get().user
    return {"granted_to": str(nurse.pk), "purpose": "sweep", "notes_from": today,
            "notes_to": today, "signed_on": today, "expires_on": today}


# The therapy-note forms (treatment.note_forms), by route.
NOTE_BODIES = {
    "notes/<int:note_id>/addendum/": lambda p: {"text": "sweep addendum"},
    "patients/<int:patient_id>/emergency-access/": lambda p: {
        "reason": "Other (explain below)", "explanation": "sweep"},
    "patients/<int:patient_id>/psychotherapy-notes/authorizations/": _authorization_form,
}


def _ledger_places(patient: Patient) -> dict:
    """The patient's clinic's demo safe and cart (inventory.demo_data), and a prescriber of
    that clinic to witness a wastage."""
    from kapclinic.inventory.models import Location

    places = {row.name: str(row.pk) for row in scoping.for_clinic(Location, patient.clinic_id)}
    witness = Membership.objects.filter(clinic=patient.clinic, role=Role.PRESCRIBER).first().user
    nurse = Membership.objects.filter(clinic=patient.clinic, role=Role.NURSE).first().user
    return {"safe": places["Locked safe"], "cart": places["Dosing room cart"],
            "witness": witness.username, "nurse": nurse.username}


# The ledger's forms (inventory.forms) for the clinic's first lot (the demo's Ketalar), by route.
LEDGER_PAGE_BODIES = {
    "stock/draws/<int:draw_id>/waste/": lambda p: {
        "amount_mg": "1", "method": "sweep",
        "at": timezone.now().astimezone(p.clinic.zone).strftime("%Y-%m-%dT%H:%M"),
        "witness": _ledger_places(p)["witness"], "witness_password": PASSWORD},
    "stock/lots/<int:lot_id>/destroy/": lambda p: {
        "kind": "destruction", "location": _ledger_places(p)["safe"], "amount_mg": "1",
        "happened_at": timezone.now().astimezone(p.clinic.zone).strftime("%Y-%m-%dT%H:%M"),
        "method": "sweep", "place": "sweep", "witness": _ledger_places(p)["witness"],
        "witness_password": PASSWORD, "second_witness": _ledger_places(p)["nurse"],
        "second_witness_password": PASSWORD},
    "stock/lots/<int:lot_id>/loss/": lambda p: {
        "kind": "loss", "location": _ledger_places(p)["safe"], "amount_mg": "1",
        "happened_at": timezone.now().astimezone(p.clinic.zone).strftime("%Y-%m-%dT%H:%M"),
        "description": "sweep"},
    "stock/disposals/<int:disposal_id>/notice/": lambda p: {
        "step": "form_106", "done_at": timezone.now().astimezone(p.clinic.zone).strftime("%Y-%m-%dT%H:%M")},
    "stock/lots/<int:lot_id>/count/": lambda p: {
        "location": _ledger_places(p)["cart"], "kind": "shift", "counted_mg": "100"},
    "stock/lots/<int:lot_id>/transfer/": lambda p: {
        "source": _ledger_places(p)["safe"], "destination": _ledger_places(p)["cart"],
        "amount_mg": "1", "at": timezone.now().astimezone(p.clinic.zone).strftime("%Y-%m-%dT%H:%M")},
}


def _event_form(patient: Patient) -> dict:
    return {"term": "Nausea", "severity": "mild", "grade": "1", "onset_at": (
        timezone.now() - timedelta(minutes=5)).astimezone(patient.clinic.zone).strftime("%Y-%m-%dT%H:%M")}


# The adverse-event forms (treatment.ae_forms), by route.
ADVERSE_EVENT_BODIES = {
    "sessions/<int:session_id>/adverse-events/new/": _event_form,
    "patients/<int:patient_id>/adverse-events/new/": _event_form,
    "adverse-events/<int:adverse_event_id>/review/": lambda p: {"causality": "Related"},
    "adverse-events/<int:adverse_event_id>/close/": lambda p: {"outcome": "Resolved"},
    "adverse-events/<int:adverse_event_id>/entered-in-error/": lambda p: {"reason": "sweep"},
}


# The session pages' forms (treatment.forms) for the sweep's booked session, by route.
SESSION_PAGE_BODIES = {
    "patients/<int:patient_id>/sessions/new/": lambda p: {
        "protocol": "iv_racemic_ketamine",
        "scheduled_at": timezone.localtime(timezone.now()).strftime("%Y-%m-%dT%H:%M")},
    "sessions/<int:session_id>/step/": lambda p: {
        "to": "checked_in",
        "version": str(p.dosing_sessions.order_by("pk").first().version)},
    "sessions/<int:session_id>/checklist/": lambda p: {"fasting": "yes"},
    "sessions/<int:session_id>/vitals/": lambda p: {"spo2_pct": "97"},
    "sessions/<int:session_id>/observations/": lambda p: {"item": "intervention:call_prescriber"},
    # the course pages (treatment.course_forms): the sweep's course starts in three days
    "patients/<int:patient_id>/courses/new/": lambda p: {
        "protocol": "iv_racemic_ketamine",
        "first_dose_at": timezone.localtime(timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")},
    "patients/<int:patient_id>/courses/<int:course_id>/sessions/<int:session_id>/move/":
        lambda p: _course_change(p, later=True),
    "patients/<int:patient_id>/courses/<int:course_id>/sessions/<int:session_id>/cancel/":
        lambda p: {**_course_change(p), "reason": ""},
    "patients/<int:patient_id>/courses/<int:course_id>/visits/<int:therapy_visit_id>/move/":
        lambda p: _course_change(p, later=True, visit=True),
    "patients/<int:patient_id>/courses/<int:course_id>/visits/<int:therapy_visit_id>/cancel/":
        lambda p: _course_change(p, visit=True),
    "patients/<int:patient_id>/courses/<int:course_id>/end/": lambda p: {"reason": ""},
    "patients/<int:patient_id>/courses/<int:course_id>/add/": lambda p: {
        "at": timezone.localtime(timezone.now() + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M")},
}


def _course_change(patient: Patient, *, later: bool = False, visit: bool = False) -> dict:
    """A move or a cancellation of the course's first session or visit. The move goes to the
    start of the same minute in the clinic's zone: never onto another day, where the
    protocol's spacing would refuse it near midnight."""
    course = patient.courses.order_by("pk").first()
    record = (course.therapy_visits if visit else course.sessions).order_by("pk").first()
    body = {"version": str(record.version)}
    if later:
        local = record.scheduled_at.astimezone(ZoneInfo(patient.clinic.time_zone))
        body["to"] = local.strftime("%Y-%m-%dT%H:%M")  # as the clinic's page reads it
    return body


# The JSON an API write with an id in its path would accept for the caller's own record (so
# the refusal is the scoping, not a 422 for a wrong body), by (method, route).
API_BODIES = {
    ("PATCH", "api/v1/patients/<patient_id>"):
        lambda p: {"version": p.version, "given_name": "Swept"},
    ("POST", "api/v1/patients/<patient_id>/responses"):
        lambda p: {"instrument": "phq9", "answers": answers_for_total("phq9", 27)},
    ("POST", "api/v1/patients/<patient_id>/sessions"):
        lambda p: {"protocol": "iv_racemic_ketamine", "scheduled_at": timezone.now().isoformat()},
    ("POST", "api/v1/sessions/<session_id>/administration"): lambda p: {"dose_mg_per_kg": 0.5},
    ("POST", "api/v1/sessions/<session_id>/administration/events"):
        lambda p: {"kind": "pause", "reason": "Swept"},
    ("POST", "api/v1/sessions/<session_id>/checklist"):
        lambda p: {"item": "fasting", "answer": "yes", "at": timezone.now().isoformat()},
    ("POST", "api/v1/sessions/<session_id>/transitions"):
        lambda p: {"to": "checked_in", "at": timezone.now().isoformat()},
    ("POST", "api/v1/sessions/<session_id>/vitals"):
        lambda p: {"observed_at": timezone.now().isoformat(), "spo2_pct": 97},
}


def api_writes_with_an_id() -> set[tuple[str, str]]:
    """(method, route) of every API operation with a path parameter and a request body."""
    from kapclinic.api import api

    found = set()
    for path, operations in api.get_openapi_schema()["paths"].items():
        route = path.lstrip("/").replace("{", "<").replace("}", ">")
        for method, operation in operations.items():
            if "requestBody" in operation and any(n not in NOT_IDS for n in params(route)):
                found.add((method.upper(), route))
    return found


def test_every_api_write_with_an_id_has_a_body_the_sweep_sends():
    missing = sorted(api_writes_with_an_id() - set(API_BODIES))
    assert not missing, (
        f"the sweep has no valid JSON body for {missing}: add one to API_BODIES in "
        "tests/test_cross_clinic_sweep.py so a cross-clinic call is refused by the scoping, "
        "not by a 422 for a wrong body")


def looks_refused(response, role: Role) -> bool:
    if response.status_code in REFUSED:
        return True
    return (role == Role.PATIENT and response.status_code == 302
            and response["Location"].startswith("/login"))


# random one-time tokens (a form's, CSRF's) may spell a marker ("...D2-..."): not data
RANDOM_TOKENS = re.compile(r'name="(?:form_token|csrfmiddlewaretoken)" value="[^"]*"')


def leaks(response) -> list[str]:
    body = RANDOM_TOKENS.sub("", response.content.decode(errors="replace"))
    return [marker for marker in B_MARKERS if marker in body]


def clients(a_clinic: Clinic) -> dict[Role, Client]:
    out = {}
    for role in ROLES:
        membership = Membership.objects.filter(clinic=a_clinic, role=role).first()
        client = Client()
        client.force_login(membership.user)
        out[role] = client
    return out


def test_no_role_of_clinic_a_reaches_clinic_b_through_any_page_or_api_route(world):
    a, b = world["harbor"], world["cedar"]
    b_ids = ids_of(b["clinic"], b["patient"])
    a_ids = ids_of(a["clinic"], a["patient"])
    # the parent is A's own patient, the child row B's: /patients/<A>/consent/<B consent>/...
    mixed_ids = {**b_ids, "patient_id": a_ids["patient_id"]}
    body = form_body(b_ids, b, b["patient"])
    b_patient = b["patient"]
    before = snapshot(b["clinic"])
    failures = []
    with_ids, without_ids, capability = [], [], []
    for route, name in routes():
        if is_catch_all(route):
            continue
        names = params(route)
        if "token" in names:  # a capability link: the token in it is the credential
            capability.append((route, name))
        elif any(n not in NOT_IDS for n in names):
            with_ids.append((route, name))
        else:
            without_ids.append((route, name))

    for role, client in clients(a["clinic"]).items():
        for route, _ in with_ids:
            is_api = route.startswith("api/")
            others = [n for n in params(route) if n not in NOT_IDS and n != "patient_id"]
            fills = [b_ids, mixed_ids] if others and "patient_id" in params(route) else [b_ids]
            for ids in fills:
                url = fill(route, {**NOT_IDS, **ids})
                for method in API_METHODS if is_api else PAGE_METHODS:
                    if is_api:
                        payload = API_BODIES.get((method.upper(), route),
                                                 lambda p: {})(b["patient"])
                        response = client.generic(method.upper(), url, json.dumps(payload),
                                                  content_type="application/json")
                        if role in a["secrets"] and looks_refused(response, role):
                            # the same call with the role's own API token (clinic A's)
                            response = Client().generic(
                                method.upper(), url, json.dumps(payload),
                                content_type="application/json",
                                HTTP_AUTHORIZATION=f"Bearer {a['secrets'][role]}")
                    elif method == "post":
                        response = client.post(url, route_body(route, body, b_patient))
                    else:
                        response = client.get(url)
                    if not looks_refused(response, role):
                        failures.append(f"{role.value} {method.upper()} {url}: "
                                        f"{response.status_code} "
                                        f"{response.get('Location', '')}".rstrip())
                    elif leaks(response):
                        failures.append(f"{role.value} {method.upper()} {url} shows {leaks(response)}")
        # pages with no id in the URL (and capability links holding a wrong token, with B's
        # user in them): what they show is A's own; POST with B's ids in the body
        for route, _ in without_ids + capability:
            url = fill(route, {**NOT_IDS, **b_ids})
            # B's ids in the body, but none of B's words: a page may echo what was typed
            typed = {**body, "mrn": "SWEPT", "signed_name": "Swept"}
            for method in ("get", "post"):
                if route in ("logout/", "login/"):
                    continue
                # a filter naming B's patient must not show B's records
                response = (client.get(url, {"patient": b_ids["patient_id"],
                                             "patient_id": b_ids["patient_id"]})
                            if method == "get" else client.post(url, typed))
                if leaks(response):
                    failures.append(f"{role.value} {method.upper()} {url} shows "
                                    f"{leaks(response)}")
        client.force_login(Membership.objects.filter(clinic=a["clinic"], role=role).first().user)
        for url in ("/patients/", "/api/v1/patients", "/api/v1/me", "/portal/"):
            if leaks(response := client.get(url)):
                failures.append(f"{role.value} then GET {url} shows {leaks(response)}")

    failures += cross_links(a["clinic"], b["clinic"])
    assert not failures, "clinic B reached from clinic A:\n" + "\n".join(failures)
    assert not changes(before, snapshot(b["clinic"])), changes(before, snapshot(b["clinic"]))


def test_the_sweep_would_notice_a_clinic_b_page(world):
    """The markers and the refusal check catch a page that shows clinic B's patient."""
    b = world["cedar"]
    client = Client()
    client.force_login(b["staff"][Role.PRESCRIBER])
    response = client.get(f"/patients/{b['patient'].pk}/")
    assert response.status_code == 200
    assert leaks(response) and not looks_refused(response, Role.PRESCRIBER)
    for url in ("/patients/", "/alerts/", "/api/v1/patients"):
        assert leaks(client.get(url)), url
    client.force_login(b["staff"][Role.ADMIN])
    for url in ("/clinic/users/", "/audit/", "/clinic/outbox/"):
        assert leaks(client.get(url)), url


def test_the_sweep_would_notice_a_clinic_a_row_pointing_into_clinic_b(world):
    a, b = world["harbor"], world["cedar"]
    assert not cross_links(a["clinic"], b["clinic"])
    set_directly(Patient.objects.filter(pk=a["patient"].pk), prescriber=b["staff"][Role.PRESCRIBER])
    assert cross_links(a["clinic"], b["clinic"]) == [
        f"patients.Patient {a['patient'].pk}.prescriber points into clinic B"]


def test_the_snapshot_would_notice_a_changed_clinic_b_row(world):
    b = world["cedar"]
    before = snapshot(b["clinic"])
    Clinic.objects.filter(pk=b["clinic"].pk).update(name="Cedar, renamed")
    Invitation.objects.filter(clinic=b["clinic"]).delete()
    found = changes(before, snapshot(b["clinic"]))
    assert f"accounts.Clinic {b['clinic'].pk} changed: name" in found
    assert any(item.startswith("accounts.Invitation") and item.endswith("gone") for item in found)



# id routes whose POST no role of the clinic makes on its own records with the shared body
OWN_POST_REFUSED = {
    "adverse-events/<int:adverse_event_id>/": "an adverse event, a page to read: it takes no POST",
    "adverse-events/<int:adverse_event_id>/rems/":
        "only an esketamine session's event is reported to the REMS; the sweep's is from the chart",
    "patients/<int:patient_id>/courses/new/": "one active course per patient; the sweep's has one",
    "patients/<int:patient_id>/courses/<int:course_id>/": "a page to read: it takes no POST",
    "patients/<int:patient_id>/courses/<int:course_id>/sessions/<int:session_id>/cancel/":
        "sent without a reason, so the session the other session routes use stays booked; "
        "tests/treatment/test_course_pages.py cancels through the page",
    "patients/<int:patient_id>/courses/<int:course_id>/end/":
        "sent without a reason, so the course's sessions stay booked for the other routes; "
        "tests/treatment/test_course_pages.py ends a course through the page",
    "portal/measures/<int:request_id>/": "only the patient the request was sent to answers it",
    "patients/<int:patient_id>/": "a page to read: it takes no POST",
    "patients/<int:patient_id>/screening/": "a page to read: it takes no POST",
    "patients/<int:patient_id>/measures/": "a page to read: it takes no POST",
    "sessions/<int:session_id>/": "a page to read: it takes no POST",
    "sessions/<int:session_id>/live/": "the session page's poll: it takes no POST",
    "sessions/<int:session_id>/dose/preview/": "a calculation to read: it takes no POST",
    "sessions/<int:session_id>/dose/": "a dose needs a session cleared to dose; the sweep's is booked",
    "sessions/<int:session_id>/alerts/<int:alert_id>/acknowledge/":
        "acknowledges only an alert this session's readings raised; the sweep's is a questionnaire's",
    "sessions/<int:session_id>/dose/events/": "a pause or a device needs a session being dosed; "
                                               "the sweep's is booked",
    "sessions/<int:session_id>/alerts/<int:alert_id>/pause/":
        "pauses only for an alert this session's readings raised; the sweep's is a questionnaire's",
    "sessions/<int:session_id>/rems/": "a page to read: it takes no POST",
    "sessions/<int:session_id>/rems/submitted/": "only an esketamine session has a REMS form; the "
                                                 "sweep's is IV",
    "sessions/<int:session_id>/record/": "the printable record, a page to read: it takes no POST",
    "stock/lots/<int:lot_id>/": "a lot's ledger, a page to read: it takes no POST",
    "notes/<int:note_id>/": "a signed note, a page to read: it takes no POST",
    "psychotherapy-notes/<int:psychotherapy_note_id>/": "a page to read: it takes no POST",
    "patients/<int:patient_id>/psychotherapy-notes/": "a page to read: it takes no POST",
    "notes/drafts/<int:note_draft_id>/": "a draft is its author's alone: the sweep's is the "
                                         "therapist's (tests/treatment/test_notes.py saves one)",
    "notes/drafts/<int:note_draft_id>/autosave/": "a draft is its author's alone: the sweep's is "
                                                  "the therapist's",
    "psychotherapy-notes/authorizations/<int:psychotherapy_authorization_id>/revoke/":
        "only the notes' author (the sweep's therapist) records a revocation",
    "patients/<int:patient_id>/emergency-access/": "the sweep's prescriber and nurse are on the "
        "sweep patient's care team: no emergency access is needed (test_notes.py opens one)",
}


def test_the_sweeps_posts_would_write_to_the_callers_own_records(world):
    """The sweep's refusals come from the scoping, not from a body no form would take: the
    same POSTs on clinic A's own ids succeed for some role of clinic A."""
    a = world["harbor"]
    ids = ids_of(a["clinic"], a["patient"])
    body = form_body(ids, a, a["patient"])
    id_routes = [route for route, _ in routes()
                 if not route.startswith("api/") and not is_catch_all(route)
                 and "token" not in params(route)
                 and any(n not in NOT_IDS for n in params(route))]
    worked = set()
    for role in (Role.PRESCRIBER, Role.COORDINATOR, Role.NURSE, Role.ADMIN):
        client = Client()
        client.force_login(a["staff"][role])
        for route in id_routes:
            patient = Patient.objects.get(pk=a["patient"].pk)
            response = client.post(fill(route, {**NOT_IDS, **ids}),
                                   route_body(route, {**body, "version": str(patient.version)},
                                              patient))
            if response.status_code < 400:
                worked.add(route)
    never = sorted(set(id_routes) - worked - set(OWN_POST_REFUSED))
    assert not never, f"no role of clinic A could POST the sweep's body to its own {never}"


def test_a_clinic_a_member_whose_clinic_b_access_ended_cannot_switch_or_call_into_clinic_b(
        world):
    a, b = world["harbor"], world["cedar"]
    person = make_user("both", a["clinic"], Role.PRESCRIBER)
    Membership.objects.create(user=person, clinic=b["clinic"], role=Role.PRESCRIBER)
    staff_actions.end_access(membership=Membership.objects.get(user=person, clinic=b["clinic"]),
                             by=b["staff"][Role.ADMIN])
    client = Client()
    client.force_login(person)
    client.post("/clinic/switch/", {"clinic": b["clinic"].pk})
    patient_b = b["patient"].pk
    assert client.get(f"/patients/{patient_b}/").status_code in REFUSED
    assert not leaks(client.get("/patients/"))
    assert client.get(f"/api/v1/patients/{patient_b}").status_code in REFUSED
    _, secret = issue_token(user=person, name="both", scope="write")
    asked_for_b = Client().get("/api/v1/patients", HTTP_AUTHORIZATION=f"Bearer {secret}",
                               HTTP_X_KAPCLINIC_CLINIC=str(b["clinic"].pk))
    assert asked_for_b.status_code == 403 and not leaks(asked_for_b)
    assert Client().get(f"/api/v1/patients/{patient_b}",
                        HTTP_AUTHORIZATION=f"Bearer {secret}").status_code in REFUSED
