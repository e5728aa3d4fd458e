"""The test factories make the rows the app would: valid, in the right clinic, audited."""

from __future__ import annotations

from kapclinic.accounts.roles import Role
from kapclinic.audit.models import AuditEntry
from tests import factories


def audited(object_type: str, object_id: int) -> bool:
    return AuditEntry.objects.filter(object_type=object_type, object_id=str(object_id)).exists()


def test_each_factory_row_is_audited_like_one_made_in_the_app(db):
    clinic = factories.clinic()
    nurse = factories.user(clinic, Role.NURSE)
    prescriber = factories.user(clinic, Role.PRESCRIBER)
    ada = factories.patient(clinic, by=nurse)
    rows = {
        "patient": ada,
        "condition": factories.condition(ada, prescriber),
        "eligibility_decision": factories.decision(ada, prescriber),
        "consent": factories.consent(ada, nurse),
        "response": factories.response(ada, nurse, total=5).response,
    }
    missing = [kind for kind, row in rows.items() if not audited(kind, row.pk)]
    assert missing == []
    alert = factories.alert(ada, nurse)  # raised by an audited response, as in the app
    assert {row_clinic(r) for r in [*rows.values(), alert]} == {clinic.pk}


def row_clinic(row) -> int:
    return row.clinic_id if hasattr(row, "clinic_id") else row.patient.clinic_id


def test_two_factory_patients_and_clinics_never_collide(db):
    first, second = factories.clinic(), factories.clinic()
    assert first.slug != second.slug
    a, b = factories.patient(first), factories.patient(first)
    assert a.mrn != b.mrn


def test_a_series_of_totals_is_stored_oldest_first_a_week_apart(db):
    clinic = factories.clinic()
    nurse = factories.user(clinic, Role.NURSE)
    recorded = factories.responses(factories.patient(clinic, by=nurse), "phq9", [20, 14, 8],
                                   by=nurse)
    totals = [r.response.total for r in recorded]
    gaps = {(b.response.taken_at - a.response.taken_at).days
            for a, b in zip(recorded, recorded[1:], strict=False)}
    assert totals == [20, 14, 8] and gaps == {7}


def test_a_staff_factory_user_can_log_in_with_the_shared_password(client, db):
    nurse = factories.user(factories.clinic(), Role.NURSE)
    answer = client.post("/login/", {"username": nurse.username, "password": factories.PASSWORD})
    assert answer.status_code == 302 and "_auth_user_id" in client.session
