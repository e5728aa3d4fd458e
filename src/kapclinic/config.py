"""Configuration read from the environment, with safe defaults.

Kept apart from settings.py so the CLI can report problems (``kapclinic check``)
without importing Django.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

TRUE_WORDS = {"1", "true", "yes", "on"}


class ConfigurationError(RuntimeError):
    """The environment asks for something unsafe or impossible."""


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in TRUE_WORDS


def data_dir() -> Path:
    path = Path(os.environ.get("KAPCLINIC_DATA_DIR", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    return os.environ.get("KAPCLINIC_DATABASE_URL") or f"sqlite:///{data_dir() / 'kapclinic.sqlite3'}"


def is_production() -> bool:
    """Production unless the operator says otherwise: the safe side is the default."""
    return os.environ.get("KAPCLINIC_ENV", "production").strip().lower() != "development"


def secret_key() -> str:
    """The secret key; in development it is generated once into the data folder.

    Production refuses to start without an explicit key: a generated key on a
    server would silently log everyone out on a new disk and hide a missing setting.
    """
    key = os.environ.get("KAPCLINIC_SECRET_KEY", "").strip()
    if key:
        if len(key) < 32:
            raise ConfigurationError("KAPCLINIC_SECRET_KEY is too short: use at least 32 characters")
        return key
    if is_production():
        raise ConfigurationError(
            "KAPCLINIC_SECRET_KEY is not set: set it (50 random characters) or, on a developer "
            "machine only, set KAPCLINIC_ENV=development"
        )
    key_file = data_dir() / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def debug() -> bool:
    on = env_flag("KAPCLINIC_DEBUG")
    if on and is_production():
        raise ConfigurationError(
            "KAPCLINIC_DEBUG is on in production: turn it off, or set KAPCLINIC_ENV=development"
        )
    return on


def allowed_hosts() -> list[str]:
    raw = os.environ.get("KAPCLINIC_ALLOWED_HOSTS", "127.0.0.1,localhost")
    return [host.strip() for host in raw.split(",") if host.strip()]


def default_time_zone() -> str:
    """Clinic time zone used when a clinic has none set [policy: labelled default UTC]."""
    return os.environ.get("KAPCLINIC_TIME_ZONE", "UTC")
