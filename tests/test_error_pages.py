"""Pages a person meets when something stops them: they say what happened and what to do."""

from __future__ import annotations

from django.contrib.staticfiles import finders
from django.test import Client

from kapclinic.accounts import staff
from kapclinic.accounts.models import Membership
from tests.conftest import PASSWORD, login


def test_every_page_links_a_favicon_that_exists(clinic_admin):
    page = login(clinic_admin).get("/clinic/users/")
    assert b'rel="icon"' in page.content
    assert finders.find("kapclinic/favicon.svg")


def test_a_form_sent_from_a_stale_page_says_to_reload_and_try_again(nurse):
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse)
    refused = client.post("/clinic/switch/", {"clinic": 1})
    assert refused.status_code == 403
    text = refused.content.decode()
    assert "reload the page and try again" in text
    assert 'class="topbar"' in text  # the site's own page, not Django's yellow one
    assert "CSRF" not in text


def test_a_user_whose_access_ended_is_told_so_with_the_date(clinic_admin, nurse, clinic_a):
    staff.end_access(membership=nurse.memberships.get(), by=clinic_admin)
    Membership.all_objects.filter(user=nurse).update(ended_at="2026-03-05T15:00:00Z")
    client = Client()
    client.post("/login/", {"username": "nina", "password": PASSWORD})
    page = client.get("/", follow=True)
    assert page.status_code == 403
    assert "Your access to Clinic A ended on 5 March 2026" in page.content.decode()
    assert "ask the clinic's administrator" in page.content.decode()


def test_someone_who_never_worked_here_still_gets_the_plain_refusal(clinic_a, nurse):
    page = login(nurse).get("/audit/")
    assert page.status_code == 403 and b"ended on" not in page.content
