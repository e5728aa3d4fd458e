"""The audit trail's vocabulary: every action (``create``, ``login``...) and record type
(``patient``, ``alert``...) an entry may carry, each declared by the app that writes it.

An app lists its own in ``audit_types.py`` (``AuditActions``/``AuditRecords``, Django
TextChoices: the code and what the admin reads); the audit app declares every installed app's
(``declare_installed_apps``, from its ready()), so an app writes nothing else to have them.
``trail.record`` refuses a code nobody declared, so a typo fails where it is written instead
of leaving an entry no filter finds. This module imports no app.
"""

from __future__ import annotations

from importlib import import_module

from django.apps import apps
from django.db import models
from django.utils.module_loading import module_has_submodule


class UndeclaredAuditType(ValueError):
    """An audit entry named an action or record type that no app declared."""


class AuditActions(models.TextChoices):
    """What the trail itself writes for every app: reads, writes, refusals, logins."""

    CREATE = "create", "Created"
    READ = "read", "Viewed"
    LIST = "list", "Listed"
    UPDATE = "update", "Changed"
    DENIED = "denied", "Refused (no permission)"
    LOGIN = "login", "Login"
    LOGIN_FAILED = "login_failed", "Failed login"
    LOGOUT = "logout", "Logout"


class AuditRecords(models.TextChoices):
    USER = "user", "User"
    AUDIT_ENTRY = "audit_entry", "Audit entry"


_actions: dict[str, tuple[str, str]] = {}   # code -> (label, declaring app)
_records: dict[str, tuple[str, str]] = {}


def _add(table: dict[str, tuple[str, str]], choices, app: str, kind: str) -> None:
    for code, label in choices.choices:
        known = table.get(code)
        if known is not None and known[0] != str(label):
            raise ValueError(f"audit {kind} {code!r} is declared by {known[1]} as {known[0]!r} "
                             f"and by {app} as {label!r}: use one label")
        table.setdefault(code, (str(label), app))


def declare(app: str, *, actions=None, records=None) -> None:
    """Declare an app's audit actions and record types (TextChoices); called from
    ``AppConfig.ready()``. Declaring the same code again with the same label is harmless (two
    apps may write the same kind of record)."""
    if actions is not None:
        _add(_actions, actions, app, "action")
    if records is not None:
        _add(_records, records, app, "record type")


declare("audit", actions=AuditActions, records=AuditRecords)


def declare_installed_apps() -> None:
    """Declare the ``AuditActions`` and ``AuditRecords`` of each installed app's
    ``audit_types.py`` (called from AuditConfig.ready(): found by name, so this module still
    imports no app)."""
    for config in apps.get_app_configs():
        if module_has_submodule(config.module, "audit_types"):
            module = import_module(f"{config.name}.audit_types")
            declare(config.label, actions=getattr(module, "AuditActions", None),
                    records=getattr(module, "AuditRecords", None))


def check(action: str, object_type: str) -> None:
    if action not in _actions:
        raise UndeclaredAuditType(
            f"audit action {action!r} is not declared: add it to the AuditActions of the app's "
            f"audit_types.py (declared: {', '.join(sorted(_actions))})")
    if object_type not in _records:
        raise UndeclaredAuditType(
            f"audit record type {object_type!r} is not declared: add it to the AuditRecords of "
            "the app's audit_types.py (declared: " + ", ".join(sorted(_records)) + ")")


def action_labels() -> dict[str, str]:
    """Code -> label, in declaration order (the audit page's filter)."""
    return {code: label for code, (label, _) in _actions.items()}


def record_labels() -> dict[str, str]:
    return {code: label for code, (label, _) in _records.items()}
