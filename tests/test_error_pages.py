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


def test_a_page_part_asked_for_after_the_login_ended_says_so_in_place_not_with_the_login_page(client):
    """An outside review: an autosave after the session expired followed the redirect and
    swapped the whole login page into the note's status line."""
    answer = client.post("/notes/drafts/1/autosave/", {"version": "1"}, HTTP_HX_REQUEST="true",
                         HTTP_HX_CURRENT_URL="http://testserver/notes/drafts/1/")
    assert answer.status_code == 401
    text = answer.content.decode()
    assert "your login has ended" in text and 'href="/login/?next=%2Fnotes%2Fdrafts%2F1%2F"' in text
    assert "<form" not in text  # not the login page
    plain = client.post("/notes/drafts/1/autosave/", {"version": "1"})
    assert plain.status_code == 302 and plain["Location"].startswith("/login/")
