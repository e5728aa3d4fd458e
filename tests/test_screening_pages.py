"""Intake, eligibility decision, prescriber sign-off and informed consent in the app (issue 4)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from kapclinic.accounts.models import Membership, User
from kapclinic.accounts.roles import Role
from kapclinic.audit.models import AuditEntry, ImmutableError
from kapclinic.patients.actions import add_condition
from kapclinic.patients.models import Patient
from kapclinic.screening import actions
from kapclinic.screening.models import EligibilityDecision, IntakeRevision, SignOff
from tests.conftest import PASSWORD, login, new_patient, set_directly

NO = "no"
CLEAN_HISTORY = {f"history_{key}": NO for key in (
    "psychosis", "mania", "aneurysmal_vascular_disease", "arteriovenous_malformation",
    "intracerebral_hemorrhage", "hypertension", "uncontrolled_hypertension", "cardiovascular_disease",
    "raised_intracranial_pressure", "raised_intraocular_pressure", "seizures", "liver_disease",
    "bladder_symptoms", "sleep_apnea", "ketamine_misuse", "substance_use_disorder",
    "suicide_attempt_past_year", "acute_suicidal_ideation_or_behaviour")}
GOOD_INTAKE = {
    "weight_kg": "70", "height_cm": "170", "sbp_mmhg": "128", "dbp_mmhg": "82",
    "heart_rate_bpm": "72", "spo2_pct": "98", "adequate_antidepressant_trials": "2",
    "audit_total": "3", "pregnant": NO, "breastfeeding": NO, "medications": "sertraline",
    "no_hypersensitivities": "on", "goals": "Feel like myself again", **CLEAN_HISTORY,
}


@pytest.fixture
def depressed(patient, prescriber):
    add_condition(patient=patient, code="F33.2", treatment_resistant=True, by=prescriber)
    return patient


def submit(client, patient, **changes):
    version = actions.intake_for(patient).version
    return client.post(f"/patients/{patient.pk}/intake/", {**GOOD_INTAKE, **changes,
                                                            "version": version})


def evaluate(client, patient, drug="ketamine", route="iv-infusion"):
    return client.post(f"/patients/{patient.pk}/screening/evaluate/", {"drug": drug, "route": route})


def test_a_complete_intake_is_saved_with_the_record_demographics_and_diagnoses(coordinator,
                                                                                depressed):
    response = submit(login(coordinator), depressed)
    assert response.status_code == 302
    data = actions.intake_for(depressed).data
    assert data["date_of_birth"] == "1985-12-10" and data["diagnoses"] == ["F33.2"]
    assert data["history"]["psychosis"] is False and data["medications"] == ["sertraline"]
    assert data["hypersensitivities"] == []
    assert "goals" not in data  # narrative stays in the draft for the prescriber


@pytest.mark.parametrize("field, value, message", [
    ("weight_kg", "700", "weight_kg"),
    ("weight_kg", "0", "weight_kg"),
    ("sbp_mmhg", "20", "sbp_mmhg"),
    ("dbp_mmhg", "140", "dbp_mmhg"),  # diastolic above systolic (128)
])
def test_impossible_values_are_refused_naming_the_field_and_the_typing_is_kept(
        coordinator, depressed, field, value, message):
    response = submit(login(coordinator), depressed, **{field: value})
    assert response.status_code == 422
    assert field in response.context["form"].errors
    intake = actions.intake_for(depressed)
    assert intake.data is None and intake.draft[field] == value  # kept as a draft


def test_autosave_keeps_a_half_typed_intake_and_each_save_is_a_revision(coordinator, depressed):
    client = login(coordinator)
    first = client.post(f"/patients/{depressed.pk}/intake/autosave/",
                        {"weight_kg": "7", "version": 1}, HTTP_HX_REQUEST="true")
    second = client.post(f"/patients/{depressed.pk}/intake/autosave/",
                         {"weight_kg": "72", "version": 2}, HTTP_HX_REQUEST="true")
    assert first.status_code == second.status_code == 200
    assert b'value="3"' in second.content  # the next version, swapped into the form
    assert [r.draft["weight_kg"] for r in IntakeRevision.objects.order_by("version")] == ["7", "72"]
    assert actions.intake_for(depressed).draft["weight_kg"] == "72"


def test_an_autosave_from_a_stale_window_is_refused_and_overwrites_nothing(coordinator, depressed):
    client = login(coordinator)
    client.post(f"/patients/{depressed.pk}/intake/autosave/", {"weight_kg": "72", "version": 1})
    stale = client.post(f"/patients/{depressed.pk}/intake/autosave/",
                        {"weight_kg": "99", "version": 1})
    assert stale.status_code == 409
    assert actions.intake_for(depressed).draft["weight_kg"] == "72"


def test_the_decision_is_stored_with_its_rule_set_and_shown_with_citations(coordinator, depressed):
    client = login(coordinator)
    submit(client, depressed)
    evaluate(client, depressed)
    decision = EligibilityDecision.objects.get()
    assert decision.status == "eligible" and decision.ruleset_version
    assert AuditEntry.objects.filter(object_type="eligibility_decision").exists()
    page = client.get(f"/patients/{depressed.pk}/screening/")
    assert b"Eligible" in page.content and decision.ruleset_version.encode() in page.content


def test_a_fired_rule_is_shown_with_its_message_and_source(coordinator, depressed):
    client = login(coordinator)
    submit(client, depressed, history_psychosis="yes")
    evaluate(client, depressed)
    decision = EligibilityDecision.objects.get()
    assert decision.status in ("not_eligible", "needs_review")
    fired = decision.result["rules"]
    assert fired and all(rule["citation"] for rule in fired)
    page = client.get(f"/patients/{depressed.pk}/screening/").content.decode()
    assert fired[0]["message"] in page.replace("&#x27;", "'").replace("&quot;", '"')


def test_an_unanswered_question_makes_the_decision_need_review(coordinator, depressed):
    client = login(coordinator)
    submit(client, depressed, history_psychosis="")
    evaluate(client, depressed)
    decision = EligibilityDecision.objects.get()
    assert decision.status == "needs_review"
    assert any("psychosis" in field for field in decision.result["missing"])
    page = client.get(f"/patients/{depressed.pk}/screening/").content.decode()
    assert "<strong>Missing information:</strong> Psychosis (ever)</p>" in page  # the question, not its id


def test_a_ketamine_allergy_written_any_way_excludes_and_the_page_says_how_it_was_read(coordinator,
                                                                                       depressed):
    client = login(coordinator)
    submit(client, depressed, no_hypersensitivities="", hypersensitivities="Ketalar 10 mg/mL (rash)")
    evaluate(client, depressed)
    decision = EligibilityDecision.objects.get()
    assert decision.status == "not_eligible"
    assert "ketamine_hypersensitivity" in {rule["id"] for rule in decision.result["rules"]}
    page = client.get(f"/patients/{depressed.pk}/screening/").content.decode()
    assert "Allergies as read:</strong> Ketalar 10 mg/mL (rash) → ketamine (racemic)" in page
    assert "Ketalar label" in page and "clinical.md" not in page


def test_rules_that_are_clinic_policy_say_so_in_plain_words(coordinator, depressed):
    client = login(coordinator)
    submit(client, depressed, history_bladder_symptoms="yes")
    evaluate(client, depressed)
    page = client.get(f"/patients/{depressed.pk}/screening/").content.decode()
    assert ">clinic policy</span>" in page and ">policy</span>" not in page


def test_re_evaluating_an_unchanged_intake_gives_the_identical_decision(coordinator, depressed):
    client = login(coordinator)
    submit(client, depressed, medications="sertraline\nlorazepam")
    evaluate(client, depressed)
    evaluate(client, depressed)
    first, second = EligibilityDecision.objects.order_by("id")
    assert first.result == second.result and first.status == second.status


def test_the_prescriber_accepts_and_only_then_the_status_moves(prescriber, coordinator, depressed):
    client = login(coordinator)
    submit(client, depressed)
    evaluate(client, depressed)
    depressed.refresh_from_db()
    assert depressed.status == "screening"
    decision = EligibilityDecision.objects.get()
    assert client.post(f"/patients/{depressed.pk}/screening/{decision.pk}/sign-off/",
                       {"decision": "accept"}).status_code == 403  # coordinators cannot sign
    login(prescriber).post(f"/patients/{depressed.pk}/screening/{decision.pk}/sign-off/",
                           {"decision": "accept"})
    depressed.refresh_from_db()
    signoff = SignOff.objects.get()
    assert (signoff.outcome, signoff.final_status, depressed.status) == (
        "accepted", "eligible", "eligible")
    assert signoff.ruleset_version == decision.ruleset_version


def test_an_override_needs_a_written_reason(prescriber, depressed):
    client = login(prescriber)
    submit(client, depressed, history_psychosis="yes")
    evaluate(client, depressed)
    decision = EligibilityDecision.objects.get()
    url = f"/patients/{depressed.pk}/screening/{decision.pk}/sign-off/"
    client.post(url, {"decision": "eligible"})
    assert not SignOff.objects.exists()
    client.post(url, {"decision": "eligible", "reason": "Remote single episode, reviewed"})
    signoff = SignOff.objects.get()
    assert signoff.outcome == "overridden" and signoff.reason.startswith("Remote")


def test_a_changed_intake_after_sign_off_marks_it_stale(prescriber, depressed):
    client = login(prescriber)
    submit(client, depressed)
    evaluate(client, depressed)
    decision = EligibilityDecision.objects.get()
    client.post(f"/patients/{depressed.pk}/screening/{decision.pk}/sign-off/", {"decision": "accept"})
    assert not actions.is_stale(decision)
    submit(client, depressed, weight_kg="80")
    assert actions.is_stale(decision)
    assert b"stale: the intake changed since" in client.get(
        f"/patients/{depressed.pk}/screening/").content


def test_decisions_and_sign_offs_cannot_be_changed(prescriber, depressed):
    client = login(prescriber)
    submit(client, depressed)
    evaluate(client, depressed)
    decision = EligibilityDecision.objects.get()
    decision.status = "not_eligible"
    with pytest.raises(ImmutableError):
        decision.save()


@pytest.fixture
def document(clinic_a):
    return actions.publish_consent_document(clinic=clinic_a, title="Consent to KAP",
                                            text="Ketamine may cause dissociation.", by=None)


def test_consent_documents_are_versioned_and_a_new_version_needs_a_new_signature(
        clinic_admin, nurse, patient, document):
    login(nurse).post(f"/patients/{patient.pk}/consent/sign/", {
        "document": document.pk, "signed_name": "Ada Lovelace", "agree": "on"})
    assert actions.has_current_consent(patient)
    login(clinic_admin).post("/clinic/consent/", {"title": "Consent to KAP", "text": "New text."})
    assert actions.current_document(patient.clinic_id).version == 2
    assert not actions.has_current_consent(patient)
    assert actions.has_current_consent(patient, at=timezone.now() - timedelta(microseconds=1)) is False


def test_consent_records_name_time_and_address_and_withdrawal_shows_at_once(nurse, patient,
                                                                          document):
    client = login(nurse)
    client.post(f"/patients/{patient.pk}/consent/sign/", {
        "document": document.pk, "signed_name": "Ada Lovelace", "agree": "on"},
        REMOTE_ADDR="10.9.8.7")
    consent = patient.consents.get()
    assert (consent.signed_name, consent.client_addr, consent.method) == (
        "Ada Lovelace", "10.9.8.7", "in_clinic")
    signed_at = consent.signed_at
    client.post(f"/patients/{patient.pk}/consent/{consent.pk}/withdraw/", {"reason": "Changed mind"})
    assert not actions.has_current_consent(patient)
    assert actions.has_current_consent(patient, at=signed_at + timedelta(microseconds=1))
    assert b"Withdrawn" in client.get(f"/patients/{patient.pk}/screening/").content


def test_a_minor_needs_a_guardian_to_co_sign(clinic_a, nurse, document):
    minor = new_patient(clinic_a, mrn="A-KID", date_of_birth=date.today() - timedelta(days=365 * 16))
    client = login(nurse)
    client.post(f"/patients/{minor.pk}/consent/sign/", {
        "document": document.pk, "signed_name": "Kid", "agree": "on"})
    assert not actions.has_current_consent(minor)
    client.post(f"/patients/{minor.pk}/consent/sign/", {
        "document": document.pk, "signed_name": "Kid", "guardian_name": "Parent", "agree": "on"})
    assert actions.has_current_consent(minor)


def test_the_patient_signs_in_their_portal_and_sees_only_their_own_record(clinic_a, patient,
                                                                           document):
    user = User.objects.create_user("ada", password=PASSWORD)
    Membership.objects.create(user=user, clinic=clinic_a, role=Role.PATIENT)
    set_directly(Patient.objects.filter(pk=patient.pk), user=user)
    client = login(user)
    assert client.get("/")["Location"] == "/portal/"
    page = client.get("/portal/")
    assert b"Ketamine may cause dissociation." in page.content
    client.post("/portal/consent/sign/", {"document": document.pk, "signed_name": "Ada Lovelace",
                                          "agree": "on"})
    consent = patient.consents.get()
    assert consent.method == "portal" and consent.recorded_by == user
    assert client.get(f"/patients/{patient.pk}/").status_code == 403


def test_another_clinics_screening_pages_do_not_exist(prescriber, patient_b):
    client = login(prescriber)
    for url in (f"/patients/{patient_b.pk}/intake/", f"/patients/{patient_b.pk}/screening/"):
        assert client.get(url).status_code == 404


def test_the_patient_fills_the_intake_through_a_single_use_link(coordinator, depressed):
    from django.test import Client

    page = login(coordinator).post(f"/patients/{depressed.pk}/intake/link/")
    url = page.context["url"]
    path = url.split("testserver", 1)[1]
    anonymous = Client()
    assert anonymous.get(path, follow=True).status_code == 200
    anonymous.post("/r/intake/autosave/", {"weight_kg": "68", "version": 1})
    assert actions.intake_for(depressed).draft["weight_kg"] == "68"
    done = anonymous.post("/r/intake/", {**GOOD_INTAKE, "version": 2})
    assert b"Your answers are with the clinic" in done.content
    assert actions.intake_for(depressed).data["weight_kg"] == 70
    assert anonymous.get(path).status_code == 404  # single use
    entry = AuditEntry.objects.filter(object_type="intake", action="update").latest("seq")
    assert entry.actor_username.startswith("patient-link-") and entry.patient_id == depressed.pk


def test_a_link_token_is_stored_only_hashed_and_an_expired_link_is_closed(coordinator, depressed):
    from kapclinic.patients.models import PatientLink

    page = login(coordinator).post(f"/patients/{depressed.pk}/intake/link/")
    token = page.context["url"].rstrip("/").rsplit("/", 1)[1]
    link = PatientLink.objects.get()
    assert token not in link.token_hash
    PatientLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    from django.test import Client

    assert Client().get(f"/r/intake/{token}/").status_code == 404


def test_an_intake_conflict_keeps_the_typing_and_overwrites_nothing(nurse, coordinator, depressed):
    login(nurse).post(f"/patients/{depressed.pk}/intake/autosave/", {"weight_kg": "70",
                                                                     "version": 1})
    stale = login(coordinator).post(f"/patients/{depressed.pk}/intake/",
                                    {**GOOD_INTAKE, "weight_kg": "55", "version": 1})
    assert stale.status_code == 409
    assert b'value="55"' in stale.content  # the coordinator's typing is on screen
    assert b'name="version" value="1"' in stale.content  # not the fresh version
    assert actions.intake_for(depressed).draft["weight_kg"] == "70"


def test_a_save_without_a_version_is_refused(coordinator, depressed):
    response = login(coordinator).post(f"/patients/{depressed.pk}/intake/autosave/",
                                       {"weight_kg": "70", "version": "²"})
    assert response.status_code == 409
    assert actions.intake_for(depressed).draft == {}


def test_a_double_submitted_sign_off_or_consent_is_recorded_once(prescriber, depressed, document):
    client = login(prescriber)
    submit(client, depressed)
    evaluate(client, depressed)
    decision = EligibilityDecision.objects.get()
    url = f"/patients/{depressed.pk}/screening/{decision.pk}/sign-off/"
    client.post(url, {"decision": "accept"})
    again = client.post(url, {"decision": "accept"}, follow=True)
    assert again.status_code == 200 and SignOff.objects.count() == 1
    sign = {"document": document.pk, "signed_name": "Ada Lovelace", "agree": "on"}
    client.post(f"/patients/{depressed.pk}/consent/sign/", sign)
    client.post(f"/patients/{depressed.pk}/consent/sign/", sign)
    assert depressed.consents.count() == 1


def test_a_consent_withdrawn_twice_says_so_the_second_time(nurse, patient, document):
    client = login(nurse)
    client.post(f"/patients/{patient.pk}/consent/sign/", {
        "document": document.pk, "signed_name": "Ada Lovelace", "agree": "on"})
    consent = patient.consents.get()
    path = f"/patients/{patient.pk}/consent/{consent.pk}/withdraw/"
    first = client.post(path, {"reason": "Changed mind"}, follow=True)
    assert b"Consent withdrawn." in first.content
    again = client.post(path, {"reason": "Double click"}, follow=True)
    assert b"already been withdrawn" in again.content
    consent.refresh_from_db()
    assert consent.withdrawal_reason == "Changed mind"


def test_an_intake_link_autosave_shows_the_clinics_time(coordinator, depressed):
    from django.test import Client

    page = login(coordinator).post(f"/patients/{depressed.pk}/intake/link/")
    path = page.context["url"].split("testserver", 1)[1]
    phone = Client()
    phone.get(path)
    saved = phone.post("/r/intake/autosave/", {"weight_kg": "68", "version": 1})
    local = timezone.localtime(actions.intake_for(depressed).updated_at, depressed.clinic.zone)
    assert f"Draft saved {local:%H:%M:%S}".encode() in saved.content


def test_a_label_contraindication_cannot_be_signed_off_as_eligible(prescriber, coordinator, depressed):
    client = login(coordinator)
    submit(client, depressed, history_arteriovenous_malformation="yes")
    evaluate(client, depressed)
    decision = EligibilityDecision.objects.get()
    assert decision.status == "not_eligible"
    doctor = login(prescriber)
    page = doctor.get(f"/patients/{depressed.pk}/screening/").content.decode()
    assert "label contraindication" in page and "cannot be overridden to eligible" in page
    response = doctor.post(f"/patients/{depressed.pk}/screening/{decision.pk}/sign-off/",
                           {"decision": "eligible", "reason": "benefit outweighs"}, follow=True)
    assert "which no override can make eligible" in response.content.decode()
    assert not SignOff.objects.exists()
    depressed.refresh_from_db()
    assert depressed.status != "eligible"


def test_a_yes_that_no_rule_weighs_is_shown_to_the_prescriber(coordinator, depressed):
    client = login(coordinator)
    submit(client, depressed, history_seizures="yes")
    evaluate(client, depressed)
    page = client.get(f"/patients/{depressed.pk}/screening/").content.decode()
    assert "no screening rule weighs it; the prescriber does):</strong> Seizures" in page


def test_the_decision_names_the_drug_and_route_as_a_clinician_reads_them(coordinator, depressed):
    client = login(coordinator)
    submit(client, depressed)
    evaluate(client, depressed, drug="esketamine", route="intranasal")
    page = client.get(f"/patients/{depressed.pk}/screening/").content.decode()
    assert "for Esketamine (Spravato) (Intranasal)" in page and "(intranasal)" not in page
