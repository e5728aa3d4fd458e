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
    "screening_intake_never_deleted ON screening_intake",
    "screening_intakerevision_never_deleted ON screening_intakerevision",
    "screening_eligibilitydecision_never_deleted ON screening_eligibilitydecision",
    "screening_signoff_never_deleted ON screening_signoff",
    "screening_consentdocument_never_deleted ON screening_consentdocument",
    "screening_consent_never_deleted ON screening_consent",
    "screening_intakerevision_never_changed ON screening_intakerevision",
    "screening_eligibilitydecision_never_changed ON screening_eligibilitydecision",
    "screening_signoff_never_changed ON screening_signoff",
    "screening_consentdocument_never_changed ON screening_consentdocument",
]


class Migration(migrations.Migration):

    dependencies = [
        ('measures', '0004_postgresql_guards_on_health_tables'),
        ('screening', '0001_initial'),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name='consent',
            trigger=pgtrigger.compiler.Trigger(name='never_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='068025483aebb5c31efe281b5175ab52248f49e2', operation='DELETE', pgid='pgtrigger_never_deleted_576fb', table='screening_consent', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='consentdocument',
            trigger=pgtrigger.compiler.Trigger(name='never_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='509c2ac09e8ad5fae89081b3f97e3062ce3d3053', operation='DELETE', pgid='pgtrigger_never_deleted_7a48f', table='screening_consentdocument', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='consentdocument',
            trigger=pgtrigger.compiler.Trigger(name='never_changed', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='7a07c4d6236e9332b814199ff2747c5106dcd17b', operation='UPDATE', pgid='pgtrigger_never_changed_aa08a', table='screening_consentdocument', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='eligibilitydecision',
            trigger=pgtrigger.compiler.Trigger(name='never_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='75fe11895fc50ac526e2022375d65237f293d547', operation='DELETE', pgid='pgtrigger_never_deleted_b2a56', table='screening_eligibilitydecision', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='eligibilitydecision',
            trigger=pgtrigger.compiler.Trigger(name='never_changed', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='bdb3a1af9e15625518bf1e927c40a40be87d44be', operation='UPDATE', pgid='pgtrigger_never_changed_3375d', table='screening_eligibilitydecision', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='intake',
            trigger=pgtrigger.compiler.Trigger(name='never_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='f5207d77b5253341599c7797148974afefdaffb6', operation='DELETE', pgid='pgtrigger_never_deleted_9574e', table='screening_intake', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='intakerevision',
            trigger=pgtrigger.compiler.Trigger(name='never_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='e8942c37390061e4c4fb3e8f488d0ffa02487d3f', operation='DELETE', pgid='pgtrigger_never_deleted_c2258', table='screening_intakerevision', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='intakerevision',
            trigger=pgtrigger.compiler.Trigger(name='never_changed', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='da14b032a8c27b69a3ee56adc38136afe0df587a', operation='UPDATE', pgid='pgtrigger_never_changed_8bd52', table='screening_intakerevision', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='signoff',
            trigger=pgtrigger.compiler.Trigger(name='never_deleted', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='531f938cac316eb09e6afa683e045b533c602354', operation='DELETE', pgid='pgtrigger_never_deleted_050b2', table='screening_signoff', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='signoff',
            trigger=pgtrigger.compiler.Trigger(name='never_changed', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'kapclinic: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME;", hash='8fc324d807fca566b82e7665dba0f15a2ca7666a', operation='UPDATE', pgid='pgtrigger_never_changed_113a1', table='screening_signoff', when='BEFORE')),
        ),
        drop_hand_made_triggers(HAND_MADE),
    ]
