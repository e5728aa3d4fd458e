"""The audit key: kept outside the database, so write access to the database is not enough
to rewrite the trail and recompute its hashes (docs/adr/0004-keyed-audit-chain-and-anchors.md).

Read on each use (an environment variable or a small file), so setting it needs no
migration: entries written from then on are keyed, older ones stay plain SHA-256.
"""

from __future__ import annotations

import os
from pathlib import Path

from kapclinic import config

ENV_KEY = "KAPCLINIC_AUDIT_KEY"
ENV_FILE = "KAPCLINIC_AUDIT_KEY_FILE"
DEFAULT_FILE = "audit.key"  # in the data folder
# Where kapclinic itself anchors the first keyed entry (anchors.py), outside the database.
ENV_ANCHORS = "KAPCLINIC_AUDIT_ANCHORS_FILE"
DEFAULT_ANCHORS = "audit-anchors.jsonl"  # in the data folder
MIN_LENGTH = 32
HOW = (f"set {ENV_KEY}, or {ENV_FILE} to a file holding it, or put it in {DEFAULT_FILE} in "
       "the data folder")


def _checked(text: str, where: str) -> bytes:
    text = text.strip()
    if len(text) < MIN_LENGTH:
        raise config.ConfigurationError(
            f"the audit key in {where} is too short: use at least {MIN_LENGTH} random characters "
            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')")
    return text.encode()


def _read(path: Path, where: str) -> bytes:
    try:
        return _checked(path.read_text(encoding="utf-8"), where)
    except OSError as exc:
        raise config.ConfigurationError(
            f"cannot read the audit key file {path}: {exc.strerror or exc}") from exc


def _data_dir() -> Path:
    return Path(os.environ.get("KAPCLINIC_DATA_DIR", "var")).resolve()


def default_key_file() -> Path | None:
    """The data folder's audit.key when that is where the key comes from (neither
    KAPCLINIC_AUDIT_KEY nor KAPCLINIC_AUDIT_KEY_FILE set, and the file exists)."""
    if os.environ.get(ENV_KEY, "").strip() or os.environ.get(ENV_FILE, "").strip():
        return None
    default = _data_dir() / DEFAULT_FILE
    return default if default.is_file() else None


def audit_key() -> bytes | None:
    """The key, or None when the trail runs unkeyed (plain SHA-256, the default)."""
    text = os.environ.get(ENV_KEY, "")
    if text.strip():
        return _checked(text, ENV_KEY)
    named = os.environ.get(ENV_FILE, "").strip()
    if named:
        return _read(Path(named), f"{ENV_FILE} ({named})")
    default = default_key_file()
    if default is not None:
        return _read(default, str(default))
    return None


def anchors_file() -> Path:
    """Where the first keyed entry is anchored automatically: KAPCLINIC_AUDIT_ANCHORS_FILE,
    or audit-anchors.jsonl in the data folder."""
    named = os.environ.get(ENV_ANCHORS, "").strip()
    return Path(named) if named else _data_dir() / DEFAULT_ANCHORS
