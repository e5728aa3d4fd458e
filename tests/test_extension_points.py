"""A new app adds itself to the shared pages by registering from its AppConfig.ready(): its
chart section and timeline events, menu item and badge, portal section, landing, worker steps
and patient hooks, without any edit to the registry, the web shell or another app.

Each test registers a made-up app ("tally") the way a real one would, and takes it out again.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import IntegrityError

from kapclinic.accounts.permissions import Action
from kapclinic.patients import actions
from kapclinic.patients.models import Condition
from kapclinic.patients.timeline import TimelineEvent
from kapclinic.platform import extensions as ext
from tests.conftest import login

TEMPLATES = Path(__file__).parent / "templates"


@pytest.fixture
def tally_app(settings):
    """Leaves the registry as it found it; lets the made-up app's templates be found."""
    engine = copy.deepcopy(settings.TEMPLATES)
    engine[0]["DIRS"] = [*engine[0].get("DIRS", []), TEMPLATES]
    settings.TEMPLATES = engine
    with ext.registrations_undone():
        yield


def tally_section(patient):
    return SimpleNamespace(note=f"Tally for {patient.given_name}",
                           at=datetime(2026, 3, 4, 12, tzinfo=UTC))


def tally_events(patient, data):
    return [TimelineEvent(data.at, "tally", "Tally counted", data.note)]


def test_a_new_apps_chart_section_and_its_timeline_events_show_on_the_chart(
        tally_app, patient, prescriber):
    ext.register(ext.ChartSection("tally", "tests/_tally_section.html", tally_section,
                                  Action.PATIENT_VIEW, order=20, events=tally_events))
    page = login(prescriber).get(f"/patients/{patient.pk}/").content.decode()
    assert "Tally for" in page
    assert "Tally counted" in page  # on the timeline, from the data the section loaded
    # sections keep their order: screening (10), tally (20), measures (30)
    assert (page.index("Screening and consent") < page.index('id="tally-h"')
            < page.index('id="measures-h"'))


def test_a_chart_section_is_shown_only_to_the_roles_that_may_do_its_action(
        tally_app, patient, prescriber, nurse):
    ext.register(ext.ChartSection("tally", "tests/_tally_section.html", tally_section,
                                  Action.SCREENING_SIGNOFF, events=tally_events))
    assert "Tally counted" in login(prescriber).get(f"/patients/{patient.pk}/").content.decode()
    hidden = login(nurse).get(f"/patients/{patient.pk}/").content.decode()
    assert "Tally for" not in hidden
    assert "Tally counted" not in hidden  # nor its timeline events


def test_a_new_apps_menu_item_shows_with_its_badge_to_the_roles_allowed(
        tally_app, prescriber, clinic_admin):
    ext.register(ext.NavItem("tally", "Tallies", "patient-list", Action.PATIENT_LIST,
                             order=15, badge=lambda membership: 7))
    page = login(prescriber).get("/patients/").content.decode()
    assert 'Tallies<span class="nav-count">7</span>' in page
    assert "Tallies" not in login(clinic_admin).get("/audit/").content.decode()


def test_a_new_apps_portal_section_shows_on_the_patients_own_portal(tally_app, patient,
                                                                      prescriber):
    actions.grant_portal_login(patient=patient, username="clinic-a.ada",
                               password_hash="unusable", by=prescriber)
    ext.register(ext.PortalSection("tally", "tests/_tally_portal.html",
                                   lambda patient: {"note": f"{patient.given_name}'s tally"},
                                   order=5))
    patient.refresh_from_db()
    page = login(patient.user).get("/portal/").content.decode()
    assert "Your tally" in page
    assert page.index("Your tally") < page.index("Questionnaires to answer")


def test_a_landing_sends_a_role_to_the_first_page_it_may_use(tally_app, clinic_admin):
    ext.register(ext.Landing("tally", "dose-explorer", Action.AUDIT_VIEW, order=1))
    assert login(clinic_admin).get("/").url == "/dosing/explorer/"


def test_a_landing_for_some_roles_leaves_the_others_where_they_started(
        tally_app, nurse, prescriber):
    from kapclinic.accounts.roles import Role

    ext.register(ext.Landing("tally", "dose-explorer", Action.PATIENT_LIST, order=1,
                             roles=frozenset({Role.NURSE})))
    assert login(nurse).get("/").url == "/dosing/explorer/"
    assert login(prescriber).get("/").url == "/patients/"


def test_a_patient_hook_runs_in_the_transaction_that_changed_the_patient(
        tally_app, patient, prescriber):
    def refuse(changed):
        raise IntegrityError("the tally app could not keep up")

    ext.register(ext.PatientHook("tally", condition_changed=refuse))
    with pytest.raises(IntegrityError):
        actions.add_condition(patient=patient, code="F33.2", by=prescriber)
    # the hook failed, so the diagnosis was not half-written
    assert not Condition.objects.filter(patient=patient, code="F33.2").exists()


def test_a_status_hook_hears_the_move_with_who_made_it(tally_app, patient, prescriber):
    heard = []
    ext.register(ext.PatientHook("tally", status_changed=lambda p, old, new, by:
                                 heard.append((old, new, by.username))))
    actions.change_status(patient=patient, status="discharged", by=prescriber)
    assert heard == [(patient.status, "discharged", "alice")]


def test_one_clinics_failing_worker_step_never_stops_another_clinics(tally_app, caplog):
    done = []

    def step(clinic_id, now):
        if clinic_id == 1:
            raise ValueError("clinic 1 has a bad setting")
        done.append(clinic_id)
        return 1

    with ext.registrations_undone(ext.WorkerStep), caplog.at_level(logging.ERROR):
        ext.register(ext.WorkerStep("tally", "counting tallies", step))  # the only step
        report = ext.run_worker_steps([1, 2, 3], datetime(2026, 3, 4, tzinfo=UTC))
    assert done == [2, 3]
    assert report.done == {"counting tallies": 2}
    assert report.failed == ["counting tallies for clinic 1"]
    assert "counting tallies failed for clinic 1" in caplog.text


def test_registering_the_same_key_again_replaces_the_entry(tally_app):
    ext.register(ext.NavItem("tally", "Tallies", "patient-list", Action.PATIENT_LIST))
    ext.register(ext.NavItem("tally", "Tally sheets", "patient-list", Action.PATIENT_LIST))
    labels = [item.label for item in ext.nav_items()]
    assert "Tally sheets" in labels and "Tallies" not in labels


def test_each_demo_loader_draws_from_its_own_random_stream():
    # another loader drawing numbers first does not change what this one draws
    first = ext.demo_stream(5, "harbor", "measures").random()
    greedy = ext.demo_stream(5, "harbor", "tally")
    [greedy.random() for _ in range(100)]
    assert ext.demo_stream(5, "harbor", "measures").random() == first
    assert ext.demo_stream(5, "cedar", "measures").random() != first
