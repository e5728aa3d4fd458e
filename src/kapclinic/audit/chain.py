"""The hash chain: the canonical form of an entry and its verification.

Pure functions over plain values, so ``kapclinic audit verify`` can stream a
million rows through them without building model instances.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
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


def entry_hash(prev_hash: str, values: tuple, key: bytes | None = None) -> str:
    """SHA-256 over the previous hash and the entry's canonical JSON (values in FIELDS order);
    with ``key``, HMAC-SHA256 under it instead (a keyed entry)."""
    row = list(values)
    row[1] = canonical_time(row[1])
    message = f"{prev_hash}\n{_encode(row)}".encode()
    if key is not None:
        return hmac.digest(key, message, "sha256").hex()
    return hashlib.sha256(message).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""
    keyed_from: int | None = None  # the first keyed entry, if any
    head_keyed: bool = False  # the newest entry checked is keyed
    needs_key: bool = False  # keyed entries, and no key to check them with
    # The hash of each entry asked for (anchors), as verified.
    hashes: dict[int, str] = field(default_factory=dict)


def verify_rows(rows: Iterable[tuple], key: bytes | None = None,
                wanted: frozenset[int] = frozenset(),
                keyed_after: int | None = None) -> VerifyResult:
    """Check rows of (FIELDS..., keyed, prev_hash, hash) in ascending seq order.

    Detects an altered entry (its hash no longer matches), an inserted or
    removed entry (a seq gap or a prev_hash that does not link), and an unkeyed
    entry after a keyed one (rewritten by someone without the key). Removal of the
    newest entries, or an unkeyed trail rewritten whole, is only visible against a
    head kept elsewhere (an anchor), which is why the result reports the head and the
    hashes of the ``wanted`` entries.
    """
    prev = GENESIS
    expected_seq = 1
    checked = 0
    keyed_from = None
    head_keyed = False
    hashes: dict[int, str] = {}

    def broken(seq: int, problem: str, needs_key: bool = False) -> VerifyResult:
        return VerifyResult(False, checked, prev, seq, problem, keyed_from, False, needs_key,
                            hashes)

    for row in rows:
        values, keyed, prev_hash, stored_hash = row[:-3], row[-3], row[-2], row[-1]
        seq = values[0]
        if seq != expected_seq:
            return broken(seq, f"expected entry #{expected_seq} next but found #{seq}: "
                               "an entry was removed or inserted")
        if prev_hash != prev:
            return broken(seq, f"entry #{seq} does not link to the entry before it: "
                               "an entry was removed, inserted or altered")
        if keyed:
            if key is None:
                return broken(seq, f"entries from #{seq} on are keyed: give the audit key to "
                                   "verify them", needs_key=True)
            keyed_from = keyed_from or seq
        elif keyed_from is not None:
            return broken(seq, f"entry #{seq} is not keyed although #{keyed_from} before it "
                               "is: it was rewritten by someone without the audit key")
        elif keyed_after is not None and seq > keyed_after:
            return broken(seq, f"entry #{seq} is not keyed although an anchor signed with the "
                               f"audit key shows the key was in use at entry #{keyed_after}: "
                               "it was rewritten by someone without the audit key")
        if entry_hash(prev_hash, values, key if keyed else None) != stored_hash:
            if key is not None and not keyed:
                return broken(seq, f"entry #{seq} was altered after it was written, or "
                                   "rewritten without the audit key")
            return broken(seq, f"entry #{seq} was altered after it was written"
                               + (" (or the audit key is not the one it was written with)"
                                  if keyed else ""))
        prev = stored_hash
        head_keyed = bool(keyed)
        if seq in wanted:
            hashes[seq] = stored_hash
        expected_seq += 1
        checked += 1
    return VerifyResult(True, checked, prev, keyed_from=keyed_from, head_keyed=head_keyed,
                        hashes=hashes)
