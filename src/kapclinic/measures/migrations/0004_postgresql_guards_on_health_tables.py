"""On PostgreSQL the database itself refuses to delete health records, and to change the
append-only ones (the app's models and querysets refuse too; this guards everything else)."""

from django.db import migrations

NEVER_DELETED = [
    "patients_patient", "patients_condition", "patients_statuschange", "screening_intake",
    "screening_intakerevision", "screening_eligibilitydecision", "screening_signoff",
    "screening_consentdocument", "screening_consent", "measures_response", "measures_alert",
]
NEVER_CHANGED = [
    "patients_statuschange", "screening_intakerevision", "screening_eligibilitydecision",
    "screening_signoff", "screening_consentdocument",
]


def statements(create: bool) -> list[str]:
    sql = []
    for table in NEVER_DELETED:
        name = f"{table}_never_deleted"
        sql.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        if create:
            sql.append(f"CREATE TRIGGER {name} BEFORE DELETE ON {table} FOR EACH ROW "
                       "EXECUTE FUNCTION kapclinic_refuse_change()")
    for table in NEVER_CHANGED:
        name = f"{table}_never_changed"
        sql.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        if create:
            sql.append(f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} FOR EACH ROW "
                       "EXECUTE FUNCTION kapclinic_refuse_change()")
    return sql


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in statements(create=True):
            schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in statements(create=False):
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_refuse_changes_on_postgresql"),
        ("measures", "0003_longer_condition_group"),
        ("patients", "0004_alter_patientlink_purpose"),
        ("screening", "0001_initial"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
