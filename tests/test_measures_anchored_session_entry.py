"""Issue 12: CADSS-6 entered during a dosing session (the session page links to the clinic
entry page with ?session=<id>), kept with that session only when the patient's own dose is
recorded in it, and the session's peaks read back in one query."""

from __future__ import annotations

import pytest

from kapclinic.measures.models import Response
from kapclinic.platform import extensions as ext
from kapclinic.treatment import actions as treatment
from tests.conftest import login, new_patient
from tests.treatment.helpers import cleared, eligible_and_consented, minutes_ago

pytestmark = pytest.mark.django_db

# CADSS-6 items 1, 2, 6, 7, 15, 22 (clinical.md 1.1), each rated 0-4
CADSS6 = {"item_1": "2", "item_2": "1", "item_6": "0", "item_7": "3", "item_15": "1",
          "item_22": "0"}  # total 7


def cadss6(**overrides) -> dict[str, str]:
    return {**CADSS6, **overrides}


@pytest.fixture
def dosed(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    session = cleared(patient, prescriber, nurse, start=60)
    treatment.record_administration(session, at=minutes_ago(40), by=nurse, dose_mg_per_kg=0.5)
    return session


def enter_path(patient, session_id=None) -> str:
    path = f"/patients/{patient.pk}/measures/new/cadss6/"
    return path if session_id is None else f"{path}?session={session_id}"


def test_the_cadss6_form_opened_from_a_session_says_how_long_after_the_dose_it_is(
        dosed, nurse, patient):
    page = login(nurse).get(enter_path(patient, dosed.pk))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Taken in the dosing session" in text and "40 min after the dose of" in text
    assert f'action="/patients/{patient.pk}/measures/new/cadss6/?session={dosed.pk}"' in text


def test_a_cadss6_entered_in_the_session_is_kept_with_it_and_returns_to_the_session_page(
        dosed, nurse, patient):
    saved = login(nurse).post(enter_path(patient, dosed.pk), CADSS6)
    assert saved.status_code == 302 and saved["Location"] == f"/sessions/{dosed.pk}/"
    stored = Response.objects.get()
    assert (stored.instrument, stored.total, stored.session_id) == ("cadss6", 7.0, dosed.pk)


def test_the_session_peaks_are_each_instruments_highest_total_in_one_query(
        dosed, nurse, patient, django_assert_max_num_queries):
    client = login(nurse)
    client.post(enter_path(patient, dosed.pk), CADSS6)
    client.post(enter_path(patient, dosed.pk), cadss6(item_22="4"))  # 11: the peak
    client.post(enter_path(patient), cadss6(item_6="4"))  # not in the session
    with django_assert_max_num_queries(1):
        peaks = ext.session_peaks([dosed.pk, dosed.pk + 1000])
    assert peaks == {dosed.pk: {"cadss6": 11.0}}


def test_a_cadss6_marked_entered_in_error_no_longer_counts_as_the_peak(dosed, nurse, patient):
    client = login(nurse)
    client.post(enter_path(patient, dosed.pk), CADSS6)
    client.post(enter_path(patient, dosed.pk), cadss6(item_22="4"))
    wrong = Response.objects.get(total=11)
    client.post(f"/patients/{patient.pk}/measures/responses/{wrong.pk}/error/",
                {"reason": "Entered for the wrong item"})
    assert ext.session_peaks([dosed.pk]) == {dosed.pk: {"cadss6": 7.0}}


def test_another_patients_session_is_refused_naming_the_session_and_nothing_is_saved(
        dosed, nurse, clinic_a, prescriber):
    other = new_patient(clinic_a, prescriber, mrn="A-0002", given_name="Grace")
    refused = login(nurse).post(enter_path(other, dosed.pk), CADSS6)
    assert refused.status_code == 422
    [problem] = refused.context["form"].non_field_errors()
    assert problem.startswith(f"Session: no dose is recorded for this patient in session {dosed.pk}")
    assert not Response.objects.exists()
    assert ext.session_peaks([dosed.pk]) == {}


def test_a_session_with_no_dose_yet_is_not_linked_and_the_form_saves_without_it(
        patient, prescriber, nurse):
    # pre-dose: the session exists but its dose is not recorded, so nothing proves it is
    # this patient's; the answer is saved unlinked and placed by its time against the dose
    eligible_and_consented(patient, prescriber)
    session = cleared(patient, prescriber, nurse, start=20)
    client = login(nurse)
    page = client.get(enter_path(patient, session.pk))
    text = page.content.decode()
    assert page.status_code == 200 and "cannot be linked to it" in text
    assert f'action="/patients/{patient.pk}/measures/new/cadss6/"' in text
    assert client.post(enter_path(patient), CADSS6).status_code == 302
    assert Response.objects.get().session_id is None


def test_a_session_that_is_not_a_number_is_refused_naming_the_session(dosed, nurse, patient):
    refused = login(nurse).post(f"/patients/{patient.pk}/measures/new/cadss6/?session=12x",
                                CADSS6)
    assert refused.status_code == 422
    assert refused.context["form"].non_field_errors() == [
        "Session: '12x' is not a session number."]
    assert not Response.objects.exists()


def test_another_clinic_cannot_enter_a_questionnaire_for_the_patient_by_its_session(
        dosed, other_clinician, patient):
    assert login(other_clinician).post(enter_path(patient, dosed.pk), CADSS6).status_code == 404
    assert not Response.objects.exists()
