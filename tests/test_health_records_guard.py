"""On PostgreSQL the database refuses to delete health records or to change append-only ones,
even for SQL that bypasses the app."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.utils import timezone

from kapclinic.measures.actions import record_clinical_event, record_response
from kapclinic.patients.actions import add_condition
from kapclinic.screening import actions as screening

pytestmark = pytest.mark.postgres


def refused(sql: str, params: list) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except Exception as exc:  # noqa: BLE001 (the database's own refusal, whatever its class)
        return "append-only" in str(exc)
    return False


def test_the_database_refuses_to_delete_health_records(prescriber, patient):
    condition = add_condition(patient=patient, code="F33.1", by=prescriber)
    recorded = record_response(patient=patient, instrument="phq9", source="clinic", by=prescriber,
                               answers={str(n): 1 for n in range(1, 10)})
    assert refused("DELETE FROM measures_response WHERE id = %s", [recorded.response.pk])
    assert refused("DELETE FROM measures_alert WHERE id = %s", [recorded.alerts[0].pk])
    assert refused("DELETE FROM patients_condition WHERE id = %s", [condition.pk])
    assert refused("DELETE FROM patients_patient WHERE id = %s", [patient.pk])
    event = record_clinical_event(patient=patient, kind="suicide_attempt", note="ED visit",
                                  occurred_at=timezone.now(), by=prescriber)
    assert refused("DELETE FROM measures_clinicalevent WHERE id = %s", [event.pk])


def test_the_database_refuses_to_change_a_decision_but_allows_corrections(prescriber, patient):
    screening.save_intake(patient=patient, draft={}, data={"date_of_birth": "1985-12-10"},
                          expected_version=1, by=prescriber)
    decision = screening.evaluate_intake(patient=patient, drug="ketamine", route=None,
                                         by=prescriber)
    assert refused("UPDATE screening_eligibilitydecision SET status = 'eligible' WHERE id = %s",
                   [decision.pk])
    assert not refused("UPDATE patients_patient SET phone = '1' WHERE id = %s", [patient.pk])


def test_the_database_refuses_to_empty_a_health_table_or_the_audit_trail(prescriber, patient):
    # what `manage flush` would do (the CLI refuses it too); a row-level guard never sees it
    # (the test's own rows leave deferred foreign-key checks pending: run them first, or
    # PostgreSQL refuses the TRUNCATE for that reason before our trigger is asked)
    for table in ("patients_patient", "measures_response", "audit_auditentry",
                  "treatment_vitalreading"):
        assert refused(f"SET CONSTRAINTS ALL IMMEDIATE; TRUNCATE {table} CASCADE", []), table
    assert refused("SET CONSTRAINTS ALL IMMEDIATE; TRUNCATE patients_patient, audit_auditentry CASCADE",
                   [])
