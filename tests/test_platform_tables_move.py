"""Moving the rate counters and idempotency records from the web app to the platform app
keeps every row: a database migrated before the move still has them after it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from kapclinic.platform.models import IdempotencyRecord, RateCounter
from tests.migrating import migrate, migrated_to

BEFORE_THE_MOVE = [("web", "0002_idempotency_record"), ("platform", None)]


@pytest.fixture
def database_before_the_move(transactional_db):
    with migrated_to(BEFORE_THE_MOVE) as old_apps:
        yield old_apps


def test_rows_written_before_the_move_are_there_after_it(database_before_the_move):
    old_apps = database_before_the_move
    now = timezone.now()
    old_apps.get_model("web", "RateCounter").objects.create(key="a" * 64, window_start=1, count=7)
    old_apps.get_model("web", "IdempotencyRecord").objects.create(
        scope="user:1", key="k-1", kind="api", method="POST", path="/api/v1/patients",
        fingerprint="f" * 64, created_at=now, expires_at=now + timedelta(hours=24), status=201,
        content_type="application/json", body=b'{"id": 1}')

    migrate(None)

    assert RateCounter.objects.get(key="a" * 64).count == 7
    record = IdempotencyRecord.objects.get(scope="user:1", key="k-1")
    assert (record.status, bytes(record.body)) == (201, b'{"id": 1}')


def test_the_tables_keep_their_names_and_their_uniqueness_after_the_move(database_before_the_move):
    migrate(None)

    assert {"web_ratecounter", "web_idempotencyrecord"} <= set(connection.introspection.table_names())
    RateCounter.objects.create(key="b" * 64, window_start=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        RateCounter.objects.create(key="b" * 64, window_start=2)


def test_permissions_on_the_moved_tables_follow_them_to_the_platform_app(database_before_the_move):
    old_apps = database_before_the_move
    content_type = old_apps.get_model("contenttypes", "ContentType")
    permission = old_apps.get_model("auth", "Permission")
    content_type.objects.filter(app_label="platform").delete()
    web_counter = content_type.objects.get_or_create(app_label="web", model="ratecounter")[0]
    permission.objects.get_or_create(content_type=web_counter, codename="view_ratecounter",
                                     defaults={"name": "Can view rate counter"})

    migrate(None)

    ContentType.objects.clear_cache()
    assert not ContentType.objects.filter(app_label="web", model="ratecounter").exists()
    assert Permission.objects.get(codename="view_ratecounter").content_type.app_label == "platform"


def test_the_move_can_be_undone_without_losing_a_row(database_before_the_move):
    migrate(None)
    RateCounter.objects.create(key="c" * 64, window_start=1, count=3)

    old_apps = migrate(BEFORE_THE_MOVE)

    assert old_apps.get_model("web", "RateCounter").objects.get(key="c" * 64).count == 3
