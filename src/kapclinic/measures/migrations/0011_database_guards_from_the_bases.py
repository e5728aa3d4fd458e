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
    "measures_response_never_deleted ON measures_response",
    "measures_clinicalevent_never_deleted ON measures_clinicalevent",
]


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
        drop_hand_made_triggers(HAND_MADE),
    ]
