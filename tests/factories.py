"""Valid rows of the main models for tests, made the way the app makes them.

Each factory goes through the owning app's ``actions`` function where one exists, so a row
from here is audited and passes the same checks a real one does (a decision from a stored
intake, a consent on the clinic's current text, a response scored by the core). Everything
has a sensible default; pass what the test is about and nothing else:

    clinic = factories.clinic()
    nurse = factories.user(clinic, Role.NURSE)
    ada = factories.patient(clinic, by=nurse)
    factories.responses(ada, "madrs", [30, 24, 12], by=nurse)

Plain functions rather than factory_boy: the actions already are the builders, and
factory_boy's model factories would bypass them. A name or MRN not given is made unique by a
counter, so two calls never collide.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone

from kapclinic.accounts.models import Clinic, Membership, User
from kapclinic.accounts.roles import Role
from kapclinic.measures import actions as measures
from kapclinic.measures.demo_data import answers_for_total
from kapclinic.patients import actions as patients
from kapclinic.patients.models import Condition, Patient
from kapclinic.screening import actions as screening
from kapclinic.screening.models import Consent, ConsentDocument, EligibilityDecision, Intake
from tests.conftest import PASSWORD

WEEK = timedelta(days=7)
_numbers = itertools.count(1)


def _next() -> int:
    return next(_numbers)


def clinic(slug: str = "", *, name: str = "", time_zone: str = "America/New_York") -> Clinic:
    """A clinic (no action creates one: ``createclinic`` is a command, not a function)."""
    n = _next()
    slug = slug or f"clinic-{n}"
    return Clinic.objects.create(slug=slug, name=name or slug.replace("-", " ").title(),
                                 time_zone=time_zone)


def user(clinic: Clinic, role: Role = Role.PRESCRIBER, username: str = "", *,
         first_name: str = "", last_name: str = "", password: str = PASSWORD) -> User:
    """A member of ``clinic`` in ``role`` who can log in with ``password``.

    Made directly, like the named personas of tests/conftest.py: ``staff.add_staff`` needs an
    acting admin and gives no password (the new member sets one through a link)."""
    username = username or f"{role.value}{_next()}"
    member = User.objects.create_user(username=username, password=password,
                                      first_name=first_name or username.title(),
                                      last_name=last_name or role.label)
    Membership.objects.create(user=member, clinic=clinic, role=role)
    return member


def patient(clinic: Clinic, by: User | None = None, **fields: Any) -> Patient:
    """A patient registered through ``patients.actions.create_patient``; a ``status`` past
    screening is then set through ``change_status``, as its owning step would."""
    data: dict[str, Any] = {
        "mrn": f"F-{_next():04d}", "given_name": "Ada", "family_name": "Lovelace",
        "date_of_birth": date(1985, 12, 10), "sex_at_birth": "female", "status": "screening"}
    data.update(fields)
    wanted = data["status"]
    if wanted not in ("referred", "screening"):
        data["status"] = "screening"
    created = patients.create_patient(clinic=clinic, data=data, by=by)
    if wanted == data["status"]:
        return created
    return patients.change_status(patient=created, status=wanted, by=by)


def condition(patient: Patient, by: User, code: str = "F33.1", *,
              treatment_resistant: bool = False) -> Condition:
    """A diagnosis from the code table (default: recurrent depression, moderate)."""
    return patients.add_condition(patient=patient, code=code,
                                  treatment_resistant=treatment_resistant, by=by)


def intake(patient: Patient, by: User | None, data: dict[str, Any] | None = None) -> Intake:
    """A saved, validated intake (default: only the date of birth, which the rules read)."""
    data = data if data is not None else {
        "date_of_birth": patient.date_of_birth.isoformat()}
    return screening.save_intake(patient=patient, draft=data, data=data, by=by,
                                 expected_version=screening.intake_for(patient).version)


def decision(patient: Patient, by: User, *, drug: str = "ketamine", route: str | None = None,
             intake_data: dict[str, Any] | None = None) -> EligibilityDecision:
    """The rules' decision on the patient's intake (one is saved first if there is none)."""
    if intake_data is not None or screening.intake_for(patient).data is None:
        intake(patient, by, intake_data)
    return screening.evaluate_intake(patient=patient, drug=drug, route=route, by=by)


def consent_document(clinic: Clinic, by: User | None = None, *, title: str = "Consent to KAP",
                     text: str = "I understand the treatment and agree to it.") -> ConsentDocument:
    """A new current version of the clinic's consent text."""
    return screening.publish_consent_document(clinic=clinic, title=title, text=text, by=by)


def consent(patient: Patient, by: User, *, document: ConsentDocument | None = None,
            method: str = "in_clinic") -> Consent:
    """The patient's signature on the clinic's current consent text (published if none)."""
    document = (document or screening.current_document(patient.clinic_id)
                or consent_document(patient.clinic, by))
    return screening.sign_consent(patient=patient, document=document, method=method, by=by,
                                  signed_name=f"{patient.given_name} {patient.family_name}")


def response(patient: Patient, by: User | None, instrument: str = "phq9", *,
             total: int | None = None, answers: dict[str, Any] | None = None,
             taken_at: datetime | None = None, source: str = "clinic") -> measures.Recorded:
    """A scored questionnaire response (and any alerts it raised): ``answers`` as given, or
    answers adding up to ``total`` (default: a low total that raises no alert)."""
    if answers is None:
        answers = answers_for_total(instrument, 2 if total is None else total, spare=("9",))
    return measures.record_response(patient=patient, instrument=instrument, answers=answers,
                                    source=source, by=by, taken_at=taken_at)


def responses(patient: Patient, instrument: str, totals: list[int], by: User | None, *,
              start: datetime | None = None, every: timedelta = WEEK) -> list[measures.Recorded]:
    """A series of totals, ``every`` week by default, ending about now."""
    start = start or timezone.now() - every * len(totals)
    return [response(patient, by, instrument, total=total, taken_at=start + every * n)
            for n, total in enumerate(totals)]


def alert(patient: Patient, by: User | None):
    """An urgent alert, raised the way a real one is: a PHQ-9 answered with thoughts of
    self-harm on several days (item 9)."""
    answers = {str(n): 0 for n in range(1, 10)} | {"9": 2}
    return response(patient, by, "phq9", answers=answers).alerts[0]
