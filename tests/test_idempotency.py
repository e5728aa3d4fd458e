"""A write sent twice (double click, network retry, API retry) is stored once (issue: double
submission). API writes take an Idempotency-Key; page forms carry a one-time token."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from kapclinic.alerts.models import Alert
from kapclinic.api import api
from kapclinic.measures import actions, worker
from kapclinic.measures.models import Response
from kapclinic.patients.models import Condition, Patient
from kapclinic.platform import idempotency
from kapclinic.platform.models import IdempotencyRecord
from kapclinic.screening.models import Consent
from tests.conftest import login, set_directly
from tests.outbox import delivered
from tests.test_api import Api, problem_fields

PHQ9_ITEM9 = {"1": 2, "2": 2, "3": 0, "4": 0, "5": 0, "6": 0, "7": 0, "8": 0, "9": 1}
PHQ9_FORM_ITEM9 = {f"item_{k}": str(v) for k, v in PHQ9_ITEM9.items()}
NEW = {"mrn": "A-0300", "given_name": "Rosalind", "family_name": "Franklin",
       "date_of_birth": "1960-07-25", "sex_at_birth": "female"}


def post(api_client: Api, path: str, body: dict, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return api_client.client.post(f"/api/v1{path}", data=json.dumps(body),
                                  content_type="application/json",
                                  HTTP_AUTHORIZATION=f"Bearer {api_client.secret}", **headers)


# ---- the API ------------------------------------------------------------------------------

def test_a_retried_questionnaire_with_the_same_key_is_stored_once_and_alerts_once(nurse,
                                                                                   patient):
    client = Api(nurse)
    body = {"instrument": "phq9", "answers": PHQ9_ITEM9}
    first = post(client, f"/patients/{patient.pk}/responses", body, key="retry-1")
    again = post(client, f"/patients/{patient.pk}/responses", body, key="retry-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again[idempotency.REPLAYED_HEADER] == "true"
    assert idempotency.REPLAYED_HEADER not in first
    assert Response.objects.filter(patient=patient).count() == 1
    assert Alert.objects.filter(patient=patient).count() == 1


def test_without_a_key_each_post_is_a_new_write(nurse, patient):
    client = Api(nurse)
    body = {"instrument": "phq9", "answers": PHQ9_ITEM9}
    post(client, f"/patients/{patient.pk}/responses", body)
    post(client, f"/patients/{patient.pk}/responses", body)
    assert Response.objects.filter(patient=patient).count() == 2


def test_the_same_key_with_a_different_body_is_a_422_problem(nurse, patient):
    client = Api(nurse)
    post(client, f"/patients/{patient.pk}/responses",
         {"instrument": "phq9", "answers": PHQ9_ITEM9}, key="k-2")
    other = post(client, f"/patients/{patient.pk}/responses",
                 {"instrument": "phq9", "answers": {**PHQ9_ITEM9, "9": 0}}, key="k-2")
    assert other.status_code == 422
    assert "Idempotency-Key" in problem_fields(other)
    assert Response.objects.filter(patient=patient).count() == 1


def test_a_key_is_per_user(nurse, prescriber, patient):
    body = {"instrument": "phq9", "answers": PHQ9_ITEM9}
    post(Api(nurse), f"/patients/{patient.pk}/responses", body, key="shared")
    theirs = post(Api(prescriber), f"/patients/{patient.pk}/responses", body, key="shared")
    assert theirs.status_code == 201 and idempotency.REPLAYED_HEADER not in theirs
    assert Response.objects.filter(patient=patient).count() == 2


def test_a_repeat_while_the_first_is_still_running_is_a_409_and_writes_nothing(nurse,
                                                                                patient):
    client = Api(nurse)
    body = {"instrument": "phq9", "answers": PHQ9_ITEM9}
    raw = json.dumps(body).encode()
    # the first request has claimed the key (its row is in) and not finished yet
    path = f"/api/v1/patients/{patient.pk}/responses"
    first, won = idempotency.claim(
        scope=f"user:{nurse.pk}", key="slow", kind="api", method="POST", path=path,
        fingerprint=idempotency._digest("POST", path, str(patient.clinic_id), raw))
    assert won
    repeat = post(client, f"/patients/{patient.pk}/responses", body, key="slow")
    assert repeat.status_code == 409 and repeat["Retry-After"]
    problem_fields(repeat)
    assert Response.objects.filter(patient=patient).count() == 0


def test_only_one_of_two_concurrent_claims_of_a_key_wins(nurse):
    args = {"scope": f"user:{nurse.pk}", "key": "race", "kind": "api", "method": "POST",
            "path": "/api/v1/patients", "fingerprint": "f" * 64}
    _, first = idempotency.claim(**args)
    _, second = idempotency.claim(**args)
    assert (first, second) == (True, False)
    assert IdempotencyRecord.objects.filter(key="race").count() == 1


def test_a_refused_request_does_not_use_up_its_key(nurse, patient):
    client = Api(nurse)
    refused = post(client, f"/patients/{patient.pk}/responses",
                   {"instrument": "phq9", "answers": {"1": 9}}, key="fix-and-retry")
    assert refused.status_code == 422
    fixed = post(client, f"/patients/{patient.pk}/responses",
                 {"instrument": "phq9", "answers": PHQ9_ITEM9}, key="fix-and-retry")
    assert fixed.status_code == 201


def test_a_retried_patient_create_and_patch_are_applied_once(coordinator, prescriber):
    client = Api(coordinator)
    first = post(client, "/patients", NEW, key="create-1")
    again = post(client, "/patients", NEW, key="create-1")
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert Patient.objects.filter(mrn="A-0300").count() == 1
    patient_id = first.json()["id"]
    patch = {"version": 1, "phone": "555-0101"}
    kwargs = {"data": json.dumps(patch), "content_type": "application/json",
              "HTTP_AUTHORIZATION": f"Bearer {client.secret}", "HTTP_IDEMPOTENCY_KEY": "patch-1"}
    one = client.client.patch(f"/api/v1/patients/{patient_id}", **kwargs)
    two = client.client.patch(f"/api/v1/patients/{patient_id}", **kwargs)
    assert one.status_code == two.status_code == 200  # not a 409 for the retry's old version
    assert two[idempotency.REPLAYED_HEADER] == "true"


def test_a_malformed_key_is_a_422_problem(nurse, patient):
    refused = post(Api(nurse), f"/patients/{patient.pk}/responses",
                   {"instrument": "phq9", "answers": PHQ9_ITEM9}, key="x" * 300)
    assert refused.status_code == 422
    assert "Idempotency-Key" in problem_fields(refused)


def test_keys_are_forgotten_after_24_hours(nurse, patient):
    client = Api(nurse)
    body = {"instrument": "phq9", "answers": PHQ9_ITEM9}
    post(client, f"/patients/{patient.pk}/responses", body, key="old")
    later = timezone.now() + timedelta(hours=24, minutes=1)
    worker.run_once(now=later)
    assert not IdempotencyRecord.objects.filter(key="old").exists()


def test_every_api_write_takes_an_idempotency_key():
    """The rule is installed on the API, so every write a later issue adds gets it too."""
    writes = 0
    for router in api._get_bound_routers():
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                if set(operation.methods) & idempotency.WRITE_METHODS:
                    writes += 1
                    assert getattr(operation.view_func, "idempotent", False), (
                        f"{operation.methods} {operation.view_func.__name__} takes no "
                        "Idempotency-Key")
    assert writes >= 3


# ---- pages ----------------------------------------------------------------------------------

def token_from(page) -> str:
    html = page.content.decode()
    marker = f'name="{idempotency.FORM_FIELD}" value="'
    assert marker in html, "the form carries no one-time token"
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def test_a_double_clicked_questionnaire_in_clinic_is_stored_once_with_one_alert(nurse,
                                                                                 patient):
    client = login(nurse)
    url = f"/patients/{patient.pk}/measures/new/phq9/"
    token = token_from(client.get(url))
    data = {**PHQ9_FORM_ITEM9, idempotency.FORM_FIELD: token}
    first = client.post(url, data)
    second = client.post(url, data, follow=True)
    assert first.status_code == 302
    assert second.redirect_chain[0][0] == first["Location"]
    assert "saved once" in second.content.decode()
    assert Response.objects.filter(patient=patient).count() == 1
    assert Alert.objects.filter(patient=patient).count() == 1


def test_a_new_form_gets_a_new_token_so_a_second_questionnaire_is_saved(nurse, patient):
    client = login(nurse)
    url = f"/patients/{patient.pk}/measures/new/phq9/"
    for _ in range(2):
        client.post(url, {**PHQ9_FORM_ITEM9, idempotency.FORM_FIELD: token_from(client.get(url))})
    assert Response.objects.filter(patient=patient).count() == 2


def test_a_refused_form_keeps_its_token_usable(nurse, patient):
    client = login(nurse)
    url = f"/patients/{patient.pk}/measures/new/phq9/"
    token = token_from(client.get(url))
    refused = client.post(url, {"item_1": "1", idempotency.FORM_FIELD: token})
    assert refused.status_code == 422
    assert client.post(url, {**PHQ9_FORM_ITEM9, idempotency.FORM_FIELD: token}).status_code == 302
    assert Response.objects.filter(patient=patient).count() == 1


def test_a_repeat_while_the_first_is_still_saving_says_so_and_writes_nothing(
        nurse, patient, monkeypatch):
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.0)
    client = login(nurse)
    url = f"/patients/{patient.pk}/measures/new/phq9/"
    token = token_from(client.get(url))
    idempotency.claim(scope=f"user:{nurse.pk}", key=token, kind="form", method="POST",
                      path=url, fingerprint=idempotency._digest("POST", url))
    repeat = client.post(url, {**PHQ9_FORM_ITEM9, idempotency.FORM_FIELD: token})
    assert repeat.status_code == 409
    assert "still being saved" in repeat.content.decode()
    assert Response.objects.filter(patient=patient).count() == 0


def test_a_double_clicked_acknowledgement_is_recorded_once(nurse, patient):
    actions.record_response(patient=patient, instrument="phq9", answers=PHQ9_ITEM9,
                            source="clinic", by=nurse)
    alert = Alert.objects.get()
    client = login(nurse)
    token = token_from(client.get("/alerts/"))
    data = {"note": "Called the patient; safe, plan agreed.", idempotency.FORM_FIELD: token}
    client.post(f"/alerts/{alert.pk}/acknowledge/", data)
    again = client.post(f"/alerts/{alert.pk}/acknowledge/", data, follow=True)
    html = again.content.decode()
    assert "saved once" in html and "acknowledged this alert" not in html
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse


def test_a_double_clicked_condition_is_added_once(prescriber, patient):
    client = login(prescriber)
    token = token_from(client.get(f"/patients/{patient.pk}/"))
    data = {"code": "F33.2", "note": "", idempotency.FORM_FIELD: token}
    client.post(f"/patients/{patient.pk}/conditions/", data)
    client.post(f"/patients/{patient.pk}/conditions/", data)
    assert Condition.objects.filter(patient=patient, code="F33.2").count() == 1


def test_a_double_clicked_new_patient_is_created_once(coordinator):
    client = login(coordinator)
    token = token_from(client.get("/patients/new/"))
    data = {**NEW, "status": "referred", idempotency.FORM_FIELD: token}
    first = client.post("/patients/new/", data)
    second = client.post("/patients/new/", data)
    assert first.status_code == 302 and second["Location"] == first["Location"]
    assert Patient.objects.filter(mrn="A-0300").count() == 1


def test_the_screening_page_forms_carry_one_time_tokens(prescriber, patient):
    """Sign-off and consent signing: the forms send a token (their double submits are
    also refused by the actions: one sign-off per decision, one current consent)."""
    from kapclinic.screening.actions import publish_consent_document

    publish_consent_document(clinic=patient.clinic, title="Consent", text="I agree.",
                             by=prescriber)
    client = login(prescriber)
    page = client.get(f"/patients/{patient.pk}/screening/")
    token = token_from(page)
    document = page.context["document"]
    data = {"document": document.pk, "signed_name": "Ada Lovelace", "agree": "on",
            idempotency.FORM_FIELD: token}
    client.post(f"/patients/{patient.pk}/consent/sign/", data)
    client.post(f"/patients/{patient.pk}/consent/sign/", data)
    assert Consent.objects.filter(patient=patient).count() == 1


@pytest.mark.parametrize("template", [
    "measures/enter.html", "alerts/alerts.html", "measures/self_report.html",
    "patients/chart.html", "patients/form.html", "screening/screening.html",
])
def test_the_forms_of_each_guarded_page_send_a_token(template):
    from django.template.loader import get_template

    source = get_template(template).template.source
    assert "{% form_token %}" in source, template


def test_a_double_tapped_self_report_link_is_stored_once_and_shows_the_first_page(
        nurse, patient):
    from django.test import Client

    set_directly(Patient.objects.filter(pk=patient.pk), email="ada@example.org")
    patient.refresh_from_db()
    made = actions.send_request(patient=patient, instrument="phq9", due_at=timezone.now(),
                                base_url="http://testserver/", by=nurse)
    url = next(word for word in delivered()[-1].body.split() if "/r/measure/" in word)
    phone = Client()
    page = phone.get(url.replace("http://testserver", ""), follow=True)
    token = token_from(page)
    data = {**PHQ9_FORM_ITEM9, idempotency.FORM_FIELD: token}
    action = page.context["action"]
    first = phone.post(action, data)
    second = phone.post(action, data)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content and second[idempotency.REPLAYED_HEADER] == "true"
    assert Response.objects.filter(link=made.link).count() == 1
    assert Alert.objects.filter(patient=patient).count() == 1
