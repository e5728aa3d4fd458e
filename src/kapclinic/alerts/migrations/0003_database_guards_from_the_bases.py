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
    "measures_alert_never_deleted ON measures_alert",
]


class Migration(migrations.Migration):

    dependencies = [
        ('measures', '0004_postgresql_guards_on_health_tables'),
        ('alerts', '0002_generic_alert'),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name='alert',
            trigger=pgtrigger.compiler.Trigger(name='never_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='07cf0bcf59fb0e9b7ca65f953d6702675f54fb09', operation='DELETE', pgid='pgtrigger_never_deleted_d982e', table='measures_alert', when='BEFORE')),
        ),
        drop_hand_made_triggers(HAND_MADE),
    ]
