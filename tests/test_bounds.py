"""Every value a person or a client can send has a bound, checked where it is saved; the
answer to an out-of-range value is a 4xx saying what is allowed, never a 500 (issue:
unbounded settings and inputs)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from kapclinic.clinical import screening as rules
from kapclinic.measures import actions, worker
from kapclinic.measures.models import MeasureRequest, MeasureSettings, Schedule
from kapclinic.patients.models import Patient
from kapclinic.screening.models import Intake
from tests.conftest import login, set_directly, stored_settings

HUGE = "99999999999999999999"


@pytest.fixture
def reachable(patient):
    set_directly(Patient.objects.filter(pk=patient.pk), email="ada@example.org", phone="555-0100")
    patient.refresh_from_db()
    return patient


def settings_form_data(client) -> dict:
    form = client.get("/clinic/measures/").context["form"]
    return {name: value for name, value in form.initial.items()
            if name in form.fields and value is not None}


# ---- measure settings -------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("link_days", HUGE), ("link_days", "99999999"), ("link_days", "0"),
    ("default_interval_days", "99999999"), ("default_interval_days", "0"),
    ("escalation_minutes", "99999999"),
])
def test_an_out_of_range_measure_setting_is_refused_with_the_allowed_range(
        clinic_admin, clinic_a, field, value):
    client = login(clinic_admin)
    data = settings_form_data(client)
    refused = client.post("/clinic/measures/", {**data, field: value})
    assert refused.status_code == 422
    message = refused.context["form"].errors[field][0]
    assert "between" in message.lower() or "at least" in message.lower() \
        or "at most" in message.lower() or "less than or equal" in message.lower() \
        or "greater than or equal" in message.lower()
    assert getattr(actions.settings_for(clinic_a), field) == getattr(MeasureSettings(), field)


def test_the_settings_form_shows_each_allowed_range(clinic_admin):
    page = login(clinic_admin).get("/clinic/measures/")
    html = page.content.decode()
    form = page.context["form"]
    for field in ("link_days", "default_interval_days", "escalation_minutes"):
        widget = form.fields[field].widget.attrs
        assert "min" in widget and "max" in widget, field
        assert f'max="{widget["max"]}"' in html
        assert "Allowed" in form.fields[field].help_text
    assert form.fields["crisis_text"].max_length


def test_the_model_refuses_an_out_of_range_setting_whoever_saves_it(clinic_a):
    stored = actions.settings_for(clinic_a)
    stored.link_days = 99999999
    with pytest.raises(ValidationError) as refused:
        stored.full_clean()
    assert "link_days" in refused.value.message_dict


def test_the_worker_survives_an_out_of_range_link_days_stored_before_the_bounds(
        prescriber, reachable, clinic_a):
    actions.start_default_schedule(patient=reachable, by=prescriber)
    stored_settings(clinic_a).update(link_days=99999999,
                                                           escalation_minutes=99999999)
    report = worker.run_once(now=timezone.now() + timedelta(minutes=1))
    assert report.sent == 2
    for request in MeasureRequest.objects.filter(patient=reachable):
        assert request.link.expires_at > timezone.now()  # never born expired


def test_a_link_days_of_zero_stored_before_the_bounds_still_sends_an_open_link(
        prescriber, reachable, clinic_a):
    MeasureSettings.objects.get_or_create(clinic=clinic_a)
    stored_settings(clinic_a).update(link_days=0)
    made = actions.send_request(patient=reachable, instrument="phq9", due_at=timezone.now(),
                                base_url="http://testserver/", by=prescriber)
    assert made.link.is_open


def test_send_a_link_with_a_huge_stored_link_days_is_not_a_server_error(
        nurse, reachable, clinic_a):
    MeasureSettings.objects.get_or_create(clinic=clinic_a)
    stored_settings(clinic_a).update(link_days=99999999)
    response = login(nurse).post(f"/patients/{reachable.pk}/measures/send/",
                                 {"instrument": "phq9"})
    assert response.status_code == 302
    assert MeasureRequest.objects.filter(patient=reachable).count() == 1


def test_a_schedule_with_a_huge_interval_does_not_stop_the_worker(prescriber, reachable):
    made = actions.start_default_schedule(patient=reachable, by=prescriber)
    Schedule.objects.filter(pk=made[0].pk).update(interval_days=99999999)
    report = worker.run_once(now=timezone.now() + timedelta(minutes=1))
    assert report.sent == 2


def test_two_admins_saving_the_measure_settings_the_second_is_told_and_overwrites_nothing(
        clinic_a, clinic_admin):
    first, second = login(clinic_admin), login(clinic_admin)
    first_data, second_data = settings_form_data(first), settings_form_data(second)
    assert first.post("/clinic/measures/", {**first_data, "escalation_minutes": 30}
                      ).status_code == 302
    lost = second.post("/clinic/measures/", {**second_data, "link_days": 5})
    assert lost.status_code == 409
    assert "changed" in lost.content.decode() and "reload" in lost.content.decode().lower()
    stored = actions.settings_for(clinic_a)
    assert (stored.escalation_minutes, stored.link_days) == (30, 3)


def test_the_outcome_rules_page_does_not_make_the_measure_settings_page_conflict(
        clinic_a, clinic_admin):
    client = login(clinic_admin)
    data = settings_form_data(client)
    # the outcome rules page keeps its own version (outcome_version)
    stored_settings(clinic_a).update(outcome_version=7)
    assert client.post("/clinic/measures/", {**data, "escalation_minutes": 45}).status_code == 302


def test_consent_text_has_a_length_limit_shown_on_the_form(clinic_admin):
    client = login(clinic_admin)
    form = client.get("/clinic/consent/").context["form"]
    assert form.fields["text"].max_length
    refused = client.post("/clinic/consent/", {"title": "Consent",
                                               "text": "x" * (form.fields["text"].max_length + 1)})
    assert refused.status_code == 422


# ---- intake ---------------------------------------------------------------------------

def intake_post(client, url, version, **fields):
    return client.post(url, {"version": str(version), **fields})


def test_adequate_antidepressant_trials_is_bounded_on_the_form_and_in_the_core(
        coordinator, patient):
    client = login(coordinator)
    response = intake_post(client, f"/patients/{patient.pk}/intake/", 1,
                           adequate_antidepressant_trials=HUGE)
    assert response.status_code == 422
    assert "adequate_antidepressant_trials" in response.context["form"].errors
    intake = {"date_of_birth": "1980-01-01", "sex_at_birth": "female",
              "adequate_antidepressant_trials": 99999999999999999999}
    with pytest.raises(rules.IntakeError) as refused:
        rules.evaluate(intake, drug="ketamine")
    assert refused.value.field == "adequate_antidepressant_trials"


def test_intake_autosave_by_link_keeps_only_known_fields(coordinator, patient):
    from kapclinic.patients import links
    from kapclinic.patients.models import PatientLink

    _, token = links.issue_link(patient=patient, purpose=PatientLink.Purpose.INTAKE,
                                by=coordinator)
    client = Client()
    page = client.get(f"/r/intake/{token}/", follow=True)
    url = page.context["autosave_url"]
    saved = client.post(url, {"version": "1", "goals": "sleep better",
                              **{f"junk_{i}": "x" * 100 for i in range(200)}})
    assert saved.status_code == 200
    draft = Intake.objects.get(patient=patient).draft
    assert draft.get("goals") == "sleep better"
    assert not any(key.startswith("junk_") for key in draft)
    too_big = client.post(url, {"version": "2", "goals": "x" * 200_000})
    assert too_big.status_code == 413
    assert Intake.objects.get(patient=patient).draft.get("goals") == "sleep better"


def test_intake_autosave_refuses_an_oversized_draft(coordinator, patient):
    client = login(coordinator)
    url = f"/patients/{patient.pk}/intake/autosave/"
    refused = client.post(url, {"version": "1", "goals": "x" * 200_000})
    assert refused.status_code == 413
    assert "too long" in refused.content.decode()
    assert Intake.objects.filter(patient=patient, version__gt=1).count() == 0


# ---- ids and bodies that do not fit ----------------------------------------------------

def test_switching_to_a_huge_clinic_id_is_refused_not_a_server_error(prescriber):
    client = login(prescriber)
    client.raise_request_exception = False
    response = client.post("/clinic/switch/", {"clinic": HUGE})
    assert response.status_code in (302, 400, 404, 422)


def test_a_huge_member_filter_on_the_patient_list_is_not_a_server_error(prescriber, patient):
    client = login(prescriber)
    client.raise_request_exception = False
    assert client.get("/patients/", {"member": HUGE}).status_code == 200
