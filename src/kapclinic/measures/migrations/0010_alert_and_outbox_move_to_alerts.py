"""Alert and OutboxMessage now belong to the alerts app (alerts/0001 takes them over).

State only: the tables, their rows and their database guards stay exactly as they are; the
alerts app keeps using them under their old names (docs/adr/0007-generic-alerts-and-outbox.md).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("measures", "0009_outbox_delivery")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel("Alert"),
                              migrations.DeleteModel("OutboxMessage")],
            database_operations=[],
        ),
    ]
