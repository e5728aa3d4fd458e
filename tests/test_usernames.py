"""New usernames are plain lowercase ASCII, so two accounts never look alike and every new
account can log in as it is shown; a name like an existing one is refused without saying
whose it is. Usernames made before keep working."""

from __future__ import annotations

import pytest

from kapclinic.accounts.models import User
from tests.conftest import PASSWORD, login, make_user

NEW = {"first_name": "Eve", "last_name": "Evans", "email": "", "role": "nurse"}


def add(client, username):
    return client.post("/clinic/users/add/", {**NEW, "username": username}, follow=True)


def username_error(page) -> str:
    assert page.status_code == 422, "the username was accepted"
    return page.context["add_form"].errors["username"][0]


def test_a_new_username_is_saved_lowercase_and_can_log_in_as_shown(clinic_admin):
    page = add(login(clinic_admin), "Eve.Evans")
    assert b"their username is clinic-a.eve.evans" in page.content
    user = User.objects.get(username="clinic-a.eve.evans")
    user.set_password(PASSWORD)
    user.save()
    from django.test import Client

    assert Client().post("/login/", {"username": "clinic-a.eve.evans",
                                     "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize("look_alike", ["Eve", "EVE", "ｅve", "ｅｖｅ"])
def test_a_case_variant_or_fullwidth_look_alike_of_a_username_is_refused(clinic_admin,
                                                                         look_alike):
    client = login(clinic_admin)
    add(client, "eve")
    username_error(add(client, look_alike))  # "already works here": it is the same name
    assert list(User.objects.filter(username__startswith="clinic-a.").exclude(
        username="clinic-a.eve").values_list("username", flat=True)) == []


def test_a_username_with_letters_outside_plain_ascii_is_refused_saying_what_is_allowed(
        clinic_admin):
    error = username_error(add(login(clinic_admin), "еve"))  # Cyrillic е
    assert "a-z" in error and "0-9" in error
    assert not User.objects.filter(username__endswith="ve").exclude(
        username="adam").exists()


def test_a_name_like_an_old_mixed_case_account_is_refused_with_the_same_message(
        clinic_admin, clinic_a, clinic_b):
    make_user("clinic-a.Zed", clinic_b, "nurse")  # made before the rule, not one of ours
    make_user("clinic-a.pat", clinic_a, "patient")  # our own patient's portal login
    client = login(clinic_admin)
    like_old = username_error(add(client, "zed"))
    like_ours = username_error(add(client, "PAT"))
    assert like_old.replace("zed", "X") == like_ours.replace("pat", "X")
    assert "Clinic B" not in like_old and "clinic-b" not in like_old


def test_the_form_says_which_characters_a_username_may_hold(clinic_admin):
    page = login(clinic_admin).get("/clinic/users/")
    assert "lowercase letters a-z, digits 0-9" in page.content.decode()


def test_an_existing_mixed_case_username_still_logs_in(clinic_a):
    from django.test import Client

    make_user("Legacy.Name", clinic_a, "nurse")
    assert Client().post("/login/", {"username": "Legacy.Name",
                                     "password": PASSWORD}).status_code == 302


def test_a_patients_portal_username_follows_the_same_rule(coordinator, clinic_admin, patient):
    add(login(clinic_admin), "ada")
    client = login(coordinator)
    url = f"/patients/{patient.pk}/portal-login/"
    like = client.post(url, {"username": "ＡＤＡ"})
    assert like.status_code == 422 and "choose another" in like.content.decode()
    cyrillic = client.post(url, {"username": "аda"})  # Cyrillic а
    assert cyrillic.status_code == 422 and "a-z" in cyrillic.content.decode()
    done = client.post(url, {"username": "Ada.Portal"}, follow=True)
    assert b"can now log in to the portal as clinic-a.ada.portal" in done.content
