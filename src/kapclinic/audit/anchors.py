"""Anchors: the chain's head (hash, entry count, time) signed with the audit key and kept
outside the database, one JSON line each. Against an anchor, `kapclinic audit verify` sees a
trail rewritten before it (even an unkeyed one whose hashes were all recomputed) and entries
cut off the end. Pure functions: no Django."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

VERSION = 1
_SIGNED = ("v", "count", "head_hash", "keyed", "at")


class AnchorError(ValueError):
    """The anchors file cannot be read as anchors (one line says where and why)."""


def _mac(key: bytes, record: dict) -> str:
    signed = json.dumps([record[name] for name in _SIGNED], separators=(",", ":"))
    return hmac.digest(key, signed.encode(), "sha256").hex()


def append(path: Path, record: dict) -> None:
    """Add one anchor line to ``path`` (created if missing); OSError if it cannot."""
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


def make(key: bytes, *, count: int, head_hash: str, keyed: bool,
         at: datetime | None = None) -> dict:
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    record = {"v": VERSION, "count": count, "head_hash": head_hash, "keyed": keyed,
              "at": moment.isoformat(timespec="seconds")}
    return {**record, "mac": _mac(key, record)}


@dataclass(frozen=True)
class Anchor:
    line: int
    count: int
    head_hash: str
    at: str
    signed: bool  # the mac is right under the key given


def keyed_after(anchors: list[Anchor]) -> int | None:
    """The newest signed anchor's entry count: an anchor is signed with the key, so the key
    was in use then and every entry written after it must be keyed."""
    return max((anchor.count for anchor in anchors if anchor.signed), default=None)


def pins(anchors: list[Anchor], seq: int) -> bool:
    """Whether a signed anchor covers entry ``seq`` (its count is ``seq`` or later; that the
    trail agrees with it is checked by ``problems``)."""
    return any(anchor.signed and anchor.count >= seq for anchor in anchors)


def read(path: Path, key: bytes) -> list[Anchor]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AnchorError(f"cannot read the anchors file {path}: {exc.strerror or exc}") from exc
    anchors = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or record.get("v") != VERSION:
                raise ValueError("not an anchor record")
            count, head, mac = record["count"], record["head_hash"], record["mac"]
            if not isinstance(count, int) or count < 0 or not isinstance(head, str):
                raise ValueError("count or head_hash is not valid")
            signed = isinstance(mac, str) and hmac.compare_digest(_mac(key, record), mac)
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorError(f"{path} line {number} is not an anchor written by "
                              f"`kapclinic audit anchor` ({exc})") from exc
        anchors.append(Anchor(number, count, head, str(record["at"]), signed))
    return anchors


def problems(anchors: list[Anchor], checked: int, hashes: dict[int, str]) -> list[str]:
    """What the verified trail (``checked`` entries, ``hashes`` of the anchored ones)
    contradicts in the anchors; empty when it agrees with every one."""
    found = []
    for anchor in anchors:
        where = f"anchor of {anchor.at} (line {anchor.line})"
        if not anchor.signed:
            found.append(f"the {where} is not signed with this audit key: it was forged or "
                         "altered, or made with another key")
        elif anchor.count > checked:
            found.append(f"the trail has {checked} entries but the {where} counted "
                         f"{anchor.count}: entries were removed from the end")
        elif anchor.count and hashes.get(anchor.count) != anchor.head_hash:
            found.append(f"entry #{anchor.count} is not the one the {where} recorded: the "
                         "trail was rewritten before that anchor")
    return found
