"""The FHIR tests read the demo clinic: every kind of record, written by the app's own actions."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from kapclinic.accounts.models import Membership
from kapclinic.accounts.tokens import issue_token
from kapclinic.patients.models import Patient
from tests.conftest import demo_loaded


@pytest.fixture(scope="module")
def loaded_demo(django_db_setup, django_db_blocker):
    """A 12-patient demo loaded once per module, rolled back after its last test."""
    with demo_loaded(django_db_blocker, patients=12, seed=5):
        yield list(Patient.objects.select_related("clinic").order_by("mrn"))


@pytest.fixture
def demo_patients(loaded_demo, db):
    return loaded_demo


class Fhir:
    """A FHIR client holding one staff member's API token."""

    def __init__(self, user, scope="read"):
        self.user = user
        self.token, self.secret = issue_token(user=user, name="fhir test", scope=scope)
        self.client = Client()

    def get(self, path, **params):
        return self.client.get(f"/fhir/R4{path}", params, HTTP_AUTHORIZATION=f"Bearer {self.secret}")

    def json(self, path, **params):
        response = self.get(path, **params)
        assert response.status_code == 200, response.content[:500]
        assert response["Content-Type"].startswith("application/fhir+json")
        return json.loads(response.content)


def member(clinic, role):
    """The clinic's first member of this role (None when it has none)."""
    found = (Membership.objects.select_related("user").filter(clinic=clinic, role=role)
             .order_by("pk").first())
    return found.user if found is not None else None


@pytest.fixture
def fhir_as(demo_patients):
    clinic = demo_patients[0].clinic

    def make(role, scope="read"):
        return Fhir(member(clinic, role), scope)
    return make
