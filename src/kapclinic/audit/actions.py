"""The one way to define an action: a function that changes records, with its audit entry.

    @action
    def add_condition(*, patient, code, by): ...

Called with ``by=`` (a user, or None for the system), an action
- runs in one transaction (nested in the caller's, if any);
- writes its audit entries as ``by`` (see context.actor_for): run from the command line or
  the worker with ``by=alice``, the trail names alice, not "system";
- may write health records (HealthRecord models refuse save()/update() anywhere else);
- fails, rolling everything back, when it changed the database but wrote no audit entry
  (UnauditedAction). One that changed nothing (a double click, a retry) needs no entry.
A refusal the action audited ("denied") before raising is kept although the rest rolls back.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import TypeVar

from django.db import connection, transaction

from kapclinic.audit import context

F = TypeVar("F", bound=Callable)
WRITES = ("INSERT", "UPDATE", "DELETE")


class UnauditedAction(RuntimeError):
    """An action changed records without writing an audit entry; nothing was kept."""


def _counting_writes(scope: context.ActionScope):
    def wrapper(execute, sql, params, many, ctx):
        result = execute(sql, params, many, ctx)
        verb = sql.lstrip()[:6].upper()
        # a conditional UPDATE that matched nothing (a double click) changed nothing; an
        # INSERT ... RETURNING reports no count before its rows are read
        if verb == "INSERT" or (verb in WRITES and getattr(ctx["cursor"], "rowcount", -1) != 0):
            scope.writes += 1
        return result
    return wrapper


def action(function: F) -> F:
    name = f"{function.__module__}.{function.__qualname__}"
    by_parameter = inspect.signature(function).parameters.get("by")
    if by_parameter is None or by_parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
        raise TypeError(f"{name}: an action takes who acts as a keyword-only by=")
    # a by= with a default (None: the system, e.g. send_request from the worker) may be omitted
    default = by_parameter.default

    @functools.wraps(function)
    def run(*args, **kwargs):
        if "by" not in kwargs and default is inspect.Parameter.empty:
            raise TypeError(f"{name} is an action: say who acts with by= (None: the system)")
        by = kwargs.get("by", default)
        try:
            with (context.acting(by, name) as scope,
                  connection.execute_wrapper(_counting_writes(scope)), transaction.atomic()):
                result = function(*args, **kwargs)
                if scope.writes and not scope.entries:
                    raise UnauditedAction(f"{name} changed records without an audit entry: "
                                          "call kapclinic.audit.trail.record in it")
        except UnauditedAction:
            raise
        except Exception:
            if scope.denials and not context.running_actions():
                _keep_denials(scope.denials, by, name)
            raise
        return result

    run.is_action = True
    return run  # type: ignore[return-value]


def _keep_denials(denials: list, by, name: str) -> None:
    """A refusal is audited even though the action's transaction rolled back."""
    from kapclinic.audit import trail

    if connection.in_atomic_block and connection.needs_rollback:
        return  # the caller's own transaction is failing too: it cannot hold the entry
    with context.acting(by, name):
        trail.record_many(denials)


@contextlib.contextmanager
def writing_directly(reason: str) -> Iterator[None]:
    """Let health records be written outside an action, for tests that build a state no
    action makes (an alert raised hours ago) and data repair. Never in a view: ``reason``
    says why."""
    with context.direct_writes(reason):
        yield
