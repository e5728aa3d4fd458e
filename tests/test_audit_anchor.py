"""A keyed audit chain (HMAC with a key kept outside the database) and signed anchors of its
head: someone who can write to the database can no longer rewrite the trail and recompute
every hash, nor cut entries off before an anchor, without `kapclinic audit verify` saying so."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.test import TestCase

from kapclinic import cli
from kapclinic.audit import chain, trail
from kapclinic.audit.models import AuditEntry
from tests.test_audit_trail import tamper

KEY = "k" * 16 + "0123456789abcdef0123"  # 36 characters
pytestmark = pytest.mark.django_db


def write_entries(count: int) -> None:
    for n in range(count):
        trail.record("read", object_type="patient", object_id=n, patient_id=n)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def rewrite_everything(change_seq: int, keyed: bool = False) -> None:
    """The attack the key is for: change an entry, then recompute every hash (plain SHA-256:
    the attacker has the database, not the key), marking the entries keyed or not."""
    prev = chain.GENESIS
    for values in AuditEntry.objects.order_by("seq").values_list(*chain.FIELDS):
        values = list(values)
        if values[0] == change_seq:
            values[8] = "forged"
        digest = chain.entry_hash(prev, tuple(values))
        tamper("UPDATE audit_auditentry SET object_id = %s, keyed = %s, prev_hash = %s, "
               "hash = %s WHERE seq = %s", [values[8], keyed, prev, digest, values[0]])
        prev = digest


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv("KAPCLINIC_AUDIT_KEY", KEY)


@pytest.fixture(autouse=True)
def auto_anchors(monkeypatch, tmp_path):
    """Where kapclinic anchors the first keyed entry by itself (one file per test)."""
    path = tmp_path / "auto-anchors.jsonl"
    monkeypatch.setenv("KAPCLINIC_AUDIT_ANCHORS_FILE", str(path))
    return path


def commit_entries(count: int) -> None:
    """Write entries as the app does, running what happens after its transaction commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        write_entries(count)


def test_with_a_key_entries_are_keyed_and_verify(keyed):
    write_entries(3)
    assert all(AuditEntry.objects.values_list("keyed", flat=True))
    result = trail.verify()
    assert result.ok and result.checked == 3 and result.keyed_from == 1


def test_rewriting_a_keyed_trail_and_recomputing_the_hashes_is_caught(keyed):
    write_entries(4)
    rewrite_everything(change_seq=2, keyed=True)
    result = trail.verify()
    assert not result.ok and result.first_bad_seq == 1 and "audit key" in result.problem


def test_a_keyed_trail_rewritten_as_an_unkeyed_one_is_caught_by_its_anchor(capsys, keyed,
                                                                            tmp_path):
    write_entries(4)
    anchors = tmp_path / "anchors.jsonl"
    run(capsys, "audit", "anchor", "--out", str(anchors))
    rewrite_everything(change_seq=2, keyed=False)
    code, _, err = run(capsys, "audit", "verify", "--anchors", str(anchors))
    assert code == 1 and "rewritten" in err


def test_hashes_recomputed_with_another_key_are_caught(keyed, monkeypatch):
    write_entries(2)
    monkeypatch.setenv("KAPCLINIC_AUDIT_KEY", "another key, at least 32 characters long")
    result = trail.verify()
    assert not result.ok and result.first_bad_seq == 1


def test_an_unkeyed_trail_stays_verifiable_after_the_key_is_turned_on(monkeypatch):
    write_entries(3)
    monkeypatch.setenv("KAPCLINIC_AUDIT_KEY", KEY)
    write_entries(2)
    assert list(AuditEntry.objects.order_by("seq").values_list("keyed", flat=True)) == [
        False, False, False, True, True]
    result = trail.verify()
    assert result.ok and result.checked == 5 and result.keyed_from == 4


def test_turning_keyed_entries_back_into_unkeyed_ones_is_caught(monkeypatch):
    write_entries(2)
    monkeypatch.setenv("KAPCLINIC_AUDIT_KEY", KEY)
    write_entries(2)
    head = AuditEntry.objects.get(seq=4)
    values = AuditEntry.objects.filter(seq=4).values_list(*chain.FIELDS).get()
    tamper("UPDATE audit_auditentry SET keyed = %s, hash = %s WHERE seq = 4",
           [False, chain.entry_hash(head.prev_hash, values)])
    result = trail.verify()
    assert not result.ok and result.first_bad_seq == 4 and "not keyed" in result.problem


def test_a_keyed_trail_without_the_key_says_how_to_give_it(capsys, keyed, monkeypatch):
    write_entries(2)
    monkeypatch.delenv("KAPCLINIC_AUDIT_KEY")
    code, _, err = run(capsys, "audit", "verify")
    assert code == 2 and "KAPCLINIC_AUDIT_KEY" in err and len(err.strip().splitlines()) == 1


