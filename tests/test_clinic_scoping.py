"""Every table says how its rows reach a clinic, so a scoped lookup (and the cross-clinic sweep
in test_cross_clinic_sweep.py) knows which rows are one clinic's and which are global.

A model added later without a line here fails this test: decide whether its rows belong to a
clinic (give the field path that reaches the clinic, as a queryset filter would write it) or
are global (say why), and the sweep then snapshots its rows of the other clinic too.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.exceptions import FieldError

# model label -> the lookup path from a row to its clinic's primary key
# (``Model.objects.filter(**{path: clinic.pk})`` is that clinic's rows).
CLINIC_PATH: dict[str, str] = {
    "accounts.Clinic": "pk",
    "accounts.User": "memberships__clinic",  # a person may work in several clinics
    "accounts.Membership": "clinic",
    "accounts.Invitation": "clinic",
    "accounts.ApiToken": "user__memberships__clinic",
    "audit.AuditEntry": "clinic_id",  # a plain column: the trail outlives any row it names
    "patients.Patient": "clinic",
    "patients.StatusChange": "patient__clinic",
    "patients.Condition": "patient__clinic",
    "patients.PatientLink": "patient__clinic",
    "screening.Intake": "patient__clinic",
    "screening.IntakeRevision": "intake__patient__clinic",
    "screening.EligibilityDecision": "patient__clinic",
    "screening.SignOff": "decision__patient__clinic",
    "screening.ConsentDocument": "clinic",
    "screening.Consent": "patient__clinic",
    "measures.MeasureSettings": "clinic",
    "measures.Response": "patient__clinic",
    "measures.Schedule": "patient__clinic",
    "measures.MeasureRequest": "patient__clinic",
    "measures.Alert": "patient__clinic",
    "measures.OutboxMessage": "clinic",
    "measures.OutcomeSnapshot": "patient__clinic",
    "measures.ClinicalEvent": "patient__clinic",
}

# model label -> why its rows belong to no clinic
GLOBAL: dict[str, str] = {
    "platform.RateCounter": "a hashed caller key and a count; no clinic data",
    "platform.IdempotencyRecord": "keyed by the user who asked; the answer it replays was scoped "
                                  "when it was first made",
}


def kapclinic_models():
    return [model for model in apps.get_models() if model.__module__.startswith("kapclinic.")]


def test_every_kapclinic_model_says_how_it_reaches_its_clinic_or_that_it_is_global():
    undeclared = [model._meta.label for model in kapclinic_models()
                  if model._meta.label not in CLINIC_PATH and model._meta.label not in GLOBAL]
    assert not undeclared, (
        f"these models do not say how their rows reach a clinic: {', '.join(undeclared)}. Add "
        "each to CLINIC_PATH in tests/test_clinic_scoping.py (e.g. 'patient__clinic') or to "
        "GLOBAL with the reason its rows belong to no clinic.")


def test_no_model_is_declared_both_scoped_and_global_nor_declared_but_gone():
    labels = {model._meta.label for model in kapclinic_models()}
    assert not set(CLINIC_PATH) & set(GLOBAL)
    assert not (set(CLINIC_PATH) | set(GLOBAL)) - labels, "declared models that no longer exist"


@pytest.mark.django_db
def test_every_declared_clinic_path_is_a_lookup_that_works(clinic_a, clinic_b, patient,
                                                           patient_b):
    from kapclinic.patients.models import Patient

    for label, path in CLINIC_PATH.items():
        model = apps.get_model(label)
        try:
            list(model.objects.filter(**{path: clinic_b.pk})[:1])
        except FieldError as error:
            pytest.fail(f"{label}: '{path}' does not reach a clinic: {error}")
    assert list(Patient.objects.filter(**{CLINIC_PATH["patients.Patient"]: clinic_b.pk})) == [
        patient_b]
