"""The clinician's patient pages: list, search, chart, create and edit."""

from __future__ import annotations

import pytest
from django.test import Client

from kapclinic.patients.models import Condition, Patient, StatusChange
from tests.conftest import PASSWORD, login, new_patient

VALID = {
    "mrn": "A-0100", "given_name": "Grace", "family_name": "Hopper",
    "date_of_birth": "1970-12-09", "sex_at_birth": "female", "status": "referred",
}


def test_the_list_finds_patients_by_name_mrn_or_date_of_birth(clinic_a, prescriber):
    new_patient(clinic_a, mrn="A-1", given_name="Ada", family_name="Lovelace")
    new_patient(clinic_a, mrn="A-2", given_name="Alan", family_name="Turing",
                date_of_birth="1912-06-23")
    client = login(prescriber)

    def names(**query):
        return [p.family_name for p in client.get("/patients/", query).context["page"]]

    assert names(q="love") == ["Lovelace"]
    assert names(q="a-2") == ["Turing"]
    assert names(q="1912-06-23") == ["Turing"]
    assert names(q="alan turing") == ["Turing"]
    assert names(q="nobody") == []


def test_the_list_filters_by_status_and_care_team_member(clinic_a, prescriber, therapist):
    new_patient(clinic_a, mrn="A-1", family_name="Treated", status="in_treatment",
                therapist=therapist)
    new_patient(clinic_a, mrn="A-2", family_name="Waiting", status="referred")
    client = login(prescriber)
    by_status = client.get("/patients/", {"status": "in_treatment"}).context["page"]
    by_member = client.get("/patients/", {"member": therapist.pk}).context["page"]
    assert [p.family_name for p in by_status] == ["Treated"]
    assert [p.family_name for p in by_member] == ["Treated"]


def test_the_list_is_paginated(clinic_a, prescriber, settings):
    settings.KAPCLINIC_PAGE_SIZE = 2
    for n in range(5):
        new_patient(clinic_a, mrn=f"A-{n}", family_name=f"Family{n}")
    client = login(prescriber)
    first, last = client.get("/patients/"), client.get("/patients/", {"page": 3})
    assert first.context["page"].paginator.num_pages == 3
    assert [p.family_name for p in last.context["page"]] == ["Family4"]


def test_a_live_search_returns_only_the_results_fragment(clinic_a, prescriber):
    new_patient(clinic_a)
    response = login(prescriber).get("/patients/", {"q": "ada"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in response.content and b"Lovelace" in response.content


def test_the_list_never_shows_another_clinics_patients(prescriber, patient_b):
    response = login(prescriber).get("/patients/", {"q": patient_b.family_name})
    assert list(response.context["page"]) == []


def test_a_chart_shows_the_patient_and_is_never_cached(prescriber, patient):
    response = login(prescriber).get(f"/patients/{patient.pk}/")
    assert response.status_code == 200
    assert b"Lovelace" in response.content and patient.mrn.encode() in response.content
    assert response["Cache-Control"] == "no-store"


def test_another_clinics_chart_and_edit_form_do_not_exist(prescriber, patient_b):
    client = login(prescriber)
    assert client.get(f"/patients/{patient_b.pk}/").status_code == 404
    assert client.get(f"/patients/{patient_b.pk}/edit/").status_code == 404
    assert client.post(f"/patients/{patient_b.pk}/edit/", VALID).status_code == 404
    patient_b.refresh_from_db()
    assert patient_b.given_name == "Brook"


def test_adding_a_patient_saves_it_and_opens_the_chart(clinic_a, coordinator):
    response = login(coordinator).post("/patients/new/", VALID)
    patient = Patient.objects.get(mrn="A-0100")
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient.pk}/"
    assert patient.clinic == clinic_a and patient.created_by == coordinator
    assert StatusChange.objects.filter(patient=patient, to_status="referred").exists()


def test_an_invalid_form_marks_each_bad_field_and_saves_nothing(coordinator):
    bad = {**VALID, "given_name": "", "date_of_birth": "2999-01-01", "email": "not-an-email"}
    response = login(coordinator).post("/patients/new/", bad)
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert set(errors) == {"given_name", "date_of_birth", "email"}
    assert "future" in errors["date_of_birth"][0]
    assert b"Not saved" in response.content
    assert not Patient.objects.exists()


def test_an_mrn_already_used_in_the_clinic_is_refused_but_another_clinic_may_use_it(
        coordinator, patient, patient_b):
    client = login(coordinator)
    duplicate = client.post("/patients/new/", {**VALID, "mrn": patient.mrn.lower()})
    assert "already has this MRN" in duplicate.context["form"].errors["mrn"][0]
    reused = client.post("/patients/new/", {**VALID, "mrn": patient_b.mrn})
    assert reused.status_code == 302


def test_a_care_team_member_must_belong_to_the_clinic(coordinator, other_clinician):
    response = login(coordinator).post("/patients/new/",
                                       {**VALID, "prescriber": other_clinician.pk})
    assert "prescriber" in response.context["form"].errors


def test_editing_bumps_the_version_and_records_a_status_change(nurse, patient):
    response = login(nurse).post(f"/patients/{patient.pk}/edit/", {
        **VALID, "mrn": patient.mrn, "status": "discharged", "version": patient.version})
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.version, patient.status, patient.given_name) == (2, "discharged", "Grace")
    change = StatusChange.objects.filter(patient=patient).latest("id")
    assert (change.from_status, change.to_status, change.changed_by) == (
        "screening", "discharged", nurse)


