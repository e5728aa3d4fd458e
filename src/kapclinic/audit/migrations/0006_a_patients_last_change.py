# An index on the audit trail for a patient's last change (a monitor listener checks its memory
# by it). Built CONCURRENTLY on PostgreSQL: the trail takes every audited write, none of which
# should wait while the index is built on a large table.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgreSQL(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL; a plain CREATE INDEX elsewhere (SQLite)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ('audit', '0005_tables_never_truncated'),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgreSQL(
            model_name='auditentry',
            index=models.Index(condition=models.Q(('action__in', ['read', 'list', 'denied']), _negated=True),
                               fields=['patient_id', 'seq'], name='audit_patient_last_change'),
        ),
    ]
