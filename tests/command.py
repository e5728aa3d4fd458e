"""The `kapclinic` command run as a user runs it: in a fresh process, on a data folder of its own
(its own SQLite file), with none of the test run's settings.

Such a test never touches the database under test, so the PostgreSQL pass leaves it out (the
`own_data_folder` marker): it would run the very same SQLite file again. Migrating a new data
folder takes a subprocess about 13 s; `migrated_data_folder` copies one migrated once per test
process instead, which a test that is not about migrating uses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

DATABASE = "kapclinic.sqlite3"


def clean_environment() -> dict[str, str]:
    """The user's environment: none of the test run's settings leak into the command."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("KAPCLINIC_") and k != "DJANGO_SETTINGS_MODULE"}


def environment(data_dir: Path, extra: dict | None = None) -> dict[str, str]:
    env = clean_environment()
    env.update({"KAPCLINIC_ENV": "development", "KAPCLINIC_DATA_DIR": str(data_dir), **(extra or {})})
    return env


def kapclinic(data_dir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kapclinic.cli", *args], capture_output=True,
                          text=True, env=environment(data_dir, env), timeout=300,
                          check=False)  # migrations + demo, busy CI


_template: Path | None = None


def migrated_copy(template_parent: Path, data_dir: Path) -> Path:
    """``data_dir`` holding a freshly migrated, empty database (one migration per process)."""
    global _template
    if _template is None:
        template = template_parent / "migrated-template"
        template.mkdir(parents=True, exist_ok=True)
        result = kapclinic(template, "manage", "migrate", "-v0")
        assert result.returncode == 0, result.stderr
        _template = template
    data_dir.mkdir(parents=True, exist_ok=True)
    for file in _template.glob(f"{DATABASE}*"):  # with a WAL file, should one be left
        shutil.copyfile(file, data_dir / file.name)
    return data_dir