def test_eligibility_is_set_only_by_the_prescribers_sign_off(nurse, patient):
    response = login(nurse).post(f"/patients/{patient.pk}/edit/", {
        **VALID, "mrn": patient.mrn, "status": "eligible", "version": patient.version})
    assert response.status_code == 422 and "sign-off" in response.context["form"].errors["status"][0]
    patient.refresh_from_db()
    assert patient.status == "screening"


def test_the_second_of_two_simultaneous_edits_gets_a_conflict_and_keeps_its_typing(
        nurse, prescriber, patient):
    first, second = login(nurse), login(prescriber)
    form = {**VALID, "mrn": patient.mrn, "version": 1}
    assert first.post(f"/patients/{patient.pk}/edit/", {**form, "phone": "555-1111"}).status_code == 302
    response = second.post(f"/patients/{patient.pk}/edit/", {**form, "phone": "555-2222"})
    assert response.status_code == 409
    assert b"changed by someone else" in response.content
    assert b'value="555-2222"' in response.content  # the loser's typing is on screen
    assert b'name="version" value="2"' in response.content
    patient.refresh_from_db()
    assert patient.phone == "555-1111"  # the first save was not overwritten
    retry = second.post(f"/patients/{patient.pk}/edit/", {**form, "phone": "555-2222", "version": 2})
    assert retry.status_code == 302


@pytest.mark.parametrize("role", ["nurse", "coordinator", "prescriber"])
def test_a_status_edit_cannot_put_an_ineligible_patient_into_treatment(request, clinic_a, role):
    user = request.getfixturevalue(role)
    patient = new_patient(clinic_a, status="ineligible")
    response = login(user).post(f"/patients/{patient.pk}/edit/", {
        **VALID, "mrn": patient.mrn, "status": "in_treatment", "version": patient.version})
    assert response.status_code == 422
    assert "cannot go from ineligible to in treatment" in response.content.decode()
    patient.refresh_from_db()
    assert patient.status == "ineligible" and patient.version == 2


def test_treatment_starts_only_after_an_eligible_sign_off_and_a_current_consent(clinic_a, nurse, prescriber):
    from kapclinic.screening import actions as screening

    patient = new_patient(clinic_a, status="eligible")  # eligible but never signed off
    client = login(nurse)

    def start(version):
        return client.post(f"/patients/{patient.pk}/edit/", {
            **VALID, "mrn": patient.mrn, "status": "in_treatment", "version": version})

    assert "sign-off of eligibility first" in start(patient.version).content.decode()
    screening.save_intake(patient=patient, draft={}, data={"history": {}},
                          expected_version=screening.intake_for(patient).version, by=nurse)
    decision = screening.evaluate_intake(patient=patient, drug="ketamine", route=None, by=prescriber)
    screening.sign_off(decision=decision, accept=False, final_status="eligible", reason="reviewed",
                       by=prescriber)
    patient.refresh_from_db()
    assert "current informed consent" in start(patient.version).content.decode()
    document = screening.publish_consent_document(clinic=clinic_a, title="KAP", text="...", by=prescriber)
    screening.sign_consent(patient=patient, document=document, signed_name="Ada Lovelace",
                           method="in_clinic", by=nurse)
    assert start(patient.version).status_code == 302
    patient.refresh_from_db()
    assert patient.status == "in_treatment"


def test_a_new_patient_starts_as_referred_or_in_screening(prescriber):
    response = login(prescriber).post("/patients/new/", {**VALID, "status": "in_treatment"})
    assert response.status_code == 422
    assert not Patient.objects.exists()


def test_conditions_are_added_from_the_table_and_corrected_not_deleted(prescriber, patient):
    client = login(prescriber)
    client.post(f"/patients/{patient.pk}/conditions/",
                {"code": "F33.2", "treatment_resistant": "on"})
    condition = Condition.objects.get(patient=patient)
    assert condition.display == "Major depressive disorder, recurrent severe without psychotic features"
    assert condition.treatment_resistant
    client.post(f"/patients/{patient.pk}/conditions/{condition.pk}/entered-in-error/",
                {"reason": "wrong patient"})
    condition.refresh_from_db()
    assert condition.entered_in_error_by == prescriber
    assert condition.entered_in_error_reason == "wrong patient"
    chart = client.get(f"/patients/{patient.pk}/")
    assert b"Entered in error: wrong patient" in chart.content


