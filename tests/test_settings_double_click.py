"""A double-clicked settings save (measure settings, outcome rules) is applied once and the
second click gets the first answer, not a conflict."""

from __future__ import annotations

from kapclinic.measures import actions
from kapclinic.platform import idempotency
from tests.conftest import login
from tests.test_idempotency import token_from
from tests.test_measure_settings_forms import SETTINGS

OUTCOME_RULES = {"relapse_after": "response_or_remission", "relapse_date": "first_of_run",
                 "fading_fraction": "0.5", "madrs_remission_max": "10",
                 "response_pcl5_kind": "point_reduction", "response_pcl5_at_least": "10"}


def test_a_double_clicked_measure_settings_save_is_saved_once_without_a_conflict(
        clinic_admin, clinic_a):
    client = login(clinic_admin)
    data = {**SETTINGS, idempotency.FORM_FIELD: token_from(client.get("/clinic/measures/"))}
    first = client.post("/clinic/measures/", data)
    second = client.post("/clinic/measures/", data, follow=True)
    assert first.status_code == 302
    assert second.status_code == 200 and "saved once, not twice" in second.content.decode()
    assert actions.settings_for(clinic_a).version == 2


def test_a_double_clicked_outcome_rules_save_is_answered_as_the_first(clinic_admin, clinic_a):
    client = login(clinic_admin)
    data = {**OUTCOME_RULES,
            idempotency.FORM_FIELD: token_from(client.get("/clinic/outcomes/"))}
    client.post("/clinic/outcomes/", data)
    second = client.post("/clinic/outcomes/", data, follow=True)
    page = second.content.decode()
    assert "saved once, not twice" in page and "Nothing changed" not in page
    assert actions.settings_for(clinic_a).outcome_version == 2
