"""`make run` on a data folder that holds a real clinic: the server starts, no demo is loaded."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.command import kapclinic

MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"


@pytest.mark.slow
@pytest.mark.own_data_folder
def test_the_demo_step_of_make_run_skips_a_real_clinic_and_exits_0(migrated_data_folder):
    tmp_path = migrated_data_folder  # migrated, as make run does first
    made = kapclinic(tmp_path, "createclinic", "--slug", "real", "--name", "Real Clinic")
    assert made.returncode == 0, made.stderr
    refused = kapclinic(tmp_path, "demo", "--patients", "2")
    assert refused.returncode == 2  # asked for by hand: still refused, with the reason
    skipped = kapclinic(tmp_path, "demo", "--patients", "2", "--if-empty")
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped" in skipped.stdout and "real clinic" in skipped.stdout
    with sqlite3.connect(tmp_path / "kapclinic.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM accounts_clinic WHERE is_demo").fetchone()[0] == 0


def test_make_run_loads_the_demo_only_into_an_empty_database_and_takes_a_port():
    recipe = MAKEFILE.read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "kapclinic demo --if-empty" in recipe
    assert "serve --port $(PORT)" in recipe
    assert re.search(r"^PORT \?= 8000$", MAKEFILE.read_text(), re.MULTILINE)
