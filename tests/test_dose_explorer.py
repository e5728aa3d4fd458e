"""The dose explorer page and the PK simulation API (issue 5's web side)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from kapclinic.accounts.tokens import issue_token
from kapclinic.explorer.words import plain
from tests.conftest import login

STANDARD = {"drug": "ketamine", "route": "iv-infusion", "dose": "0.5", "dose_unit": "mg_per_kg",
            "weight_kg": "70", "duration_min": "40", "hours": "4", "compare_route": "im"}


def test_the_explorer_shows_every_racemic_iv_model_with_the_band_and_sources(prescriber):
    response = login(prescriber).get("/dosing/explorer/", STANDARD)
    assert response.status_code == 200
    exploration = response.context["exploration"]
    assert set(exploration.envelope.results) == {"domino", "clements", "hijazi", "herd", "kamp"}
    # pk.md section 7: Domino predicts 240.4 ng/mL at the end of 0.5 mg/kg over 40 min.
    assert exploration.envelope.results["domino"].cmax_ng_per_ml == pytest.approx(240.4, rel=5e-3)
    body = response.content.decode()
    assert "Decision support, not a dosing order" in body
    assert "Bowdle et al., Anesthesiology 1998" in body  # a reference band with its source
    assert body.count('class="curve"') == 5


def test_a_bigger_dose_draws_a_higher_curve(prescriber):
    client = login(prescriber)
    low = client.get("/dosing/explorer/", STANDARD).context["exploration"]
    high = client.get("/dosing/explorer/", {**STANDARD, "dose": "1.0"}).context["exploration"]
    assert high.envelope.upper_ng_per_ml.max() == pytest.approx(
        2 * low.envelope.upper_ng_per_ml.max(), rel=1e-9)


def test_the_explorer_gives_the_equivalent_dose_by_another_route(prescriber):
    exploration = login(prescriber).get("/dosing/explorer/", STANDARD).context["exploration"]
    equivalent = exploration.equivalent
    assert equivalent.to_route == "im" and 0 < equivalent.low_mg <= equivalent.high_mg


def test_a_live_update_returns_only_the_result_fragment(prescriber):
    response = login(prescriber).get("/dosing/explorer/", STANDARD, HTTP_HX_REQUEST="true")
    assert b"<html" not in response.content and b"<svg" in response.content


def test_an_absurd_weight_is_refused_naming_the_field(prescriber):
    response = login(prescriber).get("/dosing/explorer/", {**STANDARD, "weight_kg": "7000"})
    assert response.status_code == 422
    assert "weight_kg" in response.context["form"].errors
    assert response.context["exploration"] is None


def test_a_route_the_models_lack_is_refused_with_the_valid_ones(prescriber):
    response = login(prescriber).get("/dosing/explorer/", {
        **STANDARD, "drug": "esketamine", "route": "im", "dose_unit": "mg", "dose": "56"})
    assert response.status_code == 422
    assert "route" in response.context["form"].errors


def test_esketamine_nasal_shows_the_spravato_model(prescriber):
    response = login(prescriber).get("/dosing/explorer/", {
        **STANDARD, "drug": "esketamine", "route": "intranasal", "dose_unit": "mg", "dose": "56",
        "compare_route": ""})
    results = response.context["exploration"].envelope.results
    # pk.md: the esketamine model's typical Cmax for 56 mg is 72.5 ng/mL.
    assert results["perez_ruixo_esketamine"].cmax_ng_per_ml == pytest.approx(72.5, rel=0.05)


def api_client(user):
    _, secret = issue_token(user=user, name="pk", scope="read")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def post(client, body):
    return client.post("/api/v1/pk/simulate", json.dumps(body), content_type="application/json")


def test_the_api_simulates_with_the_cli_contract(prescriber):
    response = post(api_client(prescriber), {
        "model": "domino", "route": "iv-infusion", "dose_mg_per_kg": 0.5, "weight_kg": 70,
        "duration_min": 40, "hours": 4})
    assert response.status_code == 200
    body = response.json()
    for key in ("model", "route", "dose_mg", "cmax_ng_per_ml", "tmax_h", "auc_ng_h_per_ml",
                "auc_inf_ng_h_per_ml", "times_h", "conc_ng_per_ml"):
        assert key in body
    assert len(body["times_h"]) == 4 * 60 + 1 and body["times_h"][0] == 0
    assert body["dose_mg"] == pytest.approx(35.0)


def test_the_api_population_mode_adds_percentile_curves(prescriber):
    body = post(api_client(prescriber), {
        "model": "herd", "route": "iv-bolus", "dose_mg": 35, "weight_kg": 70, "hours": 2,
        "population": 200, "seed": 3}).json()
    assert all(len(body[key]) == 121 for key in ("p05", "p50", "p95"))
    assert all(a <= b <= c for a, b, c in zip(body["p05"], body["p50"], body["p95"], strict=True))


@pytest.mark.parametrize("body, field", [
    ({"model": "nope", "route": "im", "dose_mg": 10, "weight_kg": 70}, "model"),
    ({"model": "domino", "route": "teleport", "dose_mg": 10, "weight_kg": 70}, "route"),
    ({"model": "domino", "route": "im", "dose_mg": -5, "weight_kg": 70}, "dose_mg"),
    ({"model": "domino", "route": "im", "weight_kg": 70}, "dose_mg"),
    ({"model": "domino", "route": "im", "dose_mg": 10, "weight_kg": 70, "population": 10**6},
     "population"),
    ({"model": "domino", "route": "im", "dose_mg": 10, "weight_kg": 70, "colour": "red"}, "colour"),
])
def test_the_api_refuses_bad_input_naming_the_field(prescriber, body, field):
    response = post(api_client(prescriber), body)
    assert response.status_code == 422
    assert field in {error["field"] for error in response.json()["errors"]}


def test_roles_without_the_permission_cannot_simulate(therapist):
    assert login(therapist).get("/dosing/explorer/").status_code == 403
    assert post(api_client(therapist), {"model": "domino"}).status_code == 403


INTRANASAL_30 = {**STANDARD, "route": "intranasal", "dose": "30", "dose_unit": "mg",
                 "compare_route": ""}


def test_the_chart_marks_the_observed_peak_for_the_dose_simulated_with_its_source(prescriber):
    body = login(prescriber).get("/dosing/explorer/", INTRANASAL_30).content.decode()
    assert body.count('class="observed"') == 1
    assert "Pharmacotherapy 2022, Table 6, intranasal 30 mg, n = 7–10" in body
    assert "60.8 ng/mL" in body


def test_observed_peaks_at_other_doses_are_named_not_drawn(prescriber):
    body = login(prescriber).get("/dosing/explorer/", {**INTRANASAL_30, "dose": "40"}
                                 ).content.decode()
    assert 'class="observed"' not in body
    assert "10 mg, 30 mg and 50 mg" in body


def test_the_page_says_in_words_which_model_misses_the_observed_peak_and_by_how_much(
        prescriber):
    response = login(prescriber).get("/dosing/explorer/", INTRANASAL_30)
    body = response.content.decode()
    misses = [m for row in response.context["exploration"].rows
              for m in row["result"].observed_misses]
    assert misses
    section = body[body.index('id="misses-h"'):]
    for message in misses:
        assert plain(message).replace("&", "&amp;") in section  # 'ug/kg' shown as 'µg/kg'
    assert "[D]" not in section.split("</section>")[0]
    assert "pk.md" not in section.split("</section>")[0]


def test_a_time_without_a_reported_peak_time_is_drawn_as_a_level(prescriber):
    body = login(prescriber).get("/dosing/explorer/", {
        **STANDARD, "route": "oral", "compare_route": ""}).content.decode()
    assert body.count('class="observed-level"') == 1
    assert "Grant 1981" in body


def test_asian_japanese_and_age_change_the_esketamine_curve(prescriber):
    esk = {**STANDARD, "drug": "esketamine", "route": "intranasal", "dose_unit": "mg",
           "dose": "56", "compare_route": ""}
    client = login(prescriber)
    base = client.get("/dosing/explorer/", esk).context["exploration"]
    japanese = client.get("/dosing/explorer/", {**esk, "japanese": "on", "age_years": "70"}
                          ).context["exploration"]
    key = "perez_ruixo_esketamine"
    assert (japanese.envelope.results[key].cmax_ng_per_ml
            > 1.2 * base.envelope.results[key].cmax_ng_per_ml)


def test_an_absurd_age_on_the_page_is_refused_naming_the_field(prescriber):
    response = login(prescriber).get("/dosing/explorer/", {**STANDARD, "age_years": "300"})
    assert response.status_code == 422
    assert "age_years" in response.context["form"].errors


def test_the_api_reports_observed_peaks_and_misses(prescriber):
    body = post(api_client(prescriber), {
        "model": "domino", "route": "intranasal", "dose_mg": 30, "weight_kg": 70}).json()
    assert body["observed"] and body["observed_peak_misses"]
    assert all(c["source"] and "pk.md" not in c["message"] for c in body["observed"])


def test_the_api_applies_covariates(prescriber):
    request = {"model": "perez_ruixo_esketamine", "route": "intranasal", "dose_mg": 56,
               "weight_kg": 74}
    client = api_client(prescriber)
    base = post(client, request).json()
    asian = post(client, {**request, "asian": True, "japanese": True, "age_years": 70}).json()
    assert asian["cmax_ng_per_ml"] > 1.2 * base["cmax_ng_per_ml"]


@pytest.mark.parametrize("extra, field", [({"age_years": 300}, "age_years"),
                                          ({"age_years": 12}, "age_years"),
                                          ({"asian": "perhaps"}, "asian")])
def test_the_api_refuses_a_wrong_covariate_naming_the_field(prescriber, extra, field):
    response = post(api_client(prescriber), {
        "model": "perez_ruixo_esketamine", "route": "intranasal", "dose_mg": 56,
        "weight_kg": 74, **extra})
    assert response.status_code == 422
    assert field in {error["field"] for error in response.json()["errors"]}
