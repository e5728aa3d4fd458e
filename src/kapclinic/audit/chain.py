"""The hash chain: the canonical form of an entry and its verification.

Pure functions over plain values, so ``kapclinic audit verify`` can stream a
million rows through them without building model instances.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64

# Column order used both to hash and to read rows back for verification.
FIELDS = (
    "seq", "at", "actor_id", "actor_username", "role", "clinic_id", "patient_id",
    "object_type", "object_id", "action", "client_addr", "request_id", "detail_json",
)


def canonical_time(value: datetime | str) -> str:
    """UTC as YYYY-MM-DDTHH:MM:SS.ffffff.

    SQLite hands back Django's naive UTC text ("YYYY-MM-DD HH:MM:SS[.ffffff]"),
    PostgreSQL an aware datetime; both must hash the same. Text is reshaped
    rather than parsed: verification runs this a million times.
    """
    if isinstance(value, str):
        text = value.replace(" ", "T", 1)[:26]
        return text if len(text) == 26 else text[:19] + ".000000"
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def entry_hash(prev_hash: str, values: tuple) -> str:
    """SHA-256 over the previous hash and the entry's canonical JSON (values in FIELDS order)."""
    row = list(values)
    row[1] = canonical_time(row[1])
    return hashlib.sha256(f"{prev_hash}\n{_encode(row)}".encode()).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""


def verify_rows(rows: Iterable[tuple]) -> VerifyResult:
    """Check rows of (FIELDS..., prev_hash, hash) in ascending seq order.

    Detects an altered entry (its hash no longer matches), an inserted or
    removed entry (a seq gap or a prev_hash that does not link). Removal of the
    newest entries is only visible against a head hash kept elsewhere, which is
    why the result reports it.
    """
    prev = GENESIS
    expected_seq = 1
    checked = 0
    for row in rows:
        values, prev_hash, stored_hash = row[:-2], row[-2], row[-1]
        seq = values[0]
        if seq != expected_seq:
            return VerifyResult(False, checked, prev, seq,
                                f"expected entry #{expected_seq} next but found #{seq}: "
                                "an entry was removed or inserted")
        if prev_hash != prev:
            return VerifyResult(False, checked, prev, seq,
                                f"entry #{seq} does not link to the entry before it: "
                                "an entry was removed, inserted or altered")
        if entry_hash(prev_hash, values) != stored_hash:
            return VerifyResult(False, checked, prev, seq,
                                f"entry #{seq} was altered after it was written")
        prev = stored_hash
        expected_seq += 1
        checked += 1
    return VerifyResult(True, checked, prev)
