"""A correctable health record (a response, a condition, a consent, an event, an alert) keeps
what was first written: on PostgreSQL the database refuses an UPDATE of any column other than
its correction's (entered in error, a consent's withdrawal) and, for an alert, its
acknowledgement and escalation, even for SQL that bypasses the app."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone

from kapclinic.alerts import actions as alert_actions
from kapclinic.alerts.models import Alert
from kapclinic.audit.models import CorrectableRecord, _only_corrections_change
from kapclinic.measures import actions as measures
from kapclinic.measures.models import ClinicalEvent, Response
from kapclinic.patients import actions as patient_actions
from kapclinic.patients.models import Condition
from kapclinic.screening import actions as screening
from kapclinic.screening.models import Consent
from tests import factories


def refused(sql: str, params: list) -> bool:
    """Whether the database refused ``sql`` as a change outside a correction."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except Exception as exc:  # noqa: BLE001 (the database's own refusal, whatever its class)
        return "only a correction" in str(exc)
    return False


def changeable(model) -> set[str]:
    return {*model.correction_fields, *model.mutable_fields}


def test_every_correctable_table_names_the_columns_its_corrections_change():
    correctable = {m for m in apps.get_models() if issubclass(m, CorrectableRecord)}
    assert {Response, ClinicalEvent, Condition, Consent, Alert} <= correctable
    for model in correctable:
        names = {t.name for t in model._meta.triggers}
        assert "only_corrections_change" in names, model
    assert changeable(Consent) == {"withdrawn_at", "withdrawn_by", "withdrawal_reason"}
    assert {"acknowledged_at", "acknowledgement_note", "escalated_at"} <= changeable(Alert)
    assert "total" not in changeable(Response) and "code" not in changeable(Condition)


def test_a_misspelt_changeable_column_is_refused_rather_than_left_open(monkeypatch):
    monkeypatch.setattr(Alert, "mutable_fields", ("acknowledged_at", "acknowledgment_note"))
    with pytest.raises(ImproperlyConfigured, match="acknowledgment_note"):
        _only_corrections_change(Alert)


def on_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


@pytest.mark.postgres
def test_the_database_refuses_to_change_a_clinical_value_but_a_correction_still_works(
        prescriber, patient):
    on_postgres()
    recorded = factories.response(patient, prescriber, total=4)
    response = recorded.response
    assert refused("UPDATE measures_response SET total = 0 WHERE id = %s", [response.pk])
    assert refused("UPDATE measures_response SET answers = '{}' WHERE id = %s", [response.pk])
    assert measures.mark_response_entered_in_error(response, reason="wrong patient",
                                                   by=prescriber)
    response.refresh_from_db()
    assert response.total == 4 and response.entered_in_error_at is not None

    condition = patient_actions.add_condition(patient=patient, code="F33.1", by=prescriber)
    assert refused("UPDATE patients_condition SET code = 'F32.9' WHERE id = %s", [condition.pk])
    assert patient_actions.mark_condition_entered_in_error(condition=condition, reason="typo",
                                                           by=prescriber)

    event = measures.record_clinical_event(patient=patient, kind="suicide_attempt",
                                           note="ED visit", occurred_at=timezone.now(),
                                           by=prescriber)
    assert refused("UPDATE measures_clinicalevent SET note = 'nothing' WHERE id = %s", [event.pk])
    assert measures.mark_event_entered_in_error(event, reason="another patient's",
                                                by=prescriber)


@pytest.mark.postgres
def test_a_consent_may_be_withdrawn_but_its_signature_not_changed(prescriber, patient):
    on_postgres()
    consent = factories.consent(patient, prescriber)
    assert refused("UPDATE screening_consent SET signed_name = 'someone else' WHERE id = %s",
                   [consent.pk])
    assert screening.withdraw_consent(consent=consent, reason="changed their mind",
                                      by=prescriber)
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None and consent.signed_name.startswith(patient.given_name)


@pytest.mark.postgres
def test_an_alert_is_escalated_and_acknowledged_but_what_raised_it_not_changed(
        prescriber, patient):
    on_postgres()
    alert = factories.alert(patient, prescriber)
    assert refused("UPDATE measures_alert SET priority = 'follow_up' WHERE id = %s", [alert.pk])
    assert refused("UPDATE measures_alert SET label = 'nothing' WHERE id = %s", [alert.pk])
    assert alert_actions.escalate_alert(alert, now=timezone.now(), minutes=30, by=None)
    assert alert_actions.acknowledge_alert(alert=alert, note="called the patient", by=prescriber)
    alert.refresh_from_db()
    assert alert.escalated_at is not None and alert.acknowledged_at is not None
    assert alert.priority == Alert.Priority.URGENT
