"""The database a bench runs on, set up before Django is: a throwaway SQLite data folder, or a
scratch PostgreSQL database made if missing. Imported by the bench scripts (run as
`python bench/bench_x.py`, so this folder is on the path)."""

from __future__ import annotations

import os
import tempfile


def use(database: str, *, postgres_url: str, prefix: str, data_dir: str | None = None) -> None:
    """Point kapclinic's settings at the bench's database (call before django.setup())."""
    os.environ["KAPCLINIC_ENV"] = "development"
    os.environ["KAPCLINIC_DATA_DIR"] = data_dir or tempfile.mkdtemp(prefix=f"kapclinic-bench-{prefix}-")
    os.environ["KAPCLINIC_ALLOWED_HOSTS"] = "testserver"
    if database == "postgres":
        import psycopg

        admin_url, _, name = postgres_url.rpartition("/")
        with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                admin.execute(f'CREATE DATABASE "{name}"')
        os.environ["KAPCLINIC_DATABASE_URL"] = postgres_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "kapclinic.settings"
