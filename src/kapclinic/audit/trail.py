"""Writing to and reading back the audit trail. The only code that appends entries."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from kapclinic.audit import chain, context
from kapclinic.audit.models import AuditEntry

# Any 64-bit constant: the PostgreSQL advisory lock that serialises chain appends.
CHAIN_LOCK_KEY = 0x6B6170_617564


@dataclass(frozen=True)
class Event:
    action: str
    object_type: str
    object_id: str | int = ""
    patient_id: int | None = None
    detail: dict[str, Any] | None = None
    clinic_id: int | None = None


def _lock_chain() -> None:
    # SQLite runs every transaction IMMEDIATE (settings), which already serialises writers.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def record_many(events: Sequence[Event]) -> list[AuditEntry]:
    """Append events in order, in the caller's transaction (or a new one)."""
    if not events:
        return []
    actor = context.current()
    with transaction.atomic():
        _lock_chain()
        head = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, prev_hash = head if head else (0, chain.GENESIS)
        now = timezone.now()
        entries = []
        for event in events:
            seq += 1
            entry = AuditEntry(
                seq=seq, at=now, actor_id=actor.user_id, actor_username=actor.username,
                role=actor.role,
                clinic_id=event.clinic_id if event.clinic_id is not None else actor.clinic_id,
                patient_id=event.patient_id, object_type=event.object_type,
                object_id=str(event.object_id), action=event.action,
                client_addr=actor.client_addr, request_id=actor.request_id,
                detail_json=json.dumps(event.detail or {}, sort_keys=True, separators=(",", ":"),
                                       default=str),
                prev_hash=prev_hash,
            )
            entry.hash = chain.entry_hash(prev_hash, tuple(getattr(entry, f) for f in chain.FIELDS))
            prev_hash = entry.hash
            entries.append(entry)
        AuditEntry.objects.bulk_create(entries)
    return entries


def record(action: str, *, object_type: str, object_id: str | int = "",
           patient_id: int | None = None, detail: dict[str, Any] | None = None,
           clinic_id: int | None = None) -> AuditEntry:
    return record_many([Event(action, object_type, object_id, patient_id, detail, clinic_id)])[0]


def _rows(batch_size: int = 20_000) -> Iterator[tuple]:
    columns = ", ".join((*chain.FIELDS, "prev_hash", "hash"))
    table = AuditEntry._meta.db_table
    # A server-side cursor on PostgreSQL keeps memory flat over millions of rows.
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} ORDER BY seq")  # noqa: S608 (constant names)
        while batch := cursor.fetchmany(batch_size):
            yield from batch


def verify() -> chain.VerifyResult:
    return chain.verify_rows(_rows())
