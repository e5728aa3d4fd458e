"""Every table says, on its model, how its rows reach a clinic (kapclinic.accounts.scoping), so
the one list entry (``scoping.for_clinic``), the one lookup (``scoping.get_for_user``) and the
cross-clinic sweep (test_cross_clinic_sweep.py) know which rows are one clinic's and which are
global.

A model added later without a declaration fails here: decide whether its rows belong to a
clinic (``clinic_path = "patient__clinic"``, the lookup a queryset filter would write) or are
global (``clinic_path = None`` and ``global_reason = "..."``), and the sweep then snapshots its
rows of the other clinic too.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.http import Http404
from django.test import RequestFactory

from kapclinic.accounts import scoping
from kapclinic.accounts.models import Membership
from kapclinic.accounts.permissions import Action
from kapclinic.audit import context as audit_context
from kapclinic.audit.models import AuditEntry


def kapclinic_models():
    return [model for model in apps.get_models() if model.__module__.startswith("kapclinic.")]


def clinic_paths() -> dict[str, str]:
    """label -> declared path to the clinic, for every clinic-owned kapclinic model."""
    return {model._meta.label: path for model in kapclinic_models()
            if (path := scoping.clinic_path(model)) is not None}


def test_every_kapclinic_model_says_how_it_reaches_its_clinic_or_that_it_is_global():
    undeclared = []
    for model in kapclinic_models():
        try:
            scoping.clinic_path(model)
        except ImproperlyConfigured:
            undeclared.append(model._meta.label)
    assert not undeclared, (
        f"these models do not say how their rows reach a clinic: {', '.join(undeclared)}. Give "
        "each model clinic_path = '<lookup to its clinic>' (e.g. 'patient__clinic'), or "
        "clinic_path = None and global_reason = '<why its rows belong to no clinic>'.")


class _Meta:
    abstract = False
    label = "later.Forgotten"


def test_a_refused_lookup_of_any_clinic_owned_table_can_be_audited():
    """get_for_user writes ``denied`` with the table's record type: an app that forgot to
    declare it would answer a probe with an error instead of an audited 404."""
    from kapclinic.audit import types

    undeclared = []
    for label in clinic_paths():
        kind = scoping.record_type(apps.get_model(label))
        try:
            types.check("denied", kind)
        except types.UndeclaredAuditType:
            undeclared.append(f"{label} ({kind})")
    assert not undeclared, (
        f"declare these record types in the app's audit_types.py: {', '.join(undeclared)}")


def test_a_model_that_declares_nothing_or_a_global_without_a_reason_is_refused():
    from kapclinic.audit.models import CorrectableRecord
    from kapclinic.patients.models import Condition

    class Forgotten:  # stands in for a new app's model
        _meta = _Meta

    class Quiet(Forgotten):
        clinic_path = None

    with pytest.raises(ImproperlyConfigured, match="later.Forgotten does not say"):
        scoping.clinic_path(Forgotten)
    with pytest.raises(ImproperlyConfigured, match="global_reason"):
        scoping.clinic_path(Quiet)
    # an abstract base declares nothing for the tables built on it: each says it for itself
    assert "clinic_path" not in vars(CorrectableRecord)
    assert scoping.clinic_path(Condition) == "patient__clinic"


@pytest.mark.django_db
def test_every_declared_clinic_path_is_a_lookup_that_works(clinic_a, clinic_b, patient,
                                                           patient_b):
    from kapclinic.patients.models import Patient

    for label, path in clinic_paths().items():
        model = apps.get_model(label)
        try:
            list(scoping.for_clinic(model, clinic_b.pk)[:1])
        except FieldError as error:
            pytest.fail(f"{label}: '{path}' does not reach a clinic: {error}")
    assert list(scoping.for_clinic(Patient, clinic_b.pk)) == [patient_b]
    assert list(scoping.for_clinic(Patient, clinic_a.pk)) == [patient]


@pytest.mark.django_db
def test_a_list_of_a_person_in_two_clinics_names_them_once_in_each(clinic_a, clinic_b, nurse):
    from kapclinic.accounts.models import User

    Membership.objects.create(user=nurse, clinic=clinic_b, role="nurse")
    assert list(scoping.for_clinic(User, clinic_a.pk).filter(pk=nurse.pk)) == [nurse]
    assert list(scoping.for_clinic(User, clinic_b.pk).filter(pk=nurse.pk)) == [nurse]


def test_a_global_model_has_no_clinic_list_to_give():
    from kapclinic.platform.models import RateCounter

    with pytest.raises(ImproperlyConfigured, match="belongs to no clinic"):
        scoping.for_clinic(RateCounter, 1)


@pytest.fixture(autouse=True)
def _audit_request():
    """Each test is one request to the audit trail (as the middleware makes it)."""
    token = audit_context.start_request("testclient", audit_context.new_request_id())
    yield
    audit_context.end_request(token)


def _request(user, clinic, path="/somewhere/"):
    request = RequestFactory().get(path)
    request.user = user
    request.membership = Membership.objects.get(user=user, clinic=clinic)
    request._mfa_step = None  # the second factor is not what these tests are about
    audit_context.set_actor(user, request.membership)
    return request


@pytest.mark.django_db
def test_another_clinics_condition_is_a_404_audited_in_both_clinics(clinic_a, clinic_b,
                                                                    prescriber, patient_b):
    from kapclinic.patients import actions
    from kapclinic.patients.models import Condition

    condition = actions.add_condition(patient=patient_b, code="F33.1", by=prescriber)
    before = AuditEntry.objects.count()
    with pytest.raises(Http404):
        scoping.get_for_user(_request(prescriber, clinic_a), Condition, condition.pk,
                             Action.PATIENT_VIEW)
    denied = list(AuditEntry.objects.filter(seq__gt=before).order_by("seq"))
    assert [(e.action, e.object_type, e.clinic_id) for e in denied] == [
        ("denied", "condition", clinic_a.pk), ("denied", "condition", clinic_b.pk)]
    # the patient is named in the trail of the clinic that holds them, only there
    assert [e.patient_id for e in denied] == [None, patient_b.pk]


@pytest.mark.django_db
def test_a_row_of_the_users_clinic_is_returned_and_its_read_audited(clinic_a, prescriber,
                                                                   patient):
    from kapclinic.patients import actions
    from kapclinic.patients.models import Condition

    condition = actions.add_condition(patient=patient, code="F33.1", by=prescriber)
    before = AuditEntry.objects.count()
    found = scoping.get_for_user(_request(prescriber, clinic_a), Condition, condition.pk,
                                 Action.PATIENT_VIEW)
    assert found == condition
    read = AuditEntry.objects.filter(seq__gt=before).get()
    assert (read.action, read.object_type, read.patient_id) == ("read", "condition", patient.pk)


@pytest.mark.django_db
def test_a_narrowed_lookup_refuses_a_row_of_the_same_clinic_outside_it(clinic_a, prescriber,
                                                                      patient):
    """``/patients/<A1>/conditions/<A2's condition>/``: the same clinic, the wrong parent."""
    from kapclinic.patients import actions
    from kapclinic.patients.models import Condition
    from tests.conftest import new_patient

    other = new_patient(clinic_a, prescriber, mrn="A-OTHER")
    condition = actions.add_condition(patient=other, code="F33.1", by=prescriber)
    with pytest.raises(Http404):
        scoping.get_for_user(_request(prescriber, clinic_a),
                             Condition.objects.filter(patient=patient), condition.pk,
                             Action.PATIENT_VIEW, audit_read=False)


def test_a_fixed_statement_scopes_by_the_clinic_column_only_a_model_holding_it_has():
    from kapclinic.treatment.models import MonitorMessage, VitalReading

    assert scoping.clinic_column(MonitorMessage) == "clinic_id"
    with pytest.raises(ImproperlyConfigured, match="list its rows with for_clinic"):
        scoping.clinic_column(VitalReading)  # its clinic is its patient's

