"""The alert becomes generic: any app raises one, about a patient or about the clinic alone.

Every existing alert keeps its row, id and every value: its clinic is its patient's, its
source is measures, and the response that raised it, formerly the ``response`` column, is
now named by ``record_type`` "measures.response" and ``record_id`` (the same id). The copy
is made before the column goes; reversing the migration copies it back.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery


def name_source_and_clinic(apps, schema_editor):
    Alert = apps.get_model("alerts", "Alert")
    Patient = apps.get_model("patients", "Patient")
    Alert.objects.filter(clinic__isnull=True).update(
        clinic_id=Subquery(Patient.objects.filter(pk=OuterRef("patient_id")).values("clinic_id")[:1]),
        source="measures", record_type="measures.response", record_id=F("response_id"))


def restore_response_column(apps, schema_editor):
    Alert = apps.get_model("alerts", "Alert")
    Alert.objects.filter(record_type="measures.response").update(response_id=F("record_id"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_membership_access_ends"),
        ("alerts", "0001_take_over_measures_tables"),
        ("patients", "0004_alter_patientlink_purpose"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="alert", name="clinic",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="+", to="accounts.clinic")),
        migrations.AddField(model_name="alert", name="source",
                            field=models.CharField(default="", max_length=40),
                            preserve_default=False),
        migrations.AddField(model_name="alert", name="record_type",
                            field=models.CharField(blank=True, max_length=60)),
        migrations.AddField(model_name="alert", name="record_id",
                            field=models.PositiveBigIntegerField(blank=True, null=True)),
        migrations.AddField(model_name="alert", name="recommended_action",
                            field=models.CharField(blank=True, max_length=500)),
        migrations.AddField(model_name="alert", name="entered_in_error_at",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(
            model_name="alert", name="entered_in_error_by",
            field=models.ForeignKey(blank=True, null=True,
                                    on_delete=django.db.models.deletion.PROTECT,
                                    related_name="+", to=settings.AUTH_USER_MODEL)),
        migrations.AddField(model_name="alert", name="entered_in_error_reason",
                            field=models.CharField(blank=True, max_length=500)),
        migrations.AlterField(
            model_name="alert", name="patient",
            field=models.ForeignKey(blank=True, null=True,
                                    on_delete=django.db.models.deletion.PROTECT,
                                    related_name="alerts", to="patients.patient")),
        # nullable first, so that reversing can re-add the column before refilling it
        migrations.AlterField(
            model_name="alert", name="response",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="+", to="measures.response")),
        migrations.RunPython(name_source_and_clinic, restore_response_column),
        migrations.AlterField(
            model_name="alert", name="clinic",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT,
                                    related_name="+", to="accounts.clinic")),
        migrations.RemoveField(model_name="alert", name="response"),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(fields=["clinic", "acknowledged_at"], name="alert_clinic_open_idx")),
        migrations.AddConstraint(
            model_name="alert",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("entered_in_error_at__isnull", True),
                                            ("entered_in_error_by__isnull", True)),
                                   models.Q(("entered_in_error_at__isnull", False),
                                            ("entered_in_error_by__isnull", False)),
                                   _connector="OR"),
                name="alert_error_who_when")),
        migrations.AddConstraint(
            model_name="alert",
            constraint=models.UniqueConstraint(
                condition=models.Q(("record_id__isnull", False)),
                fields=("source", "kind", "record_type", "record_id"),
                name="one_alert_per_rule_and_record")),
    ]
