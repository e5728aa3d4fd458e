"""Two stations taking the same step at the same moment: one wins, the other is told, and the
step is stored once (PostgreSQL, real concurrent transactions)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from kapclinic.treatment import actions
from kapclinic.treatment.errors import SessionConflict
from kapclinic.treatment.models import Session, SessionEvent
from tests.treatment.helpers import minutes_ago, session


def race(s: Session, by, version: int | None) -> list[str]:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def take() -> None:
        try:
            barrier.wait()
            actions.transition(s, to="checked_in", at=minutes_ago(1), by=by, expected_version=version)
            outcomes.append("applied")
        except SessionConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return sorted(outcomes)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("version", [1, None], ids=["with the version read", "without a version"])
def test_a_step_raced_by_another_station_is_applied_once(patient, prescriber, nurse, version):
    s = session(patient, prescriber, started_minutes_ago=5)
    assert race(s, nurse, version) == ["applied", "conflict"]
    assert SessionEvent.objects.filter(session=s, to_state="checked_in").count() == 1
    assert Session.objects.get(pk=s.pk).version == 2
