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


def audit_key() -> bytes | None:
    """The key, or None when the trail runs unkeyed (plain SHA-256, the default)."""
    text = os.environ.get(ENV_KEY, "")
    if text.strip():
        return _checked(text, ENV_KEY)
    named = os.environ.get(ENV_FILE, "").strip()
    if named:
        return _read(Path(named), f"{ENV_FILE} ({named})")
    default = Path(os.environ.get("KAPCLINIC_DATA_DIR", "var")).resolve() / DEFAULT_FILE
    if default.is_file():
        return _read(default, str(default))
    return None
