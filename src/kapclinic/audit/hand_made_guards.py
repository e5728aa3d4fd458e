"""The step each app's `*_database_guards_from_the_bases` migration ends with: drop the
hand-made PostgreSQL triggers (measures/0004, audit/0002) once pgtrigger's own guards are in
place on the same tables, so no moment leaves a table unguarded; undone, it puts them back.
Kept here, not copied into each migration, because the five migrations do the same thing."""

from __future__ import annotations

from django.db import migrations

# what each hand-made trigger's name ended with -> the statement it refused
EVENTS = {"never_deleted": "DELETE", "never_changed": "UPDATE", "append_only": "UPDATE OR DELETE"}


def drop_hand_made_triggers(triggers: list[str]) -> migrations.RunPython:
    """``triggers``: "name ON table" for each hand-made trigger the migration replaces."""

    def drop(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for trigger in triggers:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}", params=None)

    def restore(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for trigger in triggers:
                name, table = trigger.split(" ON ")
                event = next(e for suffix, e in EVENTS.items() if name.endswith(suffix))
                schema_editor.execute(f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH "
                                      "ROW EXECUTE FUNCTION kapclinic_refuse_change()", params=None)

    return migrations.RunPython(drop, restore)
