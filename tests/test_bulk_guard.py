"""Creating health records in bulk (imports, the demo) is a write like any other: only inside
an action, which audits it."""

from __future__ import annotations

import random

import pytest
from django.utils import timezone

from kapclinic.audit.actions import action
from kapclinic.audit.models import AuditEntry, OutsideActionError
from kapclinic.measures import demo_data
from kapclinic.measures.models import ClinicalEvent, Response
from kapclinic.patients.models import Condition, Patient, Status
from tests.conftest import set_directly


def a_condition(patient: Patient) -> Condition:
    return Condition(patient=patient, code="F33.1", display="Major depressive disorder, "
                     "recurrent, moderate", code_system="http://hl7.org/fhir/sid/icd-10-cm")


def test_health_records_are_not_created_in_bulk_outside_an_action(patient):
    with pytest.raises(OutsideActionError, match="written only by an action"):
        Condition.objects.bulk_create([a_condition(patient)])
    assert not Condition.objects.filter(patient=patient).exists()


def test_an_action_creates_health_records_in_bulk_with_its_audit_entries(patient):
    from kapclinic.audit import trail

    @action
    def import_conditions(*, patient: Patient, by=None) -> list[Condition]:
        made = Condition.objects.bulk_create([a_condition(patient)])
        trail.record("create", object_type="condition", object_id=made[0].pk,
                     patient_id=patient.pk)
        return made

    made = import_conditions(patient=patient, by=None)
    assert Condition.objects.filter(pk=made[0].pk).exists()
    assert AuditEntry.objects.filter(object_type="condition", object_id=str(made[0].pk)).exists()


def test_the_demo_questionnaires_and_events_are_created_and_audited_in_actions(prescriber,
                                                                               patient):
    set_directly(Patient.objects.filter(pk=patient.pk), status=Status.IN_TREATMENT)
    patients = list(Patient.objects.filter(pk=patient.pk).select_related("clinic"))
    made = demo_data.demo_responses(patients, random.Random(1), 4, timezone.now(), by=None)
    events = demo_data.demo_events(patients, random.Random(1), timezone.now(), prescriber,
                                   by=None)
    assert made == Response.objects.filter(patient=patient).count() > 0
    assert events == ClinicalEvent.objects.filter(patient=patient, recorded_by=prescriber).count()
    audited = AuditEntry.objects.filter(object_type__in=("response", "clinical_event"),
                                        patient_id=patient.pk)
    assert audited.count() == made + events
    assert {e.actor_username for e in audited} == {"system"}