def test_only_a_depression_can_be_marked_treatment_resistant(prescriber, patient):
    response = login(prescriber).post(f"/patients/{patient.pk}/conditions/",
                                      {"code": "F41.1", "treatment_resistant": "on"}, follow=True)
    assert not Condition.objects.exists()
    assert "Only a major depressive disorder diagnosis" in response.content.decode()


@pytest.mark.parametrize(("written", "code", "display"), [
    ("F31.4", "F31.4", "Bipolar disorder, current episode depressed, severe, without psychotic features"),
    ("f200", "F20.0", "Paranoid schizophrenia"),
])
def test_any_icd_10_cm_code_can_be_added_not_only_the_suggested_ones(prescriber, patient, written, code,
                                                                      display):
    response = login(prescriber).post(f"/patients/{patient.pk}/conditions/", {"code": written}, follow=True)
    condition = Condition.objects.get(patient=patient)
    assert (condition.code, condition.display) == (code, display)
    assert f"Condition added: {code} {display}." in response.content.decode()


def test_a_code_that_is_not_in_icd_10_cm_is_refused_saying_how_to_write_one(prescriber, patient):
    response = login(prescriber).post(f"/patients/{patient.pk}/conditions/", {"code": "F33.99"}, follow=True)
    assert not Condition.objects.exists()
    assert "“F33.99” is not an ICD-10-CM code" in response.content.decode()
    assert "e.g. F33.1" in response.content.decode()


def test_a_heading_code_is_refused_with_codes_under_it(prescriber, patient):
    response = login(prescriber).post(f"/patients/{patient.pk}/conditions/", {"code": "F33"}, follow=True)
    assert not Condition.objects.exists()
    page = response.content.decode()
    assert "is a heading, not a diagnosis code: choose a code under it, e.g. F33.0" in page


def test_the_chart_suggests_the_common_diagnoses_as_the_code_is_typed(prescriber, patient):
    page = login(prescriber).get(f"/patients/{patient.pk}/").content.decode()
    assert 'list="diagnosis-codes"' in page
    assert '<option value="F33.1">F33.1 Major depressive disorder, recurrent, moderate</option>' in page


def test_a_wrong_login_gets_one_message_that_reveals_nothing(prescriber):
    client = Client()
    wrong_password = client.post("/login/", {"username": "alice", "password": "nope"})
    no_such_user = client.post("/login/", {"username": "nobody", "password": PASSWORD})
    for response in (wrong_password, no_such_user):
        assert response.context["form"].non_field_errors() == [
            "That username and password do not match an account. Try again."]


def test_repeated_wrong_logins_lock_the_account_for_a_while(prescriber):
    client = Client()
    for _ in range(5):
        client.post("/login/", {"username": "alice", "password": "nope"})
    locked = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert locked.status_code == 429 and b"Too many attempts" in locked.content


def test_the_home_page_sends_each_role_where_it_works(prescriber, clinic_admin):
    assert login(prescriber).get("/")["Location"] == "/patients/"
    assert login(clinic_admin).get("/")["Location"] == "/audit/"


def test_a_person_in_two_clinics_switches_between_them(prescriber, clinic_b, patient, patient_b):
    from kapclinic.accounts.models import Membership

    Membership.objects.create(user=prescriber, clinic=clinic_b, role="therapist")
    client = login(prescriber)
    assert client.get(f"/patients/{patient_b.pk}/").status_code == 404
    client.post("/clinic/switch/", {"clinic": clinic_b.pk})
    assert client.get(f"/patients/{patient_b.pk}/").status_code == 200
    assert client.get(f"/patients/{patient.pk}/").status_code == 404
    assert client.get(f"/patients/{patient_b.pk}/edit/").status_code == 403  # a therapist there


def test_a_portal_login_is_granted_once_through_its_action_and_audited(prescriber, patient):
    from kapclinic.audit.models import AuditEntry
    from kapclinic.patients.actions import grant_portal_login

    user = grant_portal_login(patient=patient, username="ada-portal", by=prescriber)
    patient.refresh_from_db()
    assert patient.user == user and not user.has_usable_password()
    assert user.memberships.get().role == "patient"
    assert AuditEntry.objects.filter(object_type="patient", object_id=str(patient.pk),
                                     detail_json__contains="portal_login").exists()
    with pytest.raises(ValueError, match="already has a portal login"):
        grant_portal_login(patient=patient, username="ada-again", by=prescriber)
