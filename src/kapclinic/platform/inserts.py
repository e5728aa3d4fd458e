"""Bulk inserts in a fixed shape, for writers that store hundreds of rows a second (the bedside
monitors' listener, the audit trail it writes).

Django's ``bulk_create`` compiles its INSERT anew on every call, passing each value of each row
through the SQL compiler: at a monitor's rate that was a quarter of the listener's time. Here a
model's statement for a number of rows is made once (the text ``bulk_create`` sends) and each
value is prepared by its field as ``bulk_create`` prepares it (``pre_save``, then
``get_db_prep_save``). Like ``bulk_create``: no signals, no ``save()``, the primary keys read
back with ``RETURNING`` (both SQLite and PostgreSQL have it), the rows then marked as saved.
A model with a field that needs its own placeholder, or a row that already has its primary key,
goes through ``bulk_create``: this path knows only plain columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, models


@dataclass(frozen=True)
class _Shape:
    table: str
    columns: str          # quoted, comma-separated
    row: str              # "(%s, %s, ...)"
    returning: str        # the quoted primary key column
    fields: tuple[models.Field, ...]
    per_statement: int    # rows in one statement, under the database's parameter limit


MAX_ROWS = 500  # rows in one statement at most (PostgreSQL has no parameter limit of its own here)
_SHAPES: dict[tuple[type[models.Model], str], _Shape | None] = {}
_STATEMENTS: dict[tuple[type[models.Model], str, int], str] = {}


def _shape(model: type[models.Model], alias: str) -> _Shape | None:
    key = (model, alias)
    if key not in _SHAPES:
        connection = connections[alias]
        opts = model._meta
        fields = tuple(f for f in opts.concrete_fields
                       if not f.generated and not (f.primary_key and f.db_returning))
        plain = (opts.pk.db_returning and connection.features.can_return_rows_from_bulk_insert
                 and not any(hasattr(f, "get_placeholder") for f in fields))
        quote = connection.ops.quote_name
        _SHAPES[key] = _Shape(
            table=quote(opts.db_table), columns=", ".join(quote(f.column) for f in fields),
            row="(" + ", ".join(["%s"] * len(fields)) + ")", returning=quote(opts.pk.column),
            fields=fields,
            per_statement=max(1, connection.ops.bulk_batch_size(list(fields), [None] * MAX_ROWS)),
        ) if plain else None
    return _SHAPES[key]


def _statement(model: type[models.Model], alias: str, shape: _Shape, rows: int) -> str:
    key = (model, alias, rows)
    text = _STATEMENTS.get(key)
    if text is None:
        if len(_STATEMENTS) > 4_096:  # one per row count a caller used: bounded all the same
            _STATEMENTS.clear()
        text = _STATEMENTS[key] = (f"INSERT INTO {shape.table} ({shape.columns}) VALUES "  # noqa: S608
                                   f"{', '.join([shape.row] * rows)} RETURNING {shape.returning}")
    return text


def insert(objs: Sequence[models.Model], *, using: str = "default") -> None:
    """Insert ``objs`` (all of one model, none saved yet) as ``bulk_create(objs)`` would, in as
    few statements as the database's parameter limit allows; each gets its primary key."""
    if not objs:
        return
    model = type(objs[0])
    shape = _shape(model, using)
    if shape is None or any(obj.pk is not None for obj in objs) or any(type(o) is not model for o in objs):
        model._base_manager.using(using).bulk_create(objs)
        return
    connection = connections[using]
    fields = shape.fields
    with connection.cursor() as cursor:
        for start in range(0, len(objs), shape.per_statement):
            chunk = objs[start:start + shape.per_statement]
            params: list[Any] = []
            for obj in chunk:
                obj._prepare_related_fields_for_save(operation_name="bulk_create")  # as bulk_create
                params += [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
            cursor.execute(_statement(model, using, shape, len(chunk)), params)
            for obj, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = using
