"""One request cannot exhaust the server: work bounds and rate limits on expensive requests.

The outside tester's request: a population of 10,000 over 336 h at 0.5-minute steps (13 s,
3.5 GB in one worker) with a read-scope token.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from kapclinic.accounts.tokens import issue_token
from kapclinic.clinical.pk import inputs as pk_limits
from kapclinic.platform import ratelimit
from tests.conftest import login, make_user

ATTACK = {"model": "domino", "route": "iv-infusion", "dose_mg": 35, "weight_kg": 70,
          "duration_min": 40, "hours": 336, "step_min": 0.5, "population": 10_000, "seed": 1}
SMALL = {**ATTACK, "hours": 2, "step_min": 1, "population": 50}


@pytest.fixture(autouse=True)
def a_still_clock(monkeypatch):
    """The limits count per minute: a test that crossed a minute boundary would start a fresh
    window halfway and see no 429 (it failed now and then in long runs). The window test moves
    this clock itself."""
    monkeypatch.setattr(ratelimit, "_clock", lambda: 1_800_000_030.0)


def api_client(user, address: str = "198.51.100.7") -> Client:
    _, secret = issue_token(user=user, name="pk", scope="read")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}", REMOTE_ADDR=address)


def simulate(client: Client, body: dict):
    return client.post("/api/v1/pk/simulate", json.dumps(body), content_type="application/json")


def test_the_testers_population_request_is_refused_with_a_problem_naming_the_limit(prescriber):
    response = simulate(api_client(prescriber), ATTACK)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["field"] == "population"
    assert error["message"] == (
        f"10,000 patients × 40,321 time points is 403,210,000; at most "
        f"{pk_limits.MAX_WORK:,} are allowed: shorten the time span, widen the step or "
        "simulate fewer patients")


def test_a_single_curve_with_too_fine_a_step_is_refused_saying_how_to_fix_it(prescriber):
    response = simulate(api_client(prescriber), {**ATTACK, "population": None, "seed": None,
                                                 "step_min": 0.001})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "step_min" and "shorten the time span or widen the step" in \
        error["message"]


def test_a_user_gets_a_few_population_simulations_a_minute_then_429_with_retry_after(
        prescriber, settings):
    allowed = settings.KAPCLINIC_RATE_LIMITS["pk-population"]["per_user"]
    client = api_client(prescriber)
    for _ in range(allowed):
        assert simulate(client, SMALL).status_code == 200
    refused = simulate(client, SMALL)
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert 1 <= int(refused["Retry-After"]) <= 60
    body = refused.json()
    assert body["status"] == 429 and body["title"] == "Too many requests"
    assert f"at most {allowed} a minute per user" in body["detail"]
    assert "Try again in" in body["detail"]


def test_the_limit_is_per_user_and_one_users_simulations_never_block_another(
        prescriber, clinic_a, settings):
    allowed = settings.KAPCLINIC_RATE_LIMITS["pk-population"]["per_user"]
    alice = api_client(prescriber, "198.51.100.7")
    for _ in range(allowed + 1):
        simulate(alice, SMALL)
    assert simulate(alice, SMALL).status_code == 429
    colleague = make_user("pat", clinic_a, "prescriber")
    assert simulate(api_client(colleague, "203.0.113.9"), SMALL).status_code == 200


def test_a_single_curve_is_not_counted_against_the_population_limit(prescriber, settings):
    allowed = settings.KAPCLINIC_RATE_LIMITS["pk-population"]["per_user"]
    client = api_client(prescriber)
    for _ in range(allowed + 2):
        assert simulate(client, {**SMALL, "population": None, "seed": None}).status_code == 200


def test_many_users_from_one_address_are_limited_together(clinic_a, settings):
    settings.KAPCLINIC_RATE_LIMITS = {"pk-population": {
        "per_user": 5, "per_address": 3, "seconds": 60, "what": "population simulations"}}
    users = [make_user(f"user{i}", clinic_a, "prescriber") for i in range(4)]
    codes = [simulate(api_client(user, "192.0.2.1"), SMALL).status_code for user in users]
    assert codes == [200, 200, 200, 429]
    assert simulate(api_client(users[3], "192.0.2.2"), SMALL).status_code == 200


def test_the_window_ends_and_population_simulations_are_allowed_again(prescriber, settings,
                                                                       monkeypatch):
    allowed = settings.KAPCLINIC_RATE_LIMITS["pk-population"]["per_user"]
    now = [1_800_000_000.0]
    monkeypatch.setattr(ratelimit, "_clock", lambda: now[0])
    client = api_client(prescriber)
    for _ in range(allowed):
        simulate(client, SMALL)
    refused = simulate(client, SMALL)
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    now[0] += 60
    assert simulate(client, SMALL).status_code == 200


def test_the_browser_session_is_limited_like_a_token(prescriber, settings):
    allowed = settings.KAPCLINIC_RATE_LIMITS["pk-population"]["per_user"]
    client = login(prescriber)
    codes = [simulate(client, SMALL).status_code for _ in range(allowed + 1)]
    assert codes[-1] == 429 and set(codes[:-1]) == {200}


@pytest.mark.parametrize("hours", ["336", "48", "0"])
def test_the_dose_explorer_page_only_offers_its_fixed_windows(prescriber, hours):
    response = login(prescriber).get("/dosing/explorer/", {
        "drug": "ketamine", "route": "iv-infusion", "dose": "0.5", "dose_unit": "mg_per_kg",
        "weight_kg": "70", "duration_min": "40", "hours": hours})
    assert response.status_code == 422
    assert response.context["exploration"] is None
    assert "hours" in response.context["form"].errors


def test_a_patient_search_of_thousands_of_words_is_refused_not_a_server_error(prescriber):
    response = api_client(prescriber).get("/api/v1/patients", {"q": "ada " * 5000})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "q"
    assert error["message"].startswith("a search has at most 100 characters (this one has")


def test_the_patient_list_page_refuses_an_overlong_search_with_a_message(prescriber):
    response = login(prescriber).get("/patients/", {"q": "ada " * 5000})
    assert response.status_code == 200
    assert "at most 100 characters" in response.content.decode()


def test_a_normal_patient_search_still_works(prescriber, clinic_a):
    from tests.conftest import new_patient
    new_patient(clinic_a, by=prescriber)
    body = api_client(prescriber).get("/api/v1/patients", {"q": "Ada Lovelace"}).json()
    assert body["count"] == 1


def test_scoring_answers_for_more_items_than_any_questionnaire_has_is_refused_at_once(
        prescriber):
    body = json.dumps({"answers": {f"item{i}": 1 for i in range(100_000)}})
    response = api_client(prescriber).post("/api/v1/instruments/phq9/score", body,
                                           content_type="application/json")
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "answers"
    assert "at most 200 answers" in error["message"]


def test_behind_a_trusted_proxy_each_person_is_counted_by_their_own_address(clinic_a, settings):
    import ipaddress
    settings.KAPCLINIC_TRUSTED_PROXIES = (ipaddress.ip_network("10.0.0.5/32"),)
    settings.KAPCLINIC_RATE_LIMITS = {"pk-population": {
        "per_user": 5, "per_address": 1, "seconds": 60, "what": "population simulations"}}
    first, second = (make_user(name, clinic_a, "prescriber") for name in ("one", "two"))
    via_proxy = {"HTTP_X_FORWARDED_FOR": "192.0.2.10"}
    _, first_secret = issue_token(user=first, name="pk", scope="read")
    assert simulate(Client(HTTP_AUTHORIZATION=f"Bearer {first_secret}", REMOTE_ADDR="10.0.0.5",
                           **via_proxy), SMALL).status_code == 200
    _, secret = issue_token(user=second, name="pk", scope="read")
    other = Client(HTTP_AUTHORIZATION=f"Bearer {secret}", REMOTE_ADDR="10.0.0.5",
                   HTTP_X_FORWARDED_FOR="192.0.2.11")
    assert simulate(other, SMALL).status_code == 200
    same = Client(HTTP_AUTHORIZATION=f"Bearer {secret}", REMOTE_ADDR="10.0.0.5", **via_proxy)
    assert simulate(same, SMALL).status_code == 429
