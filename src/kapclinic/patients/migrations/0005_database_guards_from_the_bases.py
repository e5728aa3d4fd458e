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
    "patients_patient_never_deleted ON patients_patient",
    "patients_condition_never_deleted ON patients_condition",
    "patients_statuschange_never_deleted ON patients_statuschange",
    "patients_statuschange_never_changed ON patients_statuschange",
]


class Migration(migrations.Migration):

    dependencies = [
        ('measures', '0004_postgresql_guards_on_health_tables'),
        ('patients', '0004_alter_patientlink_purpose'),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name='condition',
            trigger=pgtrigger.compiler.Trigger(name='never_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='23e7f9cdec32fc34ba788bc2feb7c1e5c716a31f', operation='DELETE', pgid='pgtrigger_never_deleted_a3a7c', table='patients_condition', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='patient',
            trigger=pgtrigger.compiler.Trigger(name='never_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='ee0c4354f22817a783a4085692a98c4b13823935', operation='DELETE', pgid='pgtrigger_never_deleted_c0645', table='patients_patient', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='statuschange',
            trigger=pgtrigger.compiler.Trigger(name='never_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='fb0535423fe3e4213b0ac08ed6516e5b9f8230bd', operation='DELETE', pgid='pgtrigger_never_deleted_97342', table='patients_statuschange', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='statuschange',
            trigger=pgtrigger.compiler.Trigger(name='never_changed', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='96f83e013e9660774cfe4cec0430f42976a3c36f', operation='UPDATE', pgid='pgtrigger_never_changed_77269', table='patients_statuschange', when='BEFORE')),
        ),
        drop_hand_made_triggers(HAND_MADE),
    ]