def test_a_short_key_is_refused_in_one_line(capsys, monkeypatch):
    monkeypatch.setenv("KAPCLINIC_AUDIT_KEY", "short")
    code, _, err = run(capsys, "audit", "verify")
    assert code == 2 and "at least 32" in err and len(err.strip().splitlines()) == 1


def test_the_key_may_live_in_a_file_outside_the_database(capsys, monkeypatch, tmp_path):
    key_file = tmp_path / "audit.key"
    key_file.write_text(KEY + "\n")
    monkeypatch.setenv("KAPCLINIC_AUDIT_KEY_FILE", str(key_file))
    write_entries(2)
    assert AuditEntry.objects.filter(keyed=True).count() == 2
    assert run(capsys, "audit", "verify")[0] == 0


# ---- anchors -------------------------------------------------------------------------------

def test_an_anchor_is_a_signed_head_record_appended_to_a_file(capsys, keyed, tmp_path):
    write_entries(3)
    anchors = tmp_path / "anchors.jsonl"
    assert run(capsys, "audit", "anchor", "--out", str(anchors))[0] == 0
    write_entries(2)
    assert run(capsys, "audit", "anchor", "--out", str(anchors))[0] == 0
    lines = [json.loads(line) for line in anchors.read_text().splitlines()]
    assert [a["count"] for a in lines] == [3, 5]
    assert lines[1]["head_hash"] == AuditEntry.objects.get(seq=5).hash
    assert all(a["mac"] and a["at"] for a in lines)
    code, out, _ = run(capsys, "audit", "verify", "--anchors", str(anchors))
    assert code == 0 and "2 anchors" in out


def test_anchor_prints_to_the_terminal_without_a_file(capsys, keyed):
    write_entries(1)
    code, out, _ = run(capsys, "audit", "anchor")
    assert code == 0 and json.loads(out)["count"] == 1


def test_anchors_catch_an_unkeyed_trail_rewritten_before_them(capsys, tmp_path, monkeypatch):
    write_entries(4)  # an old, unkeyed trail: the attacker can recompute its hashes
    monkeypatch.setenv("KAPCLINIC_AUDIT_KEY", KEY)
    anchors = tmp_path / "anchors.jsonl"
    run(capsys, "audit", "anchor", "--out", str(anchors))
    rewrite_everything(change_seq=2)
    code, _, err = run(capsys, "audit", "verify")  # with the key set, an unkeyed head is
    assert code == 1 and "newest entry #4 is not keyed" in err  # suspect, not "intact"
    code, _, err = run(capsys, "audit", "verify", "--anchors", str(anchors))
    assert code == 1 and "rewritten" in err


def test_anchors_catch_entries_cut_off_the_end(capsys, keyed, tmp_path):
    write_entries(5)
    anchors = tmp_path / "anchors.jsonl"
    run(capsys, "audit", "anchor", "--out", str(anchors))
    tamper("DELETE FROM audit_auditentry WHERE seq >= %s", [4])
    code, _, err = run(capsys, "audit", "verify", "--anchors", str(anchors))
    assert code == 1 and "removed" in err and "5" in err


def test_a_forged_anchor_is_refused(capsys, keyed, tmp_path):
    write_entries(3)
    anchors = tmp_path / "anchors.jsonl"
    run(capsys, "audit", "anchor", "--out", str(anchors))
    record = json.loads(anchors.read_text())
    record["count"] = 2
    record["head_hash"] = AuditEntry.objects.get(seq=2).hash
    anchors.write_text(json.dumps(record) + "\n")
    code, _, err = run(capsys, "audit", "verify", "--anchors", str(anchors))
    assert code == 1 and "not signed" in err


def test_anchoring_needs_the_key(capsys, tmp_path):
    write_entries(1)
    code, _, err = run(capsys, "audit", "anchor", "--out", str(tmp_path / "a.jsonl"))
    assert code == 2 and "KAPCLINIC_AUDIT_KEY" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a.jsonl").exists()


def test_an_unreadable_anchors_file_is_one_line_naming_it(capsys, keyed, tmp_path):
    write_entries(1)
    bad = tmp_path / "anchors.jsonl"
    bad.write_text("not json\n")
    code, _, err = run(capsys, "audit", "verify", "--anchors", str(bad))
    assert code == 2 and "line 1" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "audit", "verify", "--anchors", str(tmp_path / "missing"))
    assert code == 2 and "missing" in err


def test_an_unusable_key_stops_the_start_up_checks_with_a_stable_id(monkeypatch, tmp_path):
    from django.core.checks import run_checks

    monkeypatch.setenv("KAPCLINIC_AUDIT_KEY_FILE", str(tmp_path / "no-such-file"))
    found = [problem for problem in run_checks() if problem.id == "kapclinic.E010"]
    assert found and "no-such-file" in found[0].msg


# ---- a keyed trail downgraded to an unkeyed one (security review F2) ------------------------

