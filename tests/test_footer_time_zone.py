"""The footer names the time zone the page's times are shown in: the clinic's, where the page
belongs to a clinic (a member's page, a patient link, an ended access), and none where no
clinic is known. Never a zone the page does not use (UTC for a New York clinic)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from kapclinic.accounts import staff
from kapclinic.accounts.models import Membership
from kapclinic.patients.models import Patient
from tests.conftest import PASSWORD, login, set_directly
from tests.test_link_security import intake_link, measure_link
from tests.test_measures import PHQ9_CALM


@pytest.fixture
def reachable(patient):
    set_directly(Patient.objects.filter(pk=patient.pk), email="ada@example.org")
    patient.refresh_from_db()
    return patient


def footer(page) -> str:
    return re.search(r'<footer class="footer">(.*?)</footer>', page.content.decode(), re.S).group(1)


def test_a_members_page_names_the_clinics_time_zone(nurse, clinic_a):
    assert "clinic time zone America/New_York" in footer(login(nurse).get("/patients/"))


def test_a_self_report_link_names_its_clinics_time_zone_not_utc(nurse, reachable):
    page = Client().get(measure_link(nurse, reachable), follow=True)
    assert page.status_code == 200 and "Send my answers" in page.content.decode()
    assert "clinic time zone America/New_York" in footer(page)
    assert "UTC" not in footer(page)


def test_an_intake_link_names_its_clinics_time_zone(coordinator, patient):
    page = Client().get(intake_link(coordinator, patient), follow=True)
    assert page.status_code == 200
    assert "clinic time zone America/New_York" in footer(page)


def test_the_page_after_answering_names_the_clinics_zone_and_a_closed_link_none(
        nurse, reachable):
    path = measure_link(nurse, reachable)
    phone = Client()
    phone.get(path)
    done = phone.post("/r/measure/", PHQ9_CALM)
    assert "Your answers are with the clinic" in done.content.decode()
    assert "clinic time zone America/New_York" in footer(done)
    for later in (phone.get(path), phone.get("/r/measure/"), Client().get(path)):
        assert later.status_code == 404 and "This link is closed" in later.content.decode()
        assert "time zone" not in footer(later)  # a closed link names no clinic


def test_the_login_page_names_no_time_zone(db):
    assert "time zone" not in footer(Client().get("/login/"))


def test_the_access_ended_page_names_the_clinics_time_zone(clinic_admin, nurse, clinic_a):
    staff.end_access(membership=nurse.memberships.get(), by=clinic_admin)
    Membership.all_objects.filter(user=nurse).update(ended_at="2026-03-05T15:00:00Z")
    client = Client()
    client.post("/login/", {"username": "nina", "password": PASSWORD})
    page = client.get("/", follow=True)
    assert page.status_code == 403 and "Your access to Clinic A ended" in page.content.decode()
    assert "clinic time zone America/New_York" in footer(page)
