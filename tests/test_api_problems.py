"""Everything under /api answers RFC 9457 problem details, with the status that says what
went wrong: 401 for a bad token (before any CSRF check), 404 for no such endpoint, 405 for a
wrong method, 413 for a body over the limit, 422 for an id that cannot exist."""

from __future__ import annotations

import json

from django.test import Client

from tests.test_api import Api, problem_fields

HUGE = "99999999999999999999"


def test_a_huge_member_id_on_the_api_is_a_422_problem(prescriber, patient):
    api = Api(prescriber)
    api.client.raise_request_exception = False
    response = api.call("GET", f"/patients?member_id={HUGE}")
    assert response.status_code == 422
    assert "member_id" in problem_fields(response)


def test_a_huge_path_id_on_the_api_is_a_404_problem(prescriber, patient):
    api = Api(prescriber)
    api.client.raise_request_exception = False
    response = api.call("GET", f"/patients/{HUGE}")
    assert response.status_code in (404, 422)
    problem_fields(response)


def test_a_3_mb_json_body_is_a_413_problem_naming_the_limit(prescriber):
    api = Api(prescriber)
    api.client.raise_request_exception = False
    body = json.dumps({"mrn": "A-9", "given_name": "x" * 3_000_000})
    response = api.call("POST", "/patients", raw=body)
    assert response.status_code == 413
    problem_fields(response)
    assert "MB" in response.json()["detail"]


# ---- everything under /api answers problem details ---------------------------------------

def test_an_unknown_api_path_is_a_404_problem(prescriber):
    api = Api(prescriber)
    for path in ("/no-such-thing", "/patients/1/nothing"):
        response = api.call("GET", path)
        assert response.status_code == 404
        problem_fields(response)
    outside = Client().get("/api/v2/patients")
    assert outside.status_code == 404
    problem_fields(outside)


def test_a_wrong_method_on_the_api_is_a_405_problem_listing_the_allowed_ones(prescriber):
    response = Api(prescriber).call("DELETE", "/me")
    assert response.status_code == 405
    problem_fields(response)
    assert "GET" in response["Allow"] and "GET" in response.json()["detail"]


def test_a_bad_bearer_token_on_a_post_is_401_not_a_csrf_failure(prescriber):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/v1/patients", data="{}", content_type="application/json",
                           HTTP_AUTHORIZATION="Bearer kap_not-a-token")
    assert response.status_code == 401
    problem_fields(response)
    assert "CSRF" not in response.content.decode()
    anonymous = client.post("/api/v1/patients", data="{}", content_type="application/json")
    assert anonymous.status_code == 401
    problem_fields(anonymous)


def test_a_logged_in_browser_post_without_the_csrf_token_is_still_refused(prescriber):
    client = Client(enforce_csrf_checks=True)
    client.force_login(prescriber)
    response = client.post("/api/v1/patients", data="{}", content_type="application/json")
    assert response.status_code == 403
    problem_fields(response)
