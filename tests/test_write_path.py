"""The enforced write path: one way to define an action, typed audit types, health records
written only by actions, and the bypasses closed (two-factor, CLI, settings, GET pages)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection

from kapclinic.accounts import mfa, staff
from kapclinic.accounts.scoping import clinic_path, record_type
from kapclinic.audit import context, trail, types
from kapclinic.audit.actions import UnauditedAction, action, writing_directly
from kapclinic.audit.models import AuditEntry, HealthRecord, OutsideActionError
from kapclinic.measures import actions as measure_actions
from kapclinic.measures.models import MeasureSettings
from kapclinic.patients import actions as patient_actions
from kapclinic.patients.models import Condition, Patient, StatusChange
from kapclinic.screening.models import Intake
from tests.conftest import login

SOURCE = Path(__file__).parents[1] / "src" / "kapclinic"


# ---- one way to define an action --------------------------------------------------------

@action
def _forgets_its_audit_entry(*, patient: Patient, by) -> None:
    Condition.objects.create(patient=patient, code="F33.1", display="x", code_system="x",
                             recorded_by=by)


@action
def _changes_nothing(*, by) -> str:
    return "nothing to do"


def test_an_action_that_writes_no_audit_entry_fails_and_leaves_no_row(prescriber, patient):
    with pytest.raises(UnauditedAction, match="without an audit entry"):
        _forgets_its_audit_entry(patient=patient, by=prescriber)
    assert not Condition.objects.filter(patient=patient).exists()


def test_an_action_that_changes_nothing_needs_no_audit_entry(db):
    assert _changes_nothing(by=None) == "nothing to do"


def test_an_action_must_say_who_acts(patient):
    with pytest.raises(TypeError, match="by="):
        patient_actions.add_condition(patient=patient, code="F33.1")


def test_a_function_without_a_keyword_only_by_cannot_be_an_action():
    with pytest.raises(TypeError, match="keyword-only by="):
        action(lambda patient: None)


def test_an_action_run_from_the_command_line_by_alice_is_audited_as_alice(prescriber, patient):
    context.set_system_actor("kapclinic import", None)
    try:
        condition = patient_actions.add_condition(patient=patient, code="F33.1", by=prescriber)
    finally:
        context.set_system_actor()
    entry = AuditEntry.objects.get(object_type="condition", object_id=str(condition.pk))
    assert (entry.actor_id, entry.actor_username, entry.role, entry.client_addr) == (
        prescriber.pk, "alice", "prescriber", "cli")


def test_an_action_by_nobody_is_audited_as_the_command_that_ran_it(clinic_a, patient):
    context.set_system_actor("kapclinic worker", None)
    try:
        patient_actions.add_condition(patient=patient, code="F33.1", by=None)
    finally:
        context.set_system_actor()
    entry = AuditEntry.objects.filter(object_type="condition").get()
    assert (entry.actor_id, entry.actor_username, entry.role) == (None, "kapclinic worker",
                                                                  "system")


def test_every_action_function_is_defined_with_the_action_decorator():
    from kapclinic.accounts import mfa
    from kapclinic.accounts import staff as staff_module
    from kapclinic.measures import actions as measures
    from kapclinic.screening import actions as screening

    for module in (patient_actions, screening, measures, staff_module, mfa):
        for name, function in vars(module).items():
            if not callable(function) or getattr(function, "__module__", "") != module.__name__:
                continue
            source = Path(module.__file__).read_text(encoding="utf-8")
            writes = re.search(rf"\ndef {name}\((?:(?!\ndef ).)*trail\.record", source, re.S)
            takes_by = re.search(rf"\ndef {name}\([^)]*\bby\b", source, re.S)
            if writes and takes_by:
                assert getattr(function, "is_action", False), f"{module.__name__}.{name}"


# ---- typed audit types -------------------------------------------------------------------

def test_the_trail_refuses_an_undeclared_record_type_or_action(db):
    with pytest.raises(types.UndeclaredAuditType, match="record type 'pateint' is not declared"):
        trail.record("read", object_type="pateint", object_id=1)
    with pytest.raises(types.UndeclaredAuditType, match="action 'delete' is not declared"):
        trail.record("delete", object_type="patient", object_id=1)
    assert not AuditEntry.objects.exists()


def test_every_audit_type_written_in_the_code_is_declared():
    actions, records = set(), set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        records |= set(re.findall(r'object_type="([a-z_]+)"', text))
        events = re.findall(r'trail\.Event\("([a-z_]+)", "([a-z_]+)"', text)
        actions |= {a for a, _ in events} | set(re.findall(r'trail\.record\("([a-z_]+)"', text))
        records |= {r for _, r in events}
    # a scoped lookup audits a row under its model's name
    records |= {record_type(m) for m in apps.get_models()
                if m.__module__.startswith("kapclinic.") and clinic_path(m)}
    assert records and actions
    assert records <= set(types.record_labels()), records - set(types.record_labels())
    assert actions <= set(types.action_labels()), actions - set(types.action_labels())


# ---- health records are written only by actions -------------------------------------------

def test_a_health_record_refuses_a_save_outside_an_action_naming_the_actions_module(
        clinic_a, patient):
    with pytest.raises(OutsideActionError, match=r"kapclinic\.patients\.actions"):
        Patient.objects.create(clinic=clinic_a, mrn="X-1", given_name="A", family_name="B",
                               date_of_birth="1980-01-01", sex_at_birth="female")
    with pytest.raises(OutsideActionError, match=r"kapclinic\.patients\.actions"):
        Patient.objects.filter(pk=patient.pk).update(status="discharged")
    patient.phone = "555-0100"
    with pytest.raises(OutsideActionError):
        patient.save()
    with pytest.raises(OutsideActionError, match=r"kapclinic\.screening\.actions"):
        Intake.objects.create(patient=patient)
    patient.refresh_from_db()
    assert (patient.status, patient.phone) == ("screening", "")


def test_a_test_may_build_a_state_directly_only_by_saying_so(patient):
    with writing_directly("a patient reachable by email"):
        Patient.objects.filter(pk=patient.pk).update(email="ada@example.org")
    patient.refresh_from_db()
    assert patient.email == "ada@example.org"
    with pytest.raises(OutsideActionError):
        Patient.objects.filter(pk=patient.pk).update(email="")


def test_every_concrete_health_record_carries_its_bases_database_guards():
    import pgtrigger

    registered = {(model, trigger.name) for model, trigger in pgtrigger.registered()}
    health = [m for m in apps.get_models() if issubclass(m, HealthRecord)]
    assert {Patient, StatusChange, Condition, Intake, AuditEntry} <= set(health)
    for model in health:
        for guard in model.database_guards:
            assert (model, guard.name) in registered, (model, guard.name)
    assert {t.name for t in StatusChange.database_guards} == {"never_deleted", "never_truncated",
                                                             "never_changed"}
    assert {t.name for t in Condition.database_guards} == {"never_deleted", "never_truncated"}


@pytest.mark.postgres
def test_the_database_guards_are_pgtriggers_own_and_the_hand_made_ones_are_gone(patient):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        names = {row[0] for row in cursor.fetchall()}
    assert not {n for n in names if n.endswith(("_never_deleted", "_never_changed"))
                and not n.startswith("pgtrigger_")}
    assert "audit_entry_append_only" not in names
    assert any(n.startswith("pgtrigger_never_deleted_") for n in names)


# ---- the bypasses ------------------------------------------------------------------------

def test_requiring_two_factor_is_one_audited_action(clinic_admin):
    clinic = clinic_admin.memberships.get().clinic
    client = login(clinic_admin)
    client.post("/clinic/security/", {"require_mfa": "on"})
    clinic.refresh_from_db()
    assert clinic.require_mfa
    entry = AuditEntry.objects.get(object_type="clinic", action="update")
    assert entry.actor_username == clinic_admin.username
    assert not mfa.require_for_clinic(clinic=clinic, required=True, by=clinic_admin)


def test_createclinic_is_audited(db):
    from kapclinic.cli import main

    assert main(["createclinic", "--slug", "cedar", "--name", "Cedar", "--time-zone", "UTC"]) == 0
    entry = AuditEntry.objects.get(object_type="clinic", action="create")
    assert entry.actor_username == "kapclinic createclinic"
    assert entry.clinic_id is not None


def test_createuser_goes_through_the_staff_action_and_never_makes_a_patient_staff(clinic_a):
    from kapclinic.accounts.models import Membership

    membership = staff.grant_role(clinic=clinic_a, username="dee", role="nurse", by=None)
    assert Membership.objects.filter(pk=membership.pk, role="nurse").exists()
    assert AuditEntry.objects.filter(object_type="membership", action="create").exists()
    with pytest.raises(staff.StaffError, match="already a member"):
        staff.grant_role(clinic=clinic_a, username="dee", role="nurse", by=None)


def test_reading_the_settings_pages_writes_nothing(clinic_admin):
    client = login(clinic_admin)
    assert client.get("/clinic/measures/").status_code == 200
    assert not MeasureSettings.objects.exists()


def test_saving_the_settings_for_the_first_time_creates_them(clinic_admin):
    clinic = clinic_admin.memberships.get().clinic
    saved = measure_actions.save_settings(
        clinic_id=clinic.pk, values={"link_days": 5}, expected_version=1, by=clinic_admin)
    assert (saved.link_days, saved.version) == (5, 2)
    assert AuditEntry.objects.get(object_type="measure_settings").detail_json == (
        '{"fields":["link_days"],"version":2}')


def test_reading_a_patients_intake_page_writes_nothing(nurse, patient):
    assert login(nurse).get(f"/patients/{patient.pk}/intake/").status_code == 200
    assert not Intake.objects.exists()
