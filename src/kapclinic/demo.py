"""A deterministic synthetic demo clinic: the same seed gives the same clinic.

Every name, date and diagnosis here is invented. Nothing is loaded into a
database that holds real (non-demo) data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from kapclinic.accounts.models import Clinic, Membership, User
from kapclinic.accounts.roles import Role
from kapclinic.accounts.scoping import for_clinic
from kapclinic.clinical.codes import diagnoses
from kapclinic.patients import actions
from kapclinic.patients.models import Patient, SexAtBirth, Status
from kapclinic.platform import extensions

STAFF_ROLES = [Role.PRESCRIBER, Role.NURSE, Role.THERAPIST, Role.COORDINATOR, Role.ADMIN,
               Role.RESEARCHER]
CLINICS = [
    ("harbor", "Harbor Ketamine Clinic (demo)", "America/New_York", ""),
    ("cedar", "Cedar KAP Center (demo)", "America/Los_Angeles", "2"),
]
STAFF_NAMES = {
    Role.PRESCRIBER: ("Maya", "Okafor"), Role.NURSE: ("Jonas", "Lindqvist"),
    Role.THERAPIST: ("Priya", "Raman"), Role.COORDINATOR: ("Leo", "Marchetti"),
    Role.ADMIN: ("Ruth", "Adeyemi"), Role.RESEARCHER: ("Tomás", "Herrera"),
}
GIVEN = ["Avery", "Jordan", "Morgan", "Riley", "Casey", "Quinn", "Harper", "Rowan", "Elena",
         "Samuel", "Noor", "Theo", "Iris", "Mateo", "Hana", "Felix", "Amara", "Oscar", "Lena",
         "Kofi", "Ines", "Yusuf", "Clara", "Ravi", "Sofia", "Malik", "Greta", "Dmitri", "Aiko"]
FAMILY = ["Abbott", "Brennan", "Castillo", "Dubois", "Eriksen", "Fitzgerald", "Gallagher",
          "Haddad", "Ibarra", "Jansen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Osei",
          "Petrov", "Quintero", "Rossi", "Sato", "Tanaka", "Uribe", "Vance", "Whitfield",
          "Xu", "Yilmaz", "Zimmerman", "Achebe", "Bergstrom", "Choi", "Delgado"]
# Weighted towards the diagnoses KAP clinics mostly treat.
CONDITION_GROUPS = ["depression_recurrent"] * 5 + ["depression"] * 2 + ["ptsd"] * 2 + [
    "anxiety", "ocd", "alcohol_use_disorder", "chronic_pain"]
STATUSES = [Status.REFERRED, Status.SCREENING, Status.ELIGIBLE, Status.IN_TREATMENT,
            Status.IN_TREATMENT, Status.IN_TREATMENT, Status.MAINTENANCE, Status.INELIGIBLE,
            Status.DISCHARGED]


class DemoRefused(Exception):
    """The database holds data that is not the demo's."""


@dataclass
class DemoResult:
    created: bool
    usernames: list[str]
    patients: int


def holds_real_data() -> bool:
    if Clinic.objects.filter(is_demo=False).exists():
        return True
    demo_members = Membership.objects.filter(clinic__is_demo=True).values("user_id")
    return User.objects.exclude(pk__in=demo_members).exists()


def staff_usernames() -> list[str]:
    return [f"{role.value}{suffix}" for _, _, _, suffix in CLINICS
            for role in [*STAFF_ROLES, Role.PATIENT]]


def load_demo(*, patients: int, seed: int, password: str, weeks: int = 12,
              progress=None) -> DemoResult:
    if holds_real_data():
        raise DemoRefused("this database holds non-demo data; the demo loads only into an "
                          "empty database or one holding the demo")
    if Clinic.objects.filter(is_demo=True).exists():
        return DemoResult(False, staff_usernames(), 0)
    rng = random.Random(seed)
    # One hash for every demo login (they share the password anyway): Argon2 is slow on purpose.
    password_hash = make_password(password)
    table = diagnoses().listed()
    total = 0
    with transaction.atomic():
        for index, (slug, name, zone, suffix) in enumerate(CLINICS):
            clinic = Clinic.objects.create(slug=slug, name=name, time_zone=zone, is_demo=True)
            staff = {}
            for role in STAFF_ROLES:
                first, last = STAFF_NAMES[role]
                # an address (on a domain that can never receive mail) so escalations show
                username = f"{role.value}{suffix}"
                user = User.objects.create(username=username, first_name=first,
                                           last_name=last, password=password_hash,
                                           email=f"{username}@kapclinic.invalid")
                Membership.objects.create(user=user, clinic=clinic, role=role)
                staff[role] = user
            count = patients if index == 0 else max(1, patients // 4)
            records = [_patient(rng, table, index, n, staff) for n in range(count)]
            # every record starts where a new one may (referred, in screening); the walk below
            # moves it on only through the records that put a patient there
            targets = {record.data["mrn"]: record.data["status"] for record in records}
            for record in records:
                record.data["status"] = (Status.REFERRED if record.data["status"] == Status.REFERRED
                                         else Status.SCREENING)
            actions.bulk_create_patients(clinic=clinic, records=records, by=None,
                                         progress=progress)
            total += count
            # each app adds its part (screening walks patients to their statuses, measures
            # adds questionnaires...), each from its own random stream
            now = timezone.now()
            for loader in extensions.demo_loaders():
                loader.load(extensions.DemoRun(
                    clinic=clinic, staff=staff, targets=targets, now=now, weeks=weeks,
                    rng=extensions.demo_stream(seed, slug, loader.key)))
            _portal_login(clinic, f"patient{suffix}", password_hash)
    return DemoResult(True, staff_usernames(), total)


def _portal_login(clinic: Clinic, username: str, password_hash: str) -> None:
    """The clinic's first demo patient gets a portal login, to try the patient's side."""
    first = for_clinic(Patient, clinic.pk).order_by("mrn").first()
    actions.grant_portal_login(patient=first, username=username, password_hash=password_hash,
                               by=None)


def _patient(rng: random.Random, table, clinic_index: int, n: int, staff) -> actions.NewPatient:
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
    group = rng.choice(CONDITION_GROUPS)
    diagnosis = rng.choice([d for d in table if d.group == group])
    conditions = [(diagnosis.code, diagnosis.is_depression and rng.random() < 0.6)]
    if rng.random() < 0.3:
        extra = rng.choice([d for d in table if d.group in ("anxiety", "ptsd")])
        if extra.code != diagnosis.code:
            conditions.append((extra.code, False))
    data = {
        "mrn": f"D{clinic_index + 1}-{n + 1:06d}",
        "given_name": given, "family_name": family, "date_of_birth": born,
        "sex_at_birth": rng.choice([SexAtBirth.FEMALE, SexAtBirth.MALE]),
        "status": rng.choice(STATUSES),
        "phone": f"555-01{rng.randrange(0, 100):02d}",
        "email": f"{given}.{family}{n}@example.org".lower(),
        "address": f"{rng.randrange(1, 999)} Example Street\nSpringfield",
        "emergency_contact_name": f"{rng.choice(GIVEN)} {family}",
        "emergency_contact_relationship": rng.choice(["Partner", "Parent", "Sibling", "Friend"]),
        "emergency_contact_phone": f"555-02{rng.randrange(0, 100):02d}",
        "prescriber": staff[Role.PRESCRIBER], "therapist": staff[Role.THERAPIST],
    }
    return actions.NewPatient(data=data, conditions=conditions)
