"""Writing to and reading back the audit trail. The only code that appends entries."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from kapclinic.audit import anchors, chain, context, keys, types
from kapclinic.audit.models import UNCHANGING_ACTIONS, AuditEntry

log = logging.getLogger("kapclinic.audit")

# Any 64-bit constant: the PostgreSQL advisory lock that serialises chain appends.
CHAIN_LOCK_KEY = 0x6B6170_617564


# Events about a person's account rather than a clinic's records: each is written once for
# every clinic the person belongs to, so each of those clinics' admins sees it.
ACCOUNT_ACTIONS = frozenset({"login", "login_failed", "logout", "mfa_verified", "mfa_failed",
                             "token_created", "token_revoked"})


@dataclass(frozen=True)
class Event:
    action: str
    object_type: str
    object_id: str | int = ""
    patient_id: int | None = None
    detail: dict[str, Any] | None = None
    clinic_id: int | None = None
    # The user whose account this is about (see ACCOUNT_ACTIONS); implied for those actions
    # (and two-factor changes) on object_type "user".
    account_of: int | None = None

    def account_user(self) -> int | None:
        if self.account_of is not None:
            return self.account_of
        if self.object_type != "user" or not str(self.object_id).isdigit():
            return None
        if self.action in ACCOUNT_ACTIONS or (self.action == "update"
                                              and "mfa" in (self.detail or {})):
            return int(self.object_id)
        return None


# Each user's current clinics with their role there, in clinic order. The accounts app
# provides it from its ready(): the trail is the lowest app and imports none above it.
ClinicRoles = Callable[[set[int]], dict[int, list[tuple[int, str]]]]
_clinic_roles_lookup: list[ClinicRoles] = []


def provide_clinic_roles(lookup: ClinicRoles) -> None:
    _clinic_roles_lookup[:] = [lookup]


def _clinic_roles(user_ids: set[int]) -> dict[int, list[tuple[int, str]]]:
    if not _clinic_roles_lookup:
        raise RuntimeError("the accounts app has not provided the clinic roles lookup yet")
    return _clinic_roles_lookup[0](user_ids)


def _placed(events: Sequence[Event], actor: context.Actor) -> list[tuple[Event, int | None, str]]:
    """(event, clinic, role) for each entry to write: an account event once per clinic of
    its user (with the user's role there when they are the one acting)."""
    accounts = {user for e in events if e.clinic_id is None and (user := e.account_user())}
    if actor.role == context.ROLE_OF_MEMBER and actor.user_id is not None:
        accounts.add(actor.user_id)  # an action run by=someone outside their own request
    clinics = _clinic_roles(accounts) if accounts else {}
    # the acting user's role in each clinic, when the action did not run in their request
    roles = dict(clinics.get(actor.user_id, [])) if actor.role == context.ROLE_OF_MEMBER else {}
    placed = []
    for event in events:
        user = event.account_user() if event.clinic_id is None else None
        if user is not None and clinics.get(user):
            for clinic_id, role in clinics[user]:
                placed.append((event, clinic_id, role if actor.user_id == user
                               else actor.role or roles.get(clinic_id, "none")))
        else:
            clinic_id = event.clinic_id if event.clinic_id is not None else actor.clinic_id
            placed.append((event, clinic_id, actor.role or roles.get(clinic_id, "none")))
    return placed


def lock_chain() -> None:
    """Hold the trail's lock to the end of the transaction: nobody else appends meanwhile.
    SQLite runs every transaction IMMEDIATE (settings), which already serialises writers."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def record_many(events: Sequence[Event]) -> list[AuditEntry]:
    """Append events in order, in the caller's transaction (or a new one)."""
    if not events:
        return []
    for event in events:
        types.check(event.action, event.object_type)
    actor = context.current()
    with transaction.atomic():
        placed = _placed(events, actor)
        lock_chain()
        seq, prev_hash, head_keyed = _head()
        now = timezone.now()
        key = keys.audit_key()
        entries = []
        for event, clinic_id, role in placed:
            seq += 1
            entry = AuditEntry(
                seq=seq, at=now, actor_id=actor.user_id, actor_username=actor.username,
                role=role, clinic_id=clinic_id,
                patient_id=event.patient_id, object_type=str(event.object_type),
                object_id=str(event.object_id), action=str(event.action),
                client_addr=actor.client_addr, request_id=actor.request_id,
                detail_json=json.dumps(event.detail or {}, sort_keys=True, separators=(",", ":"),
                                       default=str),
                prev_hash=prev_hash, keyed=key is not None,
            )
            entry.hash = chain.entry_hash(prev_hash, tuple(getattr(entry, f) for f in chain.FIELDS),
                                          key)
            prev_hash = entry.hash
            entries.append(entry)
        AuditEntry.objects.bulk_insert(entries)
        for scope in context.running_actions():  # the action decorator checks its count
            scope.entries += len(entries)
            scope.denials.extend(e for e in events if e.action == types.AuditActions.DENIED)
        if key is not None and not head_keyed:
            first = entries[0]
            transaction.on_commit(lambda: _anchor_first_keyed(key, first.seq, first.hash))
    return entries


def _head() -> tuple[int, str, bool]:
    """The last entry's seq, hash and keyed flag (a fixed statement: every audited write reads it)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT seq, hash, keyed FROM {AuditEntry._meta.db_table} "  # noqa: S608 (constant)
                       "ORDER BY seq DESC LIMIT 1")
        head = cursor.fetchone()
    return (head[0], head[1], bool(head[2])) if head else (0, chain.GENESIS, False)


def _anchor_first_keyed(key: bytes, seq: int, hash_: str) -> None:
    """Anchor the first keyed entry outside the database (keys.anchors_file), once it is
    committed: with that anchor, a keyed trail rewritten as an unkeyed one (which looks like
    a trail whose key was set later) fails `kapclinic audit verify`. A failure to write it
    never fails the write it follows; it is logged."""
    path = keys.anchors_file()
    try:
        anchors.append(path, anchors.make(key, count=seq, head_hash=hash_, keyed=True))
    except OSError as exc:
        log.error("Could not anchor the first keyed audit entry #%s in %s (%s): run "
                  "`kapclinic audit anchor --out %s` now.", seq, path, exc.strerror or exc, path)


def record(action: str, *, object_type: str, object_id: str | int = "",
           patient_id: int | None = None, detail: dict[str, Any] | None = None,
           clinic_id: int | None = None, account_of: int | None = None) -> AuditEntry:
    """Append one event; an account event (see ACCOUNT_ACTIONS) returns the first of its
    per-clinic entries."""
    return record_many([Event(action, object_type, object_id, patient_id, detail, clinic_id,
                              account_of)])[0]


def _rows(batch_size: int = 20_000) -> Iterator[tuple]:
    columns = ", ".join((*chain.FIELDS, "keyed", "prev_hash", "hash"))
    table = AuditEntry._meta.db_table
    # A server-side cursor on PostgreSQL keeps memory flat over millions of rows.
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} ORDER BY seq")  # noqa: S608 (constant names)
        while batch := cursor.fetchmany(batch_size):
            yield from batch


def verify(wanted: frozenset[int] = frozenset(),
           keyed_after: int | None = None) -> chain.VerifyResult:
    """Verify the whole chain with the configured audit key (if any); ``wanted``: the entries
    whose hashes to report (anchored counts); ``keyed_after``: see chain.verify_rows."""
    return chain.verify_rows(_rows(), keys.audit_key(), wanted, keyed_after)


def last_change_of_patient() -> Subquery:
    """The patient's last audit entry of a change (its seq), as a subquery of a patient query
    (reads, lists and refusals change nothing and are left out)."""
    return Subquery(AuditEntry.objects.filter(patient_id=OuterRef("pk"))
                    .exclude(action__in=UNCHANGING_ACTIONS).order_by("-seq").values("seq")[:1])


def last_changes(patient_ids) -> dict[int, int]:
    """Each patient's last audit entry of a change (its seq; 0 for none): one statement, which
    the partial index audit_patient_last_change answers for each patient at once."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    unchanging = ", ".join(f"'{action}'" for action in UNCHANGING_ACTIONS)  # constants
    one = (f"SELECT %s, (SELECT MAX(a.seq) FROM {AuditEntry._meta.db_table} a "  # noqa: S608
           f"WHERE a.patient_id = %s AND NOT (a.action IN ({unchanging})))")
    params: list[int] = []
    for patient_id in ids:
        params += [patient_id, patient_id]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join([one] * len(ids)), params)
        return {patient_id: last or 0 for patient_id, last in cursor.fetchall()}
