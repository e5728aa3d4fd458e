"""The README is the operator's manual: every environment variable kapclinic reads is in its
configuration table, so nobody has to read the code to learn a setting exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"[\"'](KAPCLINIC_[A-Z_]+)[\"']")
NOT_OPERATOR_SETTINGS = {"KAPCLINIC_TEST_POSTGRES"}  # the test suite's own switch


def variables_read_by_the_code() -> set[str]:
    """Every quoted KAPCLINIC_* name in the code, less the Django settings of that name."""
    found = set()
    for source in (ROOT / "src" / "kapclinic").rglob("*.py"):
        found |= set(NAME.findall(source.read_text(encoding="utf-8")))
    django_settings = set(re.findall(r"^(KAPCLINIC_[A-Z_]+) =",
                                     (ROOT / "src/kapclinic/settings.py").read_text(), re.M))
    return found - django_settings - NOT_OPERATOR_SETTINGS


def test_every_environment_variable_is_in_the_readmes_configuration_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = {row.split("`")[1] for row in readme.splitlines() if row.startswith("| `KAPCLINIC_")}
    found = variables_read_by_the_code()
    assert len(found) >= 15, found  # the scan still finds what the code reads
    missing = sorted(found - table)
    assert not missing, f"add these to the README's configuration table: {', '.join(missing)}"
