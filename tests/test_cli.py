"""The `kapclinic` command, run as a user runs it: in a fresh process, on its own data folder."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.command import clean_environment, kapclinic, migrated_copy

pytestmark = pytest.mark.own_data_folder
PASSWORD = "demo-password-123"


def demo_patients(data_dir: Path) -> list[tuple]:
    with sqlite3.connect(data_dir / "kapclinic.sqlite3") as db:
        return db.execute("SELECT mrn, given_name, family_name, date_of_birth, status "
                          "FROM patients_patient ORDER BY mrn").fetchall()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("demo")
    result = kapclinic(data_dir, "demo", "--patients", "12", "--seed", "7", "--password", PASSWORD)
    assert result.returncode == 0, result.stderr
    return data_dir


@pytest.mark.slow
def test_the_demo_creates_two_clinics_with_a_login_per_role(demo_dir):  # on a folder never migrated
    with sqlite3.connect(demo_dir / "kapclinic.sqlite3") as db:
        users = {row[0] for row in db.execute("SELECT username FROM accounts_user")}
        clinics = db.execute("SELECT count(*) FROM accounts_clinic WHERE is_demo").fetchone()[0]
    roles = ["prescriber", "nurse", "therapist", "coordinator", "admin", "researcher", "patient"]
    assert users == set(roles) | {f"{role}2" for role in roles}
    assert clinics == 2
    assert len(demo_patients(demo_dir)) == 12 + 3


@pytest.mark.slow
def test_the_same_seed_gives_the_same_clinic_and_another_seed_does_not(demo_dir, migrated_data_folder,
                                                                       tmp_path_factory, tmp_path):
    again = migrated_data_folder
    other = migrated_copy(tmp_path_factory.getbasetemp(), tmp_path / "other")
    kapclinic(again, "demo", "--patients", "12", "--seed", "7", "--password", PASSWORD)
    kapclinic(other, "demo", "--patients", "12", "--seed", "8", "--password", PASSWORD)
    assert demo_patients(again) == demo_patients(demo_dir)
    assert demo_patients(other) != demo_patients(demo_dir)


@pytest.mark.slow
def test_running_the_demo_again_keeps_the_data(demo_dir):
    before = demo_patients(demo_dir)
    result = kapclinic(demo_dir, "demo", "--password", PASSWORD)
    assert result.returncode == 0 and "already loaded" in result.stdout
    assert demo_patients(demo_dir) == before


@pytest.mark.slow
def test_the_default_demo_password_is_printed_once(migrated_data_folder):
    result = kapclinic(migrated_data_folder, "demo", "--patients", "2")
    assert result.returncode == 0 and "Password for every demo login:" in result.stdout
    again = kapclinic(migrated_data_folder, "demo")
    assert "Password" not in again.stdout


@pytest.mark.slow
def test_the_demo_refuses_a_database_holding_real_data(migrated_data_folder):
    folder = migrated_data_folder
    made = kapclinic(folder, "createclinic", "--slug", "real", "--name", "Real Clinic",
                     "--time-zone", "America/Chicago")
    assert made.returncode == 0, made.stderr
    refused = kapclinic(folder, "demo", "--password", PASSWORD)
    assert refused.returncode == 2 and "non-demo data" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_user_is_created_in_a_clinic_with_a_role_and_gets_a_token(migrated_data_folder):
    folder = migrated_data_folder
    kapclinic(folder, "createclinic", "--slug", "north", "--name", "North")
    made = kapclinic(folder, "createuser", "--username", "pat", "--role", "nurse",
                     "--clinic", "north", "--password", "a long enough password")
    assert made.returncode == 0, made.stderr
    token = kapclinic(folder, "token", "create", "--user", "pat", "--scope", "write")
    assert token.returncode == 0 and token.stdout.startswith("kap_")
    assert "shown only now" in token.stderr


@pytest.mark.parametrize("args, message", [
    (["createuser", "--username", "x", "--role", "wizard", "--clinic", "north",
      "--password", "a long enough password"], "unknown role 'wizard'"),
    (["createuser", "--username", "x", "--role", "nurse", "--clinic", "nowhere",
      "--password", "a long enough password"], "no clinic 'nowhere'"),
    (["token", "create", "--user", "ghost"], "no user 'ghost'"),
    (["token", "create", "--user", "ghost", "--scope", "admin"], "invalid choice"),
    (["demo", "--patients", "-3"], "must be 1 or more"),
    (["mfa", "reset", "ghost"], "no user 'ghost'"),
    (["createuser", "--username", "pat2", "--role", "patient", "--clinic", "north",
      "--password", "a long enough password"], "createuser makes staff logins"),
    (["mfa", "reset", "nurse"], "nurse has no authenticator to remove"),
    (["createclinic", "--slug", "x", "--name", "X", "--time-zone", "Mars/Olympus"], "time_zone"),
])
@pytest.mark.slow
def test_bad_arguments_exit_2_with_one_line(demo_dir, args, message):
    result = kapclinic(demo_dir, *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_audit_verify_passes_then_names_a_tampered_entry(demo_dir, tmp_path):
    ok = kapclinic(demo_dir, "audit", "verify")
    assert ok.returncode == 0 and "intact" in ok.stdout
    head = ok.stdout.rsplit("head hash ", 1)[1].strip()
    assert kapclinic(demo_dir, "audit", "verify", "--expect-head", head).returncode == 0
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "kapclinic.sqlite3").write_bytes((demo_dir / "kapclinic.sqlite3").read_bytes())
    with sqlite3.connect(copy / "kapclinic.sqlite3") as db:
        db.execute("UPDATE audit_auditentry SET actor_username = 'mallory' WHERE seq = 4")
    broken = kapclinic(copy, "audit", "verify")
    assert broken.returncode == 1 and "entry #4" in broken.stderr
    with sqlite3.connect(copy / "kapclinic.sqlite3") as db:
        db.execute("UPDATE audit_auditentry SET actor_username = 'kapclinic demo' WHERE seq = 4")
        db.execute("DELETE FROM audit_auditentry WHERE seq = (SELECT max(seq) FROM audit_auditentry)")
    truncated = kapclinic(copy, "audit", "verify", "--expect-head", head)
    assert truncated.returncode == 1 and "removed from the end" in truncated.stderr


def test_check_reports_no_problems_on_a_sound_setup(tmp_path):
    result = kapclinic(tmp_path, "check")
    assert result.returncode == 0 and "no issues" in result.stdout


def test_check_reports_an_unreachable_database_by_its_stable_id(tmp_path):
    result = kapclinic(tmp_path, "check",
                       env={"KAPCLINIC_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.returncode == 2 and "kapclinic.E002" in result.stderr


def test_production_refuses_to_start_without_a_secret_or_with_debug_on(tmp_path):
    no_secret = kapclinic(tmp_path, "check", env={"KAPCLINIC_ENV": "production"})
    assert no_secret.returncode == 2 and "KAPCLINIC_SECRET_KEY is not set" in no_secret.stderr
    debug = kapclinic(tmp_path, "check", env={"KAPCLINIC_ENV": "production",
                                              "KAPCLINIC_SECRET_KEY": "x" * 50,
                                              "KAPCLINIC_DEBUG": "1"})
    assert debug.returncode == 2 and "KAPCLINIC_DEBUG is on in production" in debug.stderr


def test_development_generates_the_secret_once_and_keeps_it(tmp_path):
    kapclinic(tmp_path, "check")
    first = (tmp_path / "secret_key").read_text()
    kapclinic(tmp_path, "check")
    assert (tmp_path / "secret_key").read_text() == first and len(first) >= 50
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"


@pytest.mark.slow
def test_sqlite_runs_with_wal_and_foreign_keys(demo_dir):
    with sqlite3.connect(demo_dir / "kapclinic.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_django_management_commands_stay_reachable(tmp_path):
    result = kapclinic(tmp_path, "manage", "showmigrations", "audit")
    assert result.returncode == 0 and "0002_refuse_changes_on_postgresql" in result.stdout


@pytest.mark.slow
def test_management_commands_that_would_wipe_or_bypass_the_audit_trail_are_refused(demo_dir):
    before = demo_patients(demo_dir)
    for command in (["flush", "--noinput"], ["sqlflush"], ["changepassword", "nurse"],
                    ["createsuperuser", "--noinput", "--username", "root"]):
        result = kapclinic(demo_dir, "manage", *command)
        assert result.returncode == 2, command
        assert f"'kapclinic manage {command[0]}' is refused" in result.stderr
    assert demo_patients(demo_dir) == before  # nothing was wiped


@pytest.mark.slow
def test_the_operator_gives_a_set_password_link_and_the_trail_says_so(demo_dir):
    result = kapclinic(demo_dir, "password-link", "nurse", "--base-url", "https://care.example")
    assert result.returncode == 0
    assert "https://care.example/" in result.stdout and "single-use link" in result.stdout
    with sqlite3.connect(demo_dir / "kapclinic.sqlite3") as db:
        actor, detail = db.execute(
            "SELECT actor_username, detail_json FROM audit_auditentry WHERE detail_json LIKE "
            "'%password_link%' ORDER BY seq DESC LIMIT 1").fetchone()
    assert actor == "kapclinic password-link" and "issued by the server" in detail
    assert kapclinic(demo_dir, "password-link", "nobody").returncode == 2


@pytest.mark.slow
def test_the_demo_json_of_me_works_over_a_real_token(demo_dir):
    token = kapclinic(demo_dir, "token", "create", "--user", "nurse").stdout.strip()
    code = ("import json,os,django;os.environ['DJANGO_SETTINGS_MODULE']='kapclinic.settings';"
            "django.setup();from django.test import Client;"
            f"print(json.dumps(Client().get('/api/v1/me',HTTP_AUTHORIZATION='Bearer {token}').json()))")
    env = clean_environment()
    env.update({"KAPCLINIC_ENV": "development", "KAPCLINIC_DATA_DIR": str(demo_dir),
                "KAPCLINIC_ALLOWED_HOSTS": "testserver"})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    assert json.loads(out.stdout)["active_clinic"]["role"] == "nurse"


@pytest.mark.slow
def test_a_lost_authenticator_is_reset_from_the_command_line(demo_dir):
    made = kapclinic(demo_dir, "manage", "shell", "-c",
                     "from django_otp.plugins.otp_totp.models import TOTPDevice as D; "
                     "from kapclinic.accounts.models import User; "
                     "D.objects.create(user=User.objects.get(username='admin'), name='phone')")
    assert made.returncode == 0, made.stderr
    result = kapclinic(demo_dir, "mfa", "reset", "admin")
    assert result.returncode == 0 and "admin's authenticator was removed" in result.stdout
    assert kapclinic(demo_dir, "mfa", "reset", "admin").returncode == 2  # nothing left


@pytest.mark.parametrize("command", [["loaddata", "people.json"],
                                     ["migrate", "patients", "zero", "--noinput"]])
def test_management_commands_that_write_unaudited_or_drop_tables_are_refused(command, capsys):
    from kapclinic import cli

    assert cli.main(["manage", *command]) == 2
    assert f"'kapclinic manage {command[0]}' is refused" in capsys.readouterr().err
