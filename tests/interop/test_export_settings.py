"""The admin's export settings: bounded, compare-and-swap, audited, and read by the exports."""

from __future__ import annotations

import json

import pytest

from kapclinic.audit.models import AuditEntry
from kapclinic.interop.models import InteropSettings
from tests.conftest import login

pytestmark = pytest.mark.django_db


def form(version=1, **values):
    return {"export_hours": 24, "k_anonymity": 5, "research_dates": "year", "date_shift_days": 182,
            "version": version, **values}


def test_the_admin_sets_k_and_the_change_is_audited_from_and_to(clinic_a, clinic_admin):
    client = login(clinic_admin)
    page = client.get("/settings/exports/")
    assert page.status_code == 200 and "Smallest group in the research data set" in page.content.decode()
    assert client.post("/settings/exports/", form(k_anonymity=10)).status_code == 302
    assert InteropSettings.objects.get(clinic=clinic_a).k_anonymity == 10
    entry = AuditEntry.objects.filter(object_type="interop_settings").latest("seq")
    assert json.loads(entry.detail_json)["changes"] == {"k_anonymity": [5, 10]}


def test_a_value_out_of_bounds_is_refused_naming_the_field(clinic_a, clinic_admin):
    response = login(clinic_admin).post("/settings/exports/", form(k_anonymity=1))
    assert response.status_code == 422
    assert "greater than or equal to 2" in response.content.decode()
    assert not InteropSettings.objects.filter(clinic=clinic_a).exists()


def test_a_save_from_a_stale_page_overwrites_nothing(clinic_a, clinic_admin):
    client = login(clinic_admin)
    client.post("/settings/exports/", form(export_hours=48))
    stale = client.post("/settings/exports/", form(version=1, export_hours=12))
    assert stale.status_code == 409
    assert InteropSettings.objects.get(clinic=clinic_a).export_hours == 48


def test_only_the_admin_keeps_the_export_settings(clinic_a, prescriber, nurse):
    for user in (prescriber, nurse):
        assert login(user).get("/settings/exports/").status_code == 403


def test_saving_the_defaults_unchanged_writes_nothing_and_says_so(clinic_a, clinic_admin):
    """A save that changes nothing (the first visit, a double click) stores no row and needs
    no audit entry: it is not an error."""
    response = login(clinic_admin).post("/settings/exports/", form())
    assert response.status_code == 302
    assert not AuditEntry.objects.filter(object_type="interop_settings").exists()
