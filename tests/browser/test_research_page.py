"""The researcher's export as a researcher meets it: make the de-identified data set, read what
was done to it, download it and its dictionary; the page usable with a screen reader or keyboard."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from kapclinic.accounts.models import Clinic
from kapclinic.accounts.roles import Role
from tests import factories
from tests.browser.helpers import axe_violations, log_in
from tests.conftest import PASSWORD, make_user, new_patient

pytestmark = pytest.mark.browser


@pytest.fixture
def measured_clinic(transactional_db):
    clinic = Clinic.objects.create(slug="clinic-a", name="Clinic A", time_zone="America/New_York")
    prescriber = make_user("alice", clinic, Role.PRESCRIBER, "Alice", "Prescott")
    make_user("rhea", clinic, Role.RESEARCHER, "Rhea", "Searcher")
    for n in range(6):
        patient = new_patient(clinic, prescriber, mrn=f"R-{n}", date_of_birth=date(1980, 1 + n, 1))
        factories.responses(patient, "phq9", [18, 12, 7], prescriber)
    return clinic


def test_a_researcher_makes_and_downloads_the_de_identified_data_set(page, console_errors, measured_clinic,
                                                                       screenshot_dir):
    log_in(page, "rhea", PASSWORD)
    page.get_by_role("link", name="Research data").click()
    expect(page.get_by_role("heading", name="Research data")).to_be_visible()
    page.get_by_label("CSV (a spreadsheet)").check()
    page.get_by_role("button", name="Make the data set").click()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("18 measures of 6 patients")
    expect(facts).to_contain_text("at least 5 required")
    with page.expect_download() as download:
        page.get_by_role("link", name="The data set (CSV)").click()
    saved = download.value
    assert saved.suggested_filename == "kapclinic-research-clinic-a.csv"
    text = Path(saved.path()).read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("clinic,patient,sex_at_birth,age_band")
    assert "R-0" not in text and "Lovelace" not in text  # no MRN, no name
    with page.expect_download() as dictionary:
        page.get_by_role("link", name="Data dictionary (CSV)").click()
    assert dictionary.value.suggested_filename == "kapclinic-research-clinic-a.dictionary.csv"
    page.screenshot(caret="initial", path=screenshot_dir / "research.png", full_page=True)
    assert axe_violations(page) == []
    assert console_errors == []
