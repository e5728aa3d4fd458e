"""Other apps hear of a dose in the transaction that recorded it, and read doses in bulk."""

from __future__ import annotations

import pytest

from kapclinic.platform import extensions as ext
from kapclinic.treatment import actions
from kapclinic.treatment.errors import FieldError
from kapclinic.treatment.models import Administration
from tests.treatment.helpers import cleared, eligible_and_consented, minutes_ago

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    return cleared(patient, prescriber, nurse, start=20)


def test_a_dose_hook_hears_the_dose_with_its_protocol_route_and_time(ready, nurse, patient):
    heard = []
    with ext.registrations_undone():
        ext.register(ext.DoseHook("listener", lambda who, dose: heard.append((who, dose))))
        given = actions.record_administration(ready, at=minutes_ago(1), by=nurse, dose_mg_per_kg=0.5)
    [(who, dose)] = heard
    assert who == patient
    assert (dose.session_id, dose.protocol, dose.drug, dose.route, dose.dose_mg) == (
        ready.pk, "iv_racemic_ketamine", "ketamine", ready.route, 35.0)
    assert dose.given_at == given.started_at
    assert dose.protocol_label == ready.protocol_label


def test_a_failing_dose_hook_leaves_no_dose_recorded(ready, nurse):
    def refuse(patient, dose):
        raise FieldError("measures", "could not schedule")

    with ext.registrations_undone(), pytest.raises(FieldError):
        ext.register(ext.DoseHook("refuser", refuse))
        actions.record_administration(ready, at=minutes_ago(1), by=nurse, dose_mg_per_kg=0.5)
    assert not Administration.objects.exists()


def test_doses_are_read_for_many_patients_in_one_query(
        ready, nurse, patient, django_assert_max_num_queries):
    actions.record_administration(ready, at=minutes_ago(1), by=nurse, dose_mg_per_kg=0.5)
    with django_assert_max_num_queries(1):
        found = ext.doses_of([patient.pk, patient.pk + 1000])
    assert [dose.dose_mg for dose in found[patient.pk]] == [35.0]
    assert patient.pk + 1000 not in found
