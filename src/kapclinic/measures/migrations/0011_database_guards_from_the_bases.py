"""The database guards now come from the health-record bases (kapclinic.audit.models:
HealthRecord, AppendOnlyRecord, CorrectableRecord), so every new table inherits them. This
migration installs pgtrigger's triggers first and only then drops the hand-made ones
(measures/0004 and audit/0002) on the same tables: no moment leaves a table unguarded."""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations

# The hand-made triggers this migration replaces ("name ON table").
HAND_MADE = [
    "measures_response_never_deleted ON measures_response",
    "measures_clinicalevent_never_deleted ON measures_clinicalevent",
]
HAND_MADE_EVENT = {"never_deleted": "DELETE", "never_changed": "UPDATE", "append_only": "UPDATE OR DELETE"}


def drop_hand_made(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for trigger in HAND_MADE:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}", params=None)


def restore_hand_made(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for trigger in HAND_MADE:
            name, table = trigger.split(" ON ")
            event = next(e for suffix, e in HAND_MADE_EVENT.items() if name.endswith(suffix))
            schema_editor.execute(f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW "
                                  "EXECUTE FUNCTION kapclinic_refuse_change()", params=None)



class Migration(migrations.Migration):

    dependencies = [
        ('measures', '0010_alert_and_outbox_move_to_alerts'),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name='clinicalevent',
            trigger=pgtrigger.compiler.Trigger(name='never_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='d4ee3da90c84d95864823d87ddee9a3e787887db', operation='DELETE', pgid='pgtrigger_never_deleted_e2612', table='measures_clinicalevent', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='response',
            trigger=pgtrigger.compiler.Trigger(name='never_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='4d2943654acacc4f60ca2355a682b7d78c0b6a9c', operation='DELETE', pgid='pgtrigger_never_deleted_f8cf7', table='measures_response', when='BEFORE')),
        ),
        migrations.RunPython(drop_hand_made, restore_hand_made),
    ]
