"""RateCounter and IdempotencyRecord now belong to the platform app
(platform/migrations/0001_initial.py): drop them from the web app's state only. Their
tables, and every row in them, stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("web", "0002_idempotency_record"),
        ("platform", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="IdempotencyRecord"),
                migrations.DeleteModel(name="RateCounter"),
            ],
        ),
    ]
