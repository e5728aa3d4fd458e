"""Each app's audit_types.py is declared by the audit app: the app writes nothing else."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps

from kapclinic.audit import types


@pytest.mark.parametrize("config", [c for c in apps.get_app_configs()
                                    if c.name.startswith("kapclinic.")], ids=str)
def test_every_apps_audit_types_are_declared(config):
    try:
        module = import_module(f"{config.name}.audit_types")
    except ModuleNotFoundError:
        pytest.skip(f"{config.label} writes no audit types of its own")
    for choices, declared in ((getattr(module, "AuditActions", None), types.action_labels()),
                              (getattr(module, "AuditRecords", None), types.record_labels())):
        for code, label in (choices.choices if choices else []):
            assert declared.get(code) == str(label)


def test_an_undeclared_record_type_is_refused():
    with pytest.raises(types.UndeclaredAuditType, match="not declared"):
        types.check("create", "no_such_record")
