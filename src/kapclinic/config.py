"""Configuration read from the environment, with safe defaults.

Kept apart from settings.py so the CLI can report problems (``kapclinic check``)
without importing Django.
"""

from __future__ import annotations

import ipaddress
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


PRIVATE_DIR = 0o700  # the data folder: its owner only (health records, secret key)
PRIVATE_FILE = 0o600


def _private(path: Path, wanted: int) -> None:
    """Take group and other access away from ``path`` if this account owns it (an existing
    install made before this check was world-readable; a folder owned by someone else is
    left as the operator set it)."""
    info = path.stat()
    if info.st_mode & 0o077 and info.st_uid == getattr(os, "getuid", lambda: info.st_uid)():
        path.chmod(wanted)


def data_dir() -> Path:
    """The data folder, created (and kept) readable by its owner only."""
    path = Path(os.environ.get("KAPCLINIC_DATA_DIR", "var")).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    _private(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """``path`` created empty if missing, readable and writable by its owner only (SQLite
    gives its -wal and -shm files the database file's permissions)."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE))
    _private(path, PRIVATE_FILE)
    return path


def database_url() -> str:
    url = os.environ.get("KAPCLINIC_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{private_file(data_dir() / 'kapclinic.sqlite3')}"


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
        private_file(key_file).write_text(secrets.token_urlsafe(50))
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


def base_url() -> str:
    """Where patients and staff open the links kapclinic sends (`--base-url` of the worker and
    of `kapclinic password-link` sets it for that process)."""
    return os.environ.get("KAPCLINIC_BASE_URL", "http://127.0.0.1:8000")


def default_time_zone() -> str:
    """Clinic time zone used when a clinic has none set [policy: labelled default UTC]."""
    return os.environ.get("KAPCLINIC_TIME_ZONE", "UTC")


def parse_trusted_proxies(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The reverse proxies whose X-Forwarded-For is believed: addresses or networks,
    comma-separated (``10.0.0.5, 10.1.0.0/16``)."""
    networks = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ConfigurationError(
                f"KAPCLINIC_TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                "(e.g. 10.0.0.5 or 10.0.0.0/24)") from exc
    return tuple(networks)


def trusted_proxies() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Unset: nobody's X-Forwarded-For is believed; the client is the connection's address."""
    return parse_trusted_proxies(os.environ.get("KAPCLINIC_TRUSTED_PROXIES", ""))
