"""The Alerts page links a patient's name only for a role that may open the patient."""

from __future__ import annotations

from kapclinic.alerts import actions as alerts
from tests.conftest import login


def about(patient):
    return alerts.raise_alert(clinic_id=patient.clinic_id, source="ledger", kind="test_rule",
                              label="Something to look at", patient=patient,
                              record_type="ledger.count", record_id=1, by=None)


def test_the_admin_sees_the_patients_name_on_an_alert_without_a_link_it_may_not_open(
        clinic_admin, patient):
    about(patient)
    client = login(clinic_admin)
    page = client.get("/alerts/").content.decode()
    assert "Lovelace, Ada" in page
    assert f'href="/patients/{patient.pk}/' not in page
    assert client.get(f"/patients/{patient.pk}/").status_code == 403  # what a link would give


def test_a_nurse_opens_the_patient_from_the_alert(nurse, patient):
    about(patient)
    client = login(nurse)
    page = client.get("/alerts/").content.decode()
    assert f'href="/patients/{patient.pk}/"' in page
    assert client.get(f"/patients/{patient.pk}/").status_code == 200
