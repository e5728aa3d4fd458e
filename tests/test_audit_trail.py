"""The audit trail: who read or changed what, append-only, and tamper-evident."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from kapclinic.audit import chain, trail
from kapclinic.audit.models import AuditEntry, ImmutableError
from tests.conftest import login


def tamper(sql: str, params: list) -> None:
    """What an attacker with owner rights on the database would do, bypassing the model
    (and, on PostgreSQL, switching the append-only trigger off first)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER USER")


def test_opening_a_chart_writes_a_read_entry_naming_who_where_and_which_patient(prescriber, patient):
    client = login(prescriber)
    response = client.get(f"/patients/{patient.pk}/", REMOTE_ADDR="10.1.2.3",
                          HTTP_X_REQUEST_ID="req-abcdef123")
    assert response.status_code == 200
    entry = AuditEntry.objects.filter(action="read").latest("seq")
    assert (entry.actor_username, entry.role, entry.patient_id) == ("alice", "prescriber", patient.pk)
    assert entry.clinic_id == patient.clinic_id
    assert (entry.client_addr, entry.request_id) == ("10.1.2.3", "req-abcdef123")
    assert response["X-Request-ID"] == "req-abcdef123"


def test_listing_patients_audits_each_patient_shown(prescriber, patient):
    login(prescriber).get("/patients/")
    assert AuditEntry.objects.filter(action="list", patient_id=patient.pk).count() == 1


def test_creating_and_editing_a_patient_are_audited_with_the_fields_changed(prescriber, patient):
    created = AuditEntry.objects.get(action="create", object_type="patient")
    assert created.patient_id == patient.pk
    login(prescriber).post(f"/patients/{patient.pk}/edit/", {
        "mrn": patient.mrn, "given_name": "Augusta", "family_name": patient.family_name,
        "date_of_birth": "1985-12-10", "sex_at_birth": "female", "status": "screening",
        "version": 1,
    })
    updated = AuditEntry.objects.get(action="update", object_type="patient")
    assert '"given_name"' in updated.detail_json
    assert "Augusta" not in updated.detail_json  # values stay in the record, not the log


def test_entries_cannot_be_changed_or_deleted_through_the_app(patient):
    entry = AuditEntry.objects.first()
    entry.action = "read"
    with pytest.raises(ImmutableError):
        entry.save()
    with pytest.raises(ImmutableError):
        entry.delete()
    with pytest.raises(ImmutableError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(ImmutableError):
        AuditEntry.objects.all().delete()


def test_an_intact_trail_verifies(prescriber, patient):
    login(prescriber).get(f"/patients/{patient.pk}/")
    result = trail.verify()
    assert result.ok and result.checked == AuditEntry.objects.count() >= 3


def write_entries(count: int) -> None:
    for n in range(count):
        trail.record("read", object_type="patient", object_id=n, patient_id=n)


@pytest.mark.django_db
def test_verify_names_the_first_altered_entry():
    write_entries(5)
    tamper("UPDATE audit_auditentry SET object_id = %s WHERE seq = %s", ["999", 3])
    result = trail.verify()
    assert not result.ok and result.first_bad_seq == 3 and "altered" in result.problem


@pytest.mark.django_db
def test_verify_detects_a_removed_entry():
    write_entries(5)
    tamper("DELETE FROM audit_auditentry WHERE seq = %s", [2])
    result = trail.verify()
    assert not result.ok and result.first_bad_seq == 3 and "removed" in result.problem


@pytest.mark.django_db
def test_verify_detects_an_inserted_entry_even_with_a_plausible_hash():
    write_entries(3)
    row = list(AuditEntry.objects.filter(seq=2).values_list(*chain.FIELDS).get())
    row[0] = 4
    forged_prev = AuditEntry.objects.get(seq=2).hash
    forged = AuditEntry(**dict(zip(chain.FIELDS, row, strict=True)), prev_hash=forged_prev,
                        hash=chain.entry_hash(forged_prev, tuple(row)))
    forged.save()  # a row appended out of chain: seq 4 links to #2, not #3
    result = trail.verify()
    assert not result.ok and result.first_bad_seq == 4


@pytest.mark.django_db
def test_two_writers_never_share_a_sequence_number():
    write_entries(2)
    with pytest.raises(IntegrityError), transaction.atomic():
        head = AuditEntry.objects.get(seq=2)
        AuditEntry.objects.create(**{f: getattr(head, f) for f in chain.FIELDS},
                                  prev_hash=head.prev_hash, hash=head.hash)


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_itself_refuses_update_and_delete_on_the_trail():
    write_entries(2)
    for sql in ("UPDATE audit_auditentry SET action = 'x'", "DELETE FROM audit_auditentry"):
        with pytest.raises(Exception, match="append-only"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(sql)
    assert trail.verify().ok


def test_reading_another_clinics_patient_is_a_404_and_an_audited_attempt(prescriber, patient_b):
    response = login(prescriber).get(f"/patients/{patient_b.pk}/")
    assert response.status_code == 404
    attempt = AuditEntry.objects.get(action="denied", clinic_id=prescriber.memberships.get().clinic_id)
    assert attempt.actor_username == "alice" and attempt.object_id == str(patient_b.pk)
    assert not AuditEntry.objects.filter(action="read", patient_id=patient_b.pk).exists()


def test_logins_and_failed_logins_are_audited(prescriber):
    from django.test import Client

    client = Client()
    client.post("/login/", {"username": "alice", "password": "wrong password"})
    client.post("/login/", {"username": "alice", "password": "correct horse battery staple"})
    actions = list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))
    assert actions[-2:] == ["login_failed", "login"]


