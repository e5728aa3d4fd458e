"""The alerts app takes over measures' alert and outbox tables as they are (state only).

The models below are measures.Alert and measures.OutboxMessage exactly as measures 0009 left
them, on the same tables: no row is copied, moved or dropped. 0002 makes the alert generic.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0003_membership_access_ends"),
        ("patients", "0004_alter_patientlink_purpose"),
        ("measures", "0010_alert_and_outbox_move_to_alerts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name="Alert",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("kind", models.CharField(max_length=60)),
                ("label", models.CharField(max_length=300)),
                ("priority", models.CharField(choices=[("urgent", "Urgent"),
                                                       ("follow_up", "Follow-up")],
                                              default="urgent", max_length=10)),
                ("raised_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                ("acknowledgement_note", models.TextField(blank=True)),
                ("escalated_at", models.DateTimeField(blank=True, null=True)),
                ("acknowledged_by", models.ForeignKey(
                    blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                    related_name="+", to=settings.AUTH_USER_MODEL)),
                ("patient", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT,
                                              related_name="alerts", to="patients.patient")),
                ("response", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT,
                                               related_name="+", to="measures.response")),
            ],
            options={
                "db_table": "measures_alert",
                "ordering": ["-raised_at"],
                "indexes": [models.Index(fields=["acknowledged_at", "raised_at"],
                                         name="measures_al_acknowl_0075ab_idx")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(models.Q(("acknowledged_at__isnull", True),
                                                    ("acknowledged_by__isnull", True)),
                                           models.Q(("acknowledged_at__isnull", False),
                                                    ("acknowledged_by__isnull", False)),
                                           _connector="OR"),
                        name="alert_ack_who_when"),
                    models.CheckConstraint(
                        condition=models.Q(("acknowledged_at__isnull", True),
                                           models.Q(("acknowledgement_note", ""), _negated=True),
                                           _connector="OR"),
                        name="alert_ack_has_note"),
                ],
            },
        ),
        migrations.CreateModel(
            name="OutboxMessage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("channel", models.CharField(max_length=10)),
                ("to", models.CharField(max_length=200)),
                ("subject", models.CharField(blank=True, max_length=200)),
                ("body", models.TextField()),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("clinic", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT,
                                             related_name="+", to="accounts.clinic")),
                ("patient", models.ForeignKey(null=True,
                                              on_delete=django.db.models.deletion.PROTECT,
                                              related_name="+", to="patients.patient")),
                ("status", models.CharField(choices=[("queued", "Queued"), ("sending", "Sending"),
                                                     ("sent", "Sent"), ("retrying", "Retrying"),
                                                     ("failed", "Failed")],
                                            default="queued", max_length=10)),
                ("pending_body", models.TextField(blank=True)),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.CharField(blank=True, max_length=300)),
            ],
            options={
                "db_table": "measures_outboxmessage",
                "ordering": ["-created_at"],
                "indexes": [models.Index(fields=["status", "next_attempt_at"],
                                         name="measures_ou_status_aa04c5_idx")],
            },
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations,
                                                      database_operations=[])]
