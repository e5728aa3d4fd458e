"""The platform app takes over two tables the web app created, without touching them.

RateCounter and IdempotencyRecord were web models (web/migrations/0001, 0002). They keep
their table names (``db_table``), so this migration changes only Django's idea of which
app owns them: no table is created, renamed or emptied, on a new database or an old one.
web/migrations/0003 drops them from the web app's state after this runs.

Their content types (and any permission rows pointing at them) move with them, so the
old web ones are not left behind as stale rows.
"""

from django.db import migrations, models

MOVED = ("ratecounter", "idempotencyrecord")


def _relabel_content_types(apps, old: str, new: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not content_type.objects.filter(app_label=new, model=model).exists():
            content_type.objects.filter(app_label=old, model=model).update(app_label=new)


def content_types_to_platform(apps, schema_editor) -> None:
    _relabel_content_types(apps, "web", "platform")


def content_types_back_to_web(apps, schema_editor) -> None:
    _relabel_content_types(apps, "platform", "web")


class Migration(migrations.Migration):

    initial = True

    # The tables exist once web's migrations have run, on a new database as on an old one.
    dependencies = [
        ("web", "0002_idempotency_record"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='RateCounter',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(max_length=64, unique=True)),
                        ('window_start', models.BigIntegerField()),
                        ('count', models.PositiveIntegerField(default=0)),
                    ],
                    options={
                        'db_table': 'web_ratecounter',
                    },
                ),
                migrations.CreateModel(
                    name='IdempotencyRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('scope', models.CharField(max_length=40)),
                        ('key', models.CharField(max_length=255)),
                        ('kind', models.CharField(choices=[('api', 'API Idempotency-Key'), ('form', 'Page form token')], max_length=4)),
                        ('method', models.CharField(max_length=10)),
                        ('path', models.CharField(max_length=500)),
                        ('fingerprint', models.CharField(max_length=64)),
                        ('created_at', models.DateTimeField()),
                        ('expires_at', models.DateTimeField()),
                        ('status', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('content_type', models.CharField(blank=True, max_length=200)),
                        ('location', models.CharField(blank=True, max_length=2000)),
                        ('body', models.BinaryField(blank=True, default=b'')),
                    ],
                    options={
                        'db_table': 'web_idempotencyrecord',
                        'indexes': [models.Index(fields=['expires_at'], name='web_idempot_expires_f82e57_idx')],
                        'constraints': [models.UniqueConstraint(fields=('scope', 'key'), name='one_record_per_idempotency_key')],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_types_to_platform, content_types_back_to_web),
    ]
