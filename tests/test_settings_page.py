"""The clinic's settings pages sit behind one "Settings" link in the menu: the menu keeps the
pages a role works from, and the Settings page lists the settings the role may change, each
with what it sets."""

from __future__ import annotations

import re

from tests.conftest import login


def menu_labels(page: str) -> list[str]:
    nav = page.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    return [re.sub(r"<[^>]+>|\d+$", "", label).strip() for label in re.findall(r"<a [^>]*>(.*?)</a>", nav)]


def test_the_admins_menu_keeps_the_settings_pages_behind_one_link(clinic_admin):
    client = login(clinic_admin)
    labels = menu_labels(client.get("/audit/").content.decode())
    assert labels[-1] == "Settings"
    for setting in ("Users", "Session settings", "Monitors", "Consent text", "Note settings"):
        assert setting not in labels
    page = client.get("/clinic/settings/").content.decode()
    for label, url in (("Users", "/clinic/users/"), ("Session settings", "/clinic/sessions/"),
                       ("Monitors", "/monitors/")):
        assert re.search(rf'<a href="{url}"><strong>{label}</strong></a>', page), label
    assert "Staff accounts, their roles" in page


def test_the_settings_link_is_marked_current_on_a_settings_page(clinic_admin):
    page = login(clinic_admin).get("/clinic/users/").content.decode()
    assert '<a href="/clinic/settings/" aria-current="page">Settings</a>' in page


def test_each_role_sees_only_the_settings_it_may_change(prescriber):
    page = login(prescriber).get("/clinic/settings/").content.decode()
    assert "Users" not in page.split("<main", 1)[1]


def test_a_role_that_changes_no_setting_gets_no_link_and_a_page_that_says_so(nurse):
    client = login(nurse)
    assert "Settings" not in menu_labels(client.get("/sessions/board/").content.decode())
    page = client.get("/clinic/settings/").content.decode()
    assert "Your role changes none of the clinic's settings" in page
    assert "/clinic/users/" not in page
