"""Moving alerts and the outbox from measures to the alerts app keeps every row and every
value: a database migrated before the move still has them after it, on the same tables."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from kapclinic.alerts.models import Alert, OutboxMessage
from tests.migrating import migrate, migrated_to

BEFORE_THE_MOVE = [("measures", "0009_outbox_delivery"), ("alerts", None)]


@pytest.fixture
def database_before_the_move(transactional_db):
    with migrated_to(BEFORE_THE_MOVE) as old_apps:
        yield old_apps


def old_world(old_apps):
    """A clinic with a patient whose PHQ-9 raised an alert that was acknowledged and escalated,
    and a message in the outbox, written by the models as they were before the move."""
    now = timezone.now().replace(microsecond=0)
    clinic = old_apps.get_model("accounts", "Clinic").objects.create(
        slug="harbor", name="Harbor", time_zone="UTC")
    user = old_apps.get_model("accounts", "User").objects.create(username="nina")
    patient = old_apps.get_model("patients", "Patient").objects.create(
        clinic=clinic, mrn="A-1", given_name="Ada", family_name="Lovelace",
        date_of_birth=date(1985, 12, 10), sex_at_birth="female", status="in_treatment")
    response = old_apps.get_model("measures", "Response").objects.create(
        patient=patient, instrument="phq9", definition_version="1", answers={"item_9": 1},
        total=12, severity="moderate", flags=["suicidal_ideation"], result={}, source="clinic",
        taken_at=now)
    alert = old_apps.get_model("measures", "Alert").objects.create(
        patient=patient, response=response, kind="suicidal_ideation",
        label="Thoughts of self-harm (item 9)", priority="urgent", raised_at=now,
        acknowledged_at=now + timedelta(minutes=90), acknowledged_by=user,
        acknowledgement_note="Called her; safe, seen tomorrow.",
        escalated_at=now + timedelta(minutes=61))
    message = old_apps.get_model("measures", "OutboxMessage").objects.create(
        clinic=clinic, channel="email", to="ada@example.org", subject="Your PHQ-9",
        body="Hello [link token not stored]", pending_body="Hello https://x/r/secret",
        created_at=now, patient=patient, status="retrying", attempts=2,
        next_attempt_at=now + timedelta(minutes=2), claimed_at=now, last_error="421 busy")
    return {"now": now, "clinic": clinic, "user": user, "patient": patient,
            "response": response, "alert": alert, "message": message}


def test_an_alert_written_before_the_move_keeps_every_value_and_names_its_response(
        database_before_the_move):
    old = old_world(database_before_the_move)

    migrate(None)

    alert = Alert.objects.get(pk=old["alert"].pk)
    now = old["now"]
    assert (alert.patient_id, alert.clinic_id) == (old["patient"].pk, old["clinic"].pk)
    assert (alert.source, alert.kind, alert.rule) == (
        "measures", "suicidal_ideation", "measures.suicidal_ideation")
    assert (alert.record_type, alert.record_id) == ("measures.response", old["response"].pk)
    assert (alert.label, alert.priority) == ("Thoughts of self-harm (item 9)", "urgent")
    assert alert.raised_at == now and alert.escalated_at == now + timedelta(minutes=61)
    assert alert.acknowledged_at == now + timedelta(minutes=90)
    assert alert.acknowledged_by_id == old["user"].pk
    assert alert.acknowledgement_note == "Called her; safe, seen tomorrow."
    assert alert.entered_in_error_at is None
    from kapclinic.measures.models import Response

    assert Response.objects.get(pk=old["response"].pk).crisis  # still read through the alert


def test_an_outbox_message_queued_before_the_move_is_still_queued_with_every_value(
        database_before_the_move):
    old = old_world(database_before_the_move)

    migrate(None)

    message = OutboxMessage.objects.get(pk=old["message"].pk)
    now = old["now"]
    assert (message.clinic_id, message.patient_id) == (old["clinic"].pk, old["patient"].pk)
    assert (message.channel, message.to, message.subject) == (
        "email", "ada@example.org", "Your PHQ-9")
    assert (message.body, message.pending_body) == (
        "Hello [link token not stored]", "Hello https://x/r/secret")
    assert (message.status, message.attempts, message.last_error) == ("retrying", 2, "421 busy")
    assert (message.created_at, message.claimed_at) == (now, now)
    assert message.next_attempt_at == now + timedelta(minutes=2)


def test_the_tables_keep_their_names_so_the_database_guards_stay_on_them(
        database_before_the_move):
    migrate(None)

    tables = set(connection.introspection.table_names())
    assert {"measures_alert", "measures_outboxmessage"} <= tables
    assert (Alert._meta.db_table, OutboxMessage._meta.db_table) == (
        "measures_alert", "measures_outboxmessage")


def test_the_move_can_be_undone_and_the_alert_names_its_response_again(database_before_the_move):
    old = old_world(database_before_the_move)
    migrate(None)

    old_apps = migrate(BEFORE_THE_MOVE)

    alert = old_apps.get_model("measures", "Alert").objects.get(pk=old["alert"].pk)
    assert alert.response_id == old["response"].pk
    assert alert.acknowledgement_note == "Called her; safe, seen tomorrow."


def content_types(apps, model):
    """(app label, id) of every content type row named ``model``."""
    content_type = apps.get_model("contenttypes", "ContentType")
    return sorted(content_type.objects.filter(model=model).values_list("app_label", "pk"))


def test_the_content_types_and_their_permissions_move_to_alerts_and_back(
        database_before_the_move):
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    old_apps = database_before_the_move
    ContentType.objects.clear_cache()
    # a database from before the move: its content types say measures
    old_type = old_apps.get_model("contenttypes", "ContentType")
    for model in ("alert", "outboxmessage"):
        if not old_type.objects.filter(app_label="measures", model=model).exists():
            old_type.objects.filter(app_label="alerts", model=model).update(
                app_label="measures")
    before = {model: content_types(old_apps, model) for model in ("alert", "outboxmessage")}
    assert [label for label, _ in before["alert"]] == ["measures"]
    alert_type_id = before["alert"][0][1]
    old_apps.get_model("auth", "Permission").objects.get_or_create(
        content_type_id=alert_type_id, codename="view_alert", defaults={"name": "Can view"})

    new_apps = migrate(None)

    for model, rows in before.items():
        assert content_types(new_apps, model) == [("alerts", rows[0][1])]  # same row, relabelled
    assert ContentType.objects.get_for_model(Alert).pk == alert_type_id
    assert Permission.objects.filter(content_type_id=alert_type_id,
                                     codename="view_alert").exists()

    undone = migrate([("alerts", "0003_database_guards_from_the_bases")])
    assert content_types(undone, "alert") == [("measures", alert_type_id)]
    migrate(None)
    ContentType.objects.clear_cache()


def test_content_types_already_made_for_alerts_are_left_as_they_are(database_before_the_move):
    """``migrate`` run before this migration already made the alerts rows: neither row is
    deleted (what points at either stays), nothing is merged."""
    old_type = database_before_the_move.get_model("contenttypes", "ContentType")
    old_type.objects.get_or_create(app_label="measures", model="alert")
    old_type.objects.get_or_create(app_label="alerts", model="alert")
    before = content_types(database_before_the_move, "alert")

    assert content_types(migrate(None), "alert") == before
