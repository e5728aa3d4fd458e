"""The database guards now come from the health-record bases (kapclinic.audit.models:
HealthRecord, AppendOnlyRecord, CorrectableRecord), so every new table inherits them. This
migration installs pgtrigger's triggers first and only then drops the hand-made ones
(measures/0004 and audit/0002) on the same tables: no moment leaves a table unguarded."""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations

# The hand-made triggers this migration replaces ("name ON table").
HAND_MADE = [
    "audit_entry_append_only ON audit_auditentry",
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
        ('audit', '0003_keyed_entries'),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name='auditentry',
            trigger=pgtrigger.compiler.Trigger(name='never_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='932a3835d9190ca10d57d7ef86bc540ed1f7e214', operation='DELETE', pgid='pgtrigger_never_deleted_cd1c9', table='audit_auditentry', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditentry',
            trigger=pgtrigger.compiler.Trigger(name='never_changed', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='2ee6976b0aac0bf8115e05f8eb8aca3fb79a93aa', operation='UPDATE', pgid='pgtrigger_never_changed_0f132', table='audit_auditentry', when='BEFORE')),
        ),
        migrations.RunPython(drop_hand_made, restore_hand_made),
    ]
