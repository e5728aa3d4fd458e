"""Project conventions that a new model or migration must keep."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command

from kapclinic.clinical.codes import diagnoses

OUR_APPS = {"accounts", "audit", "patients", "screening", "dosing", "measures"}


def our_models():
    return [model for model in apps.get_models() if model._meta.app_label in OUR_APPS]


@pytest.mark.django_db
def test_no_model_change_is_missing_a_migration():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit:
        pytest.fail(f"models changed without a migration:\n{out.getvalue()}")


def test_who_and_when_fields_come_in_constrained_pairs():
    for model in our_models():
        fields = {field.name for field in model._meta.get_fields()}
        constraints = " ".join(str(c.condition) for c in model._meta.constraints
                               if hasattr(c, "condition"))
        for name in fields:
            if not name.endswith("_at"):
                continue
            partner = name[:-3] + "_by"
            if partner in fields:
                field = model._meta.get_field(name)
                if field.null:
                    assert name in constraints and partner in constraints, (
                        f"{model.__name__}.{name}/{partner} are optional but not paired by a "
                        "CheckConstraint")


def test_the_diagnosis_table_names_its_source_and_the_code_set_release():
    table = diagnoses()
    assert "clinical.md" in table.citation
    assert table.code_set.startswith("ICD-10-CM ") and "simple-icd-10-cm" in table.code_set
    listed = {d.code for d in table.listed()}
    assert {"F33.2", "F41.1", "F43.10", "F42.2", "F10.20", "G89.4", "M79.7"} <= listed
    assert table.get("f33.2").is_depression and not table.get("F41.1").is_depression
