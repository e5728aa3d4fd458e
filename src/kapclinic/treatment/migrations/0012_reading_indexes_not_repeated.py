# A reading's session and patient keep no index of their own: the (session, observed_at),
# (session, phase, observed_at), (session, fingerprint) and (patient, observed_at) indexes serve
# every lookup by either, and each index more is written with every reading a monitor sends.
# Only the two indexes are dropped (AlterField would make SQLite copy the whole table).

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {"session_id": "treatment_vitalreading_session_id_b37fa43b",
           "patient_id": "treatment_vitalreading_patient_id_19cf45ae"}


class Migration(migrations.Migration):

    dependencies = [
        ('patients', '0007_tables_never_truncated'),
        ('treatment', '0011_reading_mdc_codes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='vitalreading',
                    name='patient',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='vital_readings', to='patients.patient'),
                ),
                migrations.AlterField(
                    model_name='vitalreading',
                    name='session',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='vitals', to='treatment.session'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"',
                                  reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "treatment_vitalreading" ("{column}")')
                for column, name in INDEXES.items()
            ],
        ),
    ]
