"""Patient links and set-password links as an attacker meets them: the token leaves the
address after the first request, pages send no Referer, and a used link shows only that it
is closed (security issue, items 3 and 4)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from kapclinic.measures.models import Response
from kapclinic.patients.actions import add_condition
from kapclinic.patients.models import Patient, PatientLink
from kapclinic.screening import actions as screening
from tests.conftest import login, set_directly, stored_settings
from tests.outbox import delivered
from tests.test_measures import PHQ9_CALM, PHQ9_ITEM9
from tests.test_screening_pages import GOOD_INTAKE


@pytest.fixture
def depressed(patient, prescriber):
    add_condition(patient=patient, code="F33.2", treatment_resistant=True, by=prescriber)
    return patient


@pytest.fixture
def reachable(patient):
    set_directly(Patient.objects.filter(pk=patient.pk), email="ada@example.org", phone="555-0100")
    patient.refresh_from_db()
    return patient


def intake_link(coordinator, patient) -> str:
    page = login(coordinator).post(f"/patients/{patient.pk}/intake/link/")
    return page.context["url"].split("testserver", 1)[1]


def measure_link(nurse, patient) -> str:
    login(nurse).post(f"/patients/{patient.pk}/measures/send/", {"instrument": "phq9"})
    return re.search(r"/r/measure/[^/\s]+/", delivered()[-1].body).group(0)


def token_of(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]


def test_opening_an_intake_link_moves_its_token_out_of_the_address(coordinator, depressed):
    path = intake_link(coordinator, depressed)
    phone = Client()
    opened = phone.get(path)
    assert opened.status_code == 302 and opened["Location"] == "/r/intake/"
    assert opened["Referrer-Policy"] == "no-referrer"
    page = phone.get("/r/intake/")
    assert page.status_code == 200 and b"Send to the clinic" in page.content
    assert token_of(path).encode() not in page.content  # not in a form, link or autosave call
    # a page with a form sent no-referrer is posted with "Origin: null", which CSRF refuses
    assert page["Referrer-Policy"] == "same-origin"


def test_the_intake_autosave_works_through_the_session_not_the_token(coordinator, depressed):
    path = intake_link(coordinator, depressed)
    phone = Client()
    phone.get(path)
    saved = phone.post("/r/intake/autosave/", {"weight_kg": "68", "version": 1})
    assert saved.status_code == 200
    assert screening.intake_for(depressed).draft["weight_kg"] == "68"
    stranger = Client().post("/r/intake/autosave/", {"weight_kg": "99", "version": 2})
    # gone, in words the page shows (htmx swaps a 410): the same for anyone without an open link
    assert stranger.status_code == 410 and b"Not saved: this link is closed" in stranger.content
    assert screening.intake_for(depressed).draft["weight_kg"] == "68"
    assert Client().post(path + "autosave/", {"weight_kg": "99", "version": 2}).status_code == 404


def test_the_token_free_page_shows_nothing_to_a_browser_that_did_not_open_the_link(
        coordinator, depressed):
    intake_link(coordinator, depressed)
    page = Client().get("/r/intake/")
    assert page.status_code == 404
    assert b"Ada" not in page.content and b"open the link in your message again" in page.content


def test_a_used_intake_link_shows_only_a_neutral_closed_page(coordinator, depressed):
    path = intake_link(coordinator, depressed)
    phone = Client()
    phone.get(path)
    done = phone.post("/r/intake/", {**GOOD_INTAKE, "version": 1})
    assert b"Your answers are with the clinic" in done.content
    for later in (phone.get(path), phone.get("/r/intake/"), Client().get(path)):
        assert later.status_code == 404 and b"This link is closed" in later.content
        assert b"Ada" not in later.content and b"Clinic A" not in later.content
    assert Client().get(path)["Referrer-Policy"] == "no-referrer"


def test_opening_a_questionnaire_link_moves_its_token_out_of_the_address(nurse, reachable):
    path = measure_link(nurse, reachable)
    phone = Client()
    opened = phone.get(path)
    assert opened.status_code == 302 and opened["Location"] == "/r/measure/"
    page = phone.get("/r/measure/")
    assert page.status_code == 200 and b'name="item_1"' in page.content
    assert token_of(path).encode() not in page.content
    assert page["Referrer-Policy"] == "same-origin"
    done = phone.post("/r/measure/", PHQ9_CALM)
    assert b"Your answers are with the clinic" in done.content
    assert Response.objects.get().source == "link"


def test_crisis_help_is_shown_at_submission_and_not_on_a_later_visit(nurse, reachable):
    stored_settings(reachable.clinic_id).update(crisis_text="Call 988 now.")
    path = measure_link(nurse, reachable)
    phone = Client()
    phone.get(path)
    answered = phone.post("/r/measure/", PHQ9_ITEM9)
    assert b"Call 988 now." in answered.content
    double_tap = phone.post("/r/measure/", PHQ9_ITEM9)  # the page the phone shows last
    assert b"Call 988 now." in double_tap.content and Response.objects.count() == 1
    for later in (phone.get(path), Client().get(path), phone.get("/r/measure/")):
        assert later.status_code == 404 and b"This link is closed" in later.content
        assert b"988" not in later.content and b"Ada" not in later.content


def test_an_expired_questionnaire_link_names_nobody(nurse, reachable):
    path = measure_link(nurse, reachable)
    PatientLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    page = Client().get(path, follow=True)
    assert page.status_code == 404 and b"This link is closed" in page.content
    assert b"Ada" not in page.content and b"Patient Health" not in page.content


def test_a_link_opened_in_another_browser_is_not_shared_with_the_first(coordinator, depressed):
    """Opening the link takes a fresh session, so a session id planted beforehand is useless."""
    path = intake_link(coordinator, depressed)
    phone = Client()
    phone.get("/r/intake/")
    planted = phone.cookies["sessionid"].value if "sessionid" in phone.cookies else None
    phone.get(path)
    assert phone.cookies["sessionid"].value != planted
    attacker = Client()
    if planted:
        attacker.cookies["sessionid"] = planted
    assert attacker.get("/r/intake/").status_code == 404


def test_a_set_password_link_leaves_the_address_and_sends_no_referrer(clinic_admin):
    added = login(clinic_admin).post("/clinic/users/add/", {
        "username": "rhea", "first_name": "Rhea", "last_name": "Rivers", "email": "",
        "role": "nurse"}, follow=True)
    link = re.search(r"/account/set-password/[^/]+/[^/\s<]+/", added.content.decode()).group(0)
    anonymous = Client()
    opened = anonymous.get(link)
    assert opened.status_code == 302 and opened["Location"].endswith("/set-password/")
    assert token_of(link) not in opened["Location"]
    assert opened["Referrer-Policy"] == "no-referrer"
    page = anonymous.get(opened["Location"])
    assert page.context["validlink"] and page["Referrer-Policy"] == "same-origin"  # a form