def test_the_first_keyed_entry_is_anchored_outside_the_database_by_itself(keyed, auto_anchors):
    commit_entries(2)
    commit_entries(3)
    lines = [json.loads(line) for line in auto_anchors.read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["count"] == 1 and lines[0]["keyed"] is True
    assert lines[0]["head_hash"] == AuditEntry.objects.get(seq=1).hash


def test_the_first_keyed_entry_after_unkeyed_ones_is_the_one_anchored(monkeypatch, auto_anchors):
    commit_entries(3)
    assert not auto_anchors.exists()
    monkeypatch.setenv("KAPCLINIC_AUDIT_KEY", KEY)
    commit_entries(2)
    [line] = [json.loads(line) for line in auto_anchors.read_text().splitlines()]
    assert line["count"] == 4 and line["head_hash"] == AuditEntry.objects.get(seq=4).hash


def test_a_keyed_write_that_is_rolled_back_anchors_nothing(keyed, auto_anchors):
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        write_entries(1)
        transaction.set_rollback(True)
    assert not auto_anchors.exists()


def test_a_keyed_trail_rewritten_whole_as_unkeyed_fails_verify_with_the_key_alone(capsys,
                                                                                 keyed):
    commit_entries(4)
    rewrite_everything(change_seq=2, keyed=False)
    code, out, err = run(capsys, "audit", "verify")
    assert code == 1 and "BROKEN" in err and "before the audit key was set" not in out


def test_a_downgraded_trail_stays_caught_after_the_app_writes_keyed_entries_again(capsys,
                                                                                 keyed):
    commit_entries(4)
    rewrite_everything(change_seq=2, keyed=False)
    commit_entries(1)  # the app goes on writing, keyed, on top of the forged entries
    code, out, err = run(capsys, "audit", "verify")
    assert code == 1 and "rewritten" in err and "intact" not in out


def test_with_a_key_verify_fails_when_the_newest_entry_is_unkeyed(capsys, keyed, auto_anchors):
    commit_entries(3)
    auto_anchors.unlink()  # the attacker removed the automatic anchor too
    rewrite_everything(change_seq=2, keyed=False)
    code, _, err = run(capsys, "audit", "verify")
    assert code == 1 and "newest entry #3 is not keyed" in err
    assert len(err.strip().splitlines()) == 1


def test_an_unkeyed_entry_after_a_signed_anchor_fails_verify(capsys, monkeypatch, tmp_path):
    write_entries(2)
    monkeypatch.setenv("KAPCLINIC_AUDIT_KEY", KEY)
    anchors = tmp_path / "anchors.jsonl"
    run(capsys, "audit", "anchor", "--out", str(anchors))  # the key existed at entry #2
    monkeypatch.delenv("KAPCLINIC_AUDIT_KEY")
    write_entries(2)  # #3 and #4 unkeyed: made without the key after it was in use
    monkeypatch.setenv("KAPCLINIC_AUDIT_KEY", KEY)
    write_entries(1)
    assert run(capsys, "audit", "verify")[0] == 0  # looks like a key set at #5...
    code, _, err = run(capsys, "audit", "verify", "--anchors", str(anchors))
    assert code == 1 and "#3" in err and "not keyed" in err  # ...but the anchor says not


def test_verify_says_unkeyed_entries_predate_the_key_only_when_an_anchor_shows_it(
        capsys, monkeypatch, auto_anchors):
    write_entries(3)
    monkeypatch.setenv("KAPCLINIC_AUDIT_KEY", KEY)
    commit_entries(2)
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0 and "#1-#3" in out and "before the audit key was set" in out
    auto_anchors.unlink()
    code, out, err = run(capsys, "audit", "verify")
    assert code == 0 and "before the audit key was set" not in out
    assert "nothing shows" in err and "#1-#3" in err


def test_the_automatic_anchors_file_lives_in_the_data_folder_by_default(keyed, monkeypatch,
                                                                        tmp_path):
    monkeypatch.delenv("KAPCLINIC_AUDIT_ANCHORS_FILE")
    monkeypatch.setenv("KAPCLINIC_DATA_DIR", str(tmp_path))
    commit_entries(1)
    assert json.loads((tmp_path / "audit-anchors.jsonl").read_text())["count"] == 1


def test_a_key_read_from_the_data_folder_beside_the_database_is_warned_about(monkeypatch,
                                                                             tmp_path):
    from django.core.checks import run_checks

    monkeypatch.setenv("KAPCLINIC_DATA_DIR", str(tmp_path))
    (tmp_path / "audit.key").write_text(KEY)
    found = [problem for problem in run_checks() if problem.id == "kapclinic.W010"]
    assert found and str(tmp_path / "audit.key") in found[0].msg
    monkeypatch.setenv("KAPCLINIC_AUDIT_KEY", KEY)
    assert not [problem for problem in run_checks() if problem.id == "kapclinic.W010"]
