"""Named personas shared by every test: who they are is part of what a test says."""

from __future__ import annotations

import base64
import contextlib
import os
from datetime import date

import pytest
from django.test import Client

from kapclinic.accounts.models import Clinic, Membership, User
from kapclinic.accounts.roles import Role
from kapclinic.audit.actions import writing_directly
from kapclinic.patients import actions

IN_CI = os.environ.get("CI", "").lower() == "true"


def _flush_past_the_truncate_guards() -> None:
    """Between transactional tests Django empties the test database with TRUNCATE, which the
    health tables refuse on PostgreSQL (never_truncated). The test database's reset alone
    runs with triggers off for its one transaction (SET LOCAL; the test user is the server's
    superuser); the application's own connections keep every guard."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    flush = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        return flush(self, ["SET LOCAL session_replication_role = replica", *sql_list])

    DatabaseOperations.execute_sql_flush = execute_sql_flush


if os.environ.get("KAPCLINIC_TEST_POSTGRES"):
    _flush_past_the_truncate_guards()
PASSWORD = "correct horse battery staple"


def make_user(username: str, clinic: Clinic, role: Role, first: str = "", last: str = "") -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, first_name=first,
                                    last_name=last or username.title())
    Membership.objects.create(user=user, clinic=clinic, role=role)
    return user


@pytest.fixture
def clinic_a(db) -> Clinic:
    return Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York")


@pytest.fixture
def clinic_b(db) -> Clinic:
    return Clinic.objects.create(slug="clinic-b", name="Clinic B", time_zone="Europe/London")


@pytest.fixture
def prescriber(clinic_a) -> User:
    return make_user("alice", clinic_a, Role.PRESCRIBER, "Alice", "Prescott")


@pytest.fixture
def nurse(clinic_a) -> User:
    return make_user("nina", clinic_a, Role.NURSE, "Nina", "Nurse")


@pytest.fixture
def therapist(clinic_a) -> User:
    return make_user("theo", clinic_a, Role.THERAPIST, "Theo", "Therapist")


@pytest.fixture
def coordinator(clinic_a) -> User:
    return make_user("cora", clinic_a, Role.COORDINATOR, "Cora", "Coordinator")


@pytest.fixture
def clinic_admin(clinic_a) -> User:
    return make_user("adam", clinic_a, Role.ADMIN, "Adam", "Admin")


@pytest.fixture
def other_clinician(clinic_b) -> User:
    """A prescriber of clinic B, who must never see clinic A's patients."""
    return make_user("bob", clinic_b, Role.PRESCRIBER, "Bob", "Elsewhere")


def new_patient(clinic: Clinic, by: User | None = None, **overrides):
    data = {
        "mrn": "A-0001", "given_name": "Ada", "family_name": "Lovelace",
        "date_of_birth": date(1985, 12, 10), "sex_at_birth": "female", "status": "screening",
    }
    data.update(overrides)
    wanted = data["status"]
    if wanted not in ("referred", "screening"):  # set later by its owner (sign-off, treatment start)
        data["status"] = "screening"
    patient = actions.create_patient(clinic=clinic, data=data, by=by)
    return actions.change_status(patient=patient, status=wanted, by=by) if wanted != "screening" else patient


def set_directly(queryset, **values) -> int:
    """Test setup only: put health records in a state no action makes here (an email on file,
    a portal login linked, a result as stored by an older version), explicitly, without an
    audit entry. Health records refuse update() outside actions everywhere else, and on
    PostgreSQL a correctable record's database trigger refuses any column but its
    correction's: switched off here for this one statement."""
    import contextlib

    import pgtrigger
    from django.db import connection

    from kapclinic.audit.models import CorrectableRecord

    model = queryset.model
    trigger_off = contextlib.nullcontext()
    if issubclass(model, CorrectableRecord) and connection.vendor == "postgresql":
        trigger_off = pgtrigger.ignore(f"{model._meta.label}:only_corrections_change")
    with writing_directly("test setup"), trigger_off:
        return queryset.update(**values)


def stored_settings(clinic):
    """The clinic's measurement settings row as a queryset to update in test setup; reading
    the settings never creates it (only saving them does), so a test wanting a stored value
    makes the row first."""
    from kapclinic.measures.models import MeasureSettings

    clinic_id = clinic if isinstance(clinic, int) else clinic.pk
    row, _ = MeasureSettings.objects.get_or_create(clinic_id=clinic_id)
    return MeasureSettings.objects.filter(pk=row.pk)


@pytest.fixture
def patient(clinic_a, prescriber):
    return new_patient(clinic_a, prescriber, prescriber=prescriber)


@pytest.fixture
def patient_b(clinic_b, other_clinician):
    return new_patient(clinic_b, other_clinician, mrn="B-0001", given_name="Brook",
                       family_name="Other")


def code_from_secret(secret: str) -> str:
    """The code an authenticator app shows now for a key typed as the set-up page shows it."""
    from django_otp.oath import totp

    raw = secret.replace(" ", "")
    return f"{totp(base64.b32decode(raw + '=' * (-len(raw) % 8))):06d}"


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


ON_POSTGRES = bool(os.environ.get("KAPCLINIC_TEST_POSTGRES"))


@pytest.fixture
def migrated_data_folder(tmp_path, tmp_path_factory):
    """A data folder of its own holding a migrated, empty SQLite database (tests/command.py)."""
    from tests.command import migrated_copy

    return migrated_copy(tmp_path_factory.getbasetemp(), tmp_path / "data")


def pytest_collection_modifyitems(config, items):
    if ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run `make test-postgres` (CI runs it)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@contextlib.contextmanager
def demo_loaded(django_db_blocker, *, patients: int, seed: int, weeks: int = 4):
    """The demo clinics loaded once (for a module's tests) inside a transaction rolled back at the
    end; each test runs in its own savepoint within it, so nothing one writes reaches the next."""
    from django.db import transaction

    from kapclinic import demo
    from kapclinic.audit import context

    with django_db_blocker.unblock(), transaction.atomic():
        context.set_system_actor("kapclinic demo")
        demo.load_demo(patients=patients, seed=seed, password="demo-pass-123", weeks=weeks)
        yield
        transaction.set_rollback(True)
