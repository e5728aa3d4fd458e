"""For tests of a migration: the schema moved to a point in history, and back to the latest."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets):
    """Migrate to ``targets`` ([(app, migration or None)]), or to the latest with None; the
    apps (historical models) as they are there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return executor.migrate(targets or executor.loader.graph.leaf_nodes()).apps


@contextlib.contextmanager
def migrated_to(targets) -> Iterator:
    """The historical apps at ``targets``; the schema is the latest again afterwards, as the
    other tests expect it (use in a fixture with transactional_db)."""
    old_apps = migrate(targets)
    try:
        yield old_apps
    finally:
        migrate(None)
