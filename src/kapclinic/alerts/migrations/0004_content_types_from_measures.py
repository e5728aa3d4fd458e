"""The content types of Alert and OutboxMessage follow them from measures to alerts.

0001 moved the two models to the alerts app in Django's state only (their tables stayed).
Django's content types (and the permission rows pointing at them) still said ``measures``, so
an upgraded database would keep stale ``measures.alert``/``measures.outboxmessage`` rows and
get new ``alerts`` ones beside them. This relabels the old rows instead, keeping their ids and
whatever points at them. Where both already exist (``migrate`` ran after 0001 and made the new
ones), both are left as they are: a content type is never deleted here, since deleting one
would delete what points at it.
"""

from django.db import migrations

MOVED = ("alert", "outboxmessage")


def _relabel_content_types(apps, old: str, new: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not content_type.objects.filter(app_label=new, model=model).exists():
            content_type.objects.filter(app_label=old, model=model).update(app_label=new)


def content_types_to_alerts(apps, schema_editor) -> None:
    _relabel_content_types(apps, "measures", "alerts")


def content_types_back_to_measures(apps, schema_editor) -> None:
    _relabel_content_types(apps, "alerts", "measures")


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0003_database_guards_from_the_bases"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(content_types_to_alerts, content_types_back_to_measures),
    ]
