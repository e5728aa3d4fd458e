"""The database guards now come from the health-record bases (kapclinic.audit.models:
HealthRecord, AppendOnlyRecord, CorrectableRecord), so every new table inherits them. This
migration installs pgtrigger's triggers first and only then drops the hand-made ones
(measures/0004 and audit/0002) on the same tables: no moment leaves a table unguarded."""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations

from kapclinic.audit.hand_made_guards import drop_hand_made_triggers

# The hand-made triggers this migration replaces ("name ON table").
HAND_MADE = [
    "audit_entry_append_only ON audit_auditentry",
]


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
        drop_hand_made_triggers(HAND_MADE),
    ]
