"""Every stored field says what it reveals about a person (kapclinic/privacy.py, ADR 0006).

A field added by a future migration without a class fails here, naming model and field, so the
research and FHIR exports and the scrubbers never meet a field nobody has thought about.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.apps import apps

from kapclinic.clinical.screening.schema import INPUT_FIELDS
from kapclinic.privacy import (
    FieldClass,
    classification_problems,
    field_classes,
    identifying_fields,
    is_kapclinic_model,
    json_key_classes,
)
from kapclinic.screening.forms import NARRATIVE, IntakeForm

# Installed models that are not kapclinic's, with why this table does not classify them.
OUT_OF_SCOPE = {
    "auth.Permission": "Django's permission names: no data about a person",
    "auth.Group": "Django's group names: no data about a person (kapclinic roles are Membership)",
    "contenttypes.ContentType": "Django's table of model names: no data about a person",
    "sessions.Session": "Django's signed session store: short-lived login state, never exported",
    "axes.AccessAttempt": "django-axes lockout counters (username, client address): security "
                          "records of login attempts, never exported, kept by axes' own rules",
    "axes.AccessAttemptExpiration": "django-axes lockout expiry times: never exported",
    "axes.AccessFailureLog": "django-axes failed-login log: never exported",
    "axes.AccessLog": "django-axes login log: never exported",
    "otp_totp.TOTPDevice": "django-otp second-factor secrets of staff: never exported",
}


def label(model) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


def kapclinic_models():
    return [model for model in apps.get_models() if is_kapclinic_model(model)]


def test_every_field_of_every_kapclinic_model_has_a_class_and_every_class_a_field():
    assert len(kapclinic_models()) >= 20
    problems = classification_problems(kapclinic_models())
    assert not problems, "fields to classify in FIELD_CLASSES:\n" + "\n".join(problems)


def test_every_installed_model_is_classified_or_listed_out_of_scope_with_its_reason():
    others = {label(m) for m in apps.get_models() if not is_kapclinic_model(m)}
    assert others == set(OUT_OF_SCOPE), (
        f"classify or list as out of scope: {sorted(others - set(OUT_OF_SCOPE))}; "
        f"no longer installed: {sorted(set(OUT_OF_SCOPE) - others)}")


def test_a_field_added_without_a_class_is_named_with_its_model():
    from kapclinic.patients.models import Patient

    class Fake:
        __module__ = "kapclinic.patients.models"
        __name__ = "Patient"
        _meta = Patient._meta
        FIELD_CLASSES = {k: v for k, v in Patient.FIELD_CLASSES.items() if k != "phone"}
        FIELD_CLASSES["nickname"] = FieldClass.DIRECT_IDENTIFIER

    problems = classification_problems([Fake])
    assert "patients.Patient.phone has no class in FIELD_CLASSES" in problems
    assert "patients.Patient.FIELD_CLASSES names 'nickname', which is not a field" in problems


@pytest.mark.parametrize(("model", "field", "expected"), [
    ("patients.Patient", "given_name", FieldClass.DIRECT_IDENTIFIER),
    ("patients.Patient", "mrn", FieldClass.DIRECT_IDENTIFIER),
    ("patients.Patient", "emergency_contact_phone", FieldClass.DIRECT_IDENTIFIER),
    ("patients.Patient", "date_of_birth", FieldClass.DATE),
    ("patients.Patient", "sex_at_birth", FieldClass.QUASI_IDENTIFIER),
    ("patients.Condition", "code", FieldClass.CODED),
    ("screening.Consent", "client_addr", FieldClass.DIRECT_IDENTIFIER),
    ("screening.Consent", "signed_at", FieldClass.DATE),
    ("screening.SignOff", "reason", FieldClass.FREE_TEXT),
    ("measures.Response", "taken_at", FieldClass.DATE),
    ("measures.Response", "instrument", FieldClass.CODED),
    ("accounts.User", "username", FieldClass.DIRECT_IDENTIFIER),
    ("audit.AuditEntry", "client_addr", FieldClass.DIRECT_IDENTIFIER),
    ("audit.AuditEntry", "hash", FieldClass.NONE),
])
def test_safe_harbor_identifiers_dates_and_codes_land_in_their_class(model, field, expected):
    assert field_classes(apps.get_model(model))[field] is expected


def test_identifying_fields_are_the_direct_identifiers_and_free_text_they_always_were():
    old = {  # the IDENTIFYING_FIELDS tuples this table replaced
        "patients.Patient": {"mrn", "given_name", "family_name", "phone", "email", "address",
                             "emergency_contact_name", "emergency_contact_phone"},
        "patients.Condition": {"note"},
        "screening.Intake": {"draft", "data"},
        "screening.IntakeRevision": {"draft", "data"},
        "screening.SignOff": {"reason"},
        "screening.Consent": {"signed_name", "client_addr", "guardian_name", "withdrawal_reason"},
        "platform.RateCounter": {"key"},
        "platform.IdempotencyRecord": {"body", "location"},
        "measures.Response": {"entered_in_error_reason"},
        "alerts.Alert": {"acknowledgement_note"},
        "alerts.OutboxMessage": {"to", "body", "pending_body"},
        "measures.ClinicalEvent": {"note", "entered_in_error_reason"},
        "audit.AuditEntry": {"actor_username", "client_addr"},
        "accounts.User": {"username", "first_name", "last_name", "email"},
    }
    for name, fields in old.items():
        assert fields <= set(identifying_fields(apps.get_model(name))), name


def test_every_intake_key_the_rules_read_or_the_form_asks_has_a_class():
    form_keys = set(IntakeForm(patient=SimpleNamespace(sex_at_birth="female")).fields)
    assert set(NARRATIVE) <= form_keys
    for model in ("screening.Intake", "screening.IntakeRevision"):
        for field, keys in (("data", set(INPUT_FIELDS)), ("draft", form_keys)):
            declared = json_key_classes(apps.get_model(model), field)
            assert set(declared) == keys, (
                f"{model}.{field}: unclassified {sorted(keys - set(declared))}, "
                f"unknown {sorted(set(declared) - keys)}")
    data = json_key_classes(apps.get_model("screening.Intake"), "data")
    assert data["date_of_birth"] is FieldClass.DATE
    assert data["sex_at_birth"] is FieldClass.QUASI_IDENTIFIER
    assert data["diagnoses"] is FieldClass.CODED
    assert data["medications"] is FieldClass.FREE_TEXT
    assert data["history.psychosis"] is FieldClass.NONE
    draft = json_key_classes(apps.get_model("screening.Intake"), "draft")
    assert all(draft[key] is FieldClass.FREE_TEXT for key in (*NARRATIVE, "medications"))


def test_a_json_document_with_free_text_keys_is_itself_free_text():
    for model in kapclinic_models():
        for field in getattr(model, "JSON_KEY_CLASSES", {}):
            if FieldClass.FREE_TEXT in json_key_classes(model, field).values():
                assert field_classes(model)[field] is FieldClass.FREE_TEXT, f"{label(model)}.{field}"