def test_the_clinic_admin_browses_and_filters_the_trail(clinic_admin, prescriber, patient):
    login(prescriber).get(f"/patients/{patient.pk}/")
    client = login(clinic_admin)
    everything = client.get("/audit/")
    assert everything.status_code == 200
    filtered = client.get("/audit/", {"action": "read", "user": "alice"})
    entries = list(filtered.context["page"])
    assert entries and all(e.action == "read" and e.actor_username == "alice" for e in entries)
    conditions = client.get("/audit/", {"record": "patient"}).context["page"]
    assert list(conditions) and all(e.object_type == "patient" for e in conditions)


def test_the_trail_page_filters_on_every_declared_record_type_and_action(clinic_admin):
    from kapclinic.audit import types

    form = login(clinic_admin).get("/audit/").context["form"]
    assert {v for v, _ in form.fields["record"].choices} - {""} == set(types.record_labels())
    assert {v for v, _ in form.fields["action"].choices} - {""} == set(types.action_labels())


def test_the_admin_sees_only_their_own_clinics_entries(clinic_admin, patient_b):
    page = login(clinic_admin).get("/audit/").context["page"]
    assert all(entry.clinic_id == clinic_admin.memberships.get().clinic_id for entry in page)
    assert not any(entry.patient_id == patient_b.pk for entry in page)


def test_a_time_hashes_the_same_from_sqlite_text_and_a_postgresql_datetime():
    from datetime import UTC, datetime, timedelta, timezone

    moment = datetime(2026, 3, 8, 6, 30, 0, 120000, tzinfo=UTC)
    eastern = moment.astimezone(timezone(timedelta(hours=-5)))
    assert chain.canonical_time("2026-03-08 06:30:00.120000") == "2026-03-08T06:30:00.120000"
    assert chain.canonical_time(moment) == chain.canonical_time(eastern) == "2026-03-08T06:30:00.120000"
    assert chain.canonical_time("2026-03-08 06:30:00") == "2026-03-08T06:30:00.000000"
    assert chain.canonical_time(datetime(2026, 3, 8, 6, 30, tzinfo=UTC)) == "2026-03-08T06:30:00.000000"
