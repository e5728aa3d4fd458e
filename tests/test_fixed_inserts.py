"""Bulk inserts in a fixed shape (kapclinic.platform.inserts, the bedside monitors' writer): the
rows stored are the rows bulk_create stores, every row gets its own primary key however many
statements it takes, and health records are still written only inside an action."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kapclinic.audit.actions import writing_directly
from kapclinic.audit.models import OutsideActionError
from kapclinic.platform import inserts
from kapclinic.treatment.models import MessageStatus, MonitorMessage

COLUMNS = ("clinic_id", "sender", "control_id", "received_at", "peer", "raw", "status", "reason",
           "patient_ref", "device_ids", "patient_id", "session_id", "not_stored", "readings",
           "assigned_at", "assigned_by_id")


def messages(clinic, patient, prefix: str, count: int) -> list[MonitorMessage]:
    return [MonitorMessage(
        clinic=clinic, sender=f"MONITOR^{n}^EUI-64", control_id=f"{prefix}-{n}",
        received_at=datetime(2026, 12, 2, 9, n % 60, tzinfo=UTC), peer="127.0.0.1",
        raw="MSH|^~\\&|MONITOR\rPID|||" + patient.mrn, status=MessageStatus.STORED,
        reason="", patient_ref=patient.mrn, device_ids=["0123456789ABCDEF", f"D{n}"],
        patient=patient if n % 2 else None, not_stored=[{"code": "150456", "why": "marked invalid", "n": n}],
        readings=n % 3) for n in range(count)]


def stored(rows: list[MonitorMessage]) -> list[tuple]:
    found = {r["id"]: r for r in MonitorMessage.objects.filter(pk__in=[r.pk for r in rows]).values()}
    return [tuple(found[row.pk][column] for column in COLUMNS) for row in rows]


def test_rows_inserted_in_a_fixed_shape_are_stored_as_bulk_create_stores_them(clinic_a, patient):
    with writing_directly("comparing the two ways of inserting"):
        by_django = messages(clinic_a, patient, "django", 5)
        MonitorMessage.objects.bulk_create(by_django)
        fixed = messages(clinic_a, patient, "fixed", 5)
        MonitorMessage.objects.bulk_insert(fixed)

    assert all(row.pk is not None and not row._state.adding for row in fixed)
    assert len({row.pk for row in fixed}) == 5
    assert [r[:2] + r[3:] for r in stored(fixed)] == [r[:2] + r[3:] for r in stored(by_django)]
    assert stored(fixed)[1][COLUMNS.index("not_stored")] == [{"code": "150456", "why": "marked invalid",
                                                              "n": 1}]


def test_a_batch_longer_than_one_statement_gives_each_row_its_own_key(clinic_a, patient):
    shape = inserts._shape(MonitorMessage, "default")
    assert shape is not None
    count = shape.per_statement + 2  # SQLite's parameter limit, or this module's bound of rows
    rows = messages(clinic_a, patient, "long", count)
    with writing_directly("a batch over the database's parameter limit"):
        MonitorMessage.objects.bulk_insert(rows)

    assert [row.control_id for row in MonitorMessage.objects.filter(pk__in=[r.pk for r in rows])
            .order_by("pk")] == [f"long-{n}" for n in range(count)]
    by_key = dict(MonitorMessage.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", "control_id"))
    assert all(by_key[row.pk] == row.control_id for row in rows)


def test_health_records_are_not_inserted_in_a_fixed_shape_outside_an_action(clinic_a, patient):
    with pytest.raises(OutsideActionError, match="written only by an action"):
        MonitorMessage.objects.bulk_insert(messages(clinic_a, patient, "outside", 2))
    assert not MonitorMessage.objects.filter(control_id__startswith="outside").exists()
