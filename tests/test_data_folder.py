"""The data folder and the SQLite database are private to the account that runs kapclinic
(security issue, item 9): another local user cannot read the clinic's health records."""

from __future__ import annotations

import sqlite3
import stat

from kapclinic import config


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_folder_and_database_are_readable_by_their_owner_only(tmp_path, monkeypatch):
    folder = tmp_path / "var"
    monkeypatch.setenv("KAPCLINIC_DATA_DIR", str(folder))
    monkeypatch.delenv("KAPCLINIC_DATABASE_URL", raising=False)
    url = config.database_url()
    database = folder / "kapclinic.sqlite3"
    assert url.endswith(str(database))
    sqlite3.connect(database).execute("PRAGMA journal_mode=WAL").fetchall()
    assert mode(folder) == 0o700
    assert mode(database) == 0o600
    for extra in folder.glob("kapclinic.sqlite3-*"):  # the WAL files SQLite made beside it
        assert mode(extra) & 0o077 == 0, extra


def test_an_existing_world_readable_data_folder_and_database_are_made_private(tmp_path,
                                                                              monkeypatch):
    folder = tmp_path / "var"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    database = folder / "kapclinic.sqlite3"
    database.write_bytes(b"")
    database.chmod(0o644)
    monkeypatch.setenv("KAPCLINIC_DATA_DIR", str(folder))
    monkeypatch.delenv("KAPCLINIC_DATABASE_URL", raising=False)
    config.database_url()
    assert (mode(folder), mode(database)) == (0o700, 0o600)


def test_the_development_secret_key_file_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("KAPCLINIC_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("KAPCLINIC_ENV", "development")
    monkeypatch.delenv("KAPCLINIC_SECRET_KEY", raising=False)
    config.secret_key()
    assert mode(tmp_path / "var" / "secret_key") == 0o600
