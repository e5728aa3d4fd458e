"""The demo clinic agrees with itself: no patient has a status without the records that put
them there (a signed eligibility decision; for treatment, a current consent too)."""

from __future__ import annotations

import pytest

from kapclinic.patients.models import Patient, StatusChange
from kapclinic.screening import actions as screening
from kapclinic.screening.models import SignOff
from tests.conftest import demo_loaded


@pytest.fixture(scope="module")
def loaded_demo(django_db_setup, django_db_blocker):
    """The 40-patient demo, loaded once for this module's tests (it took ~5 s per test) inside a
    transaction rolled back after the last of them. Each test runs in its own savepoint within
    it (pytest-django's db fixture), so nothing one test writes is seen by the next."""
    with demo_loaded(django_db_blocker, patients=40, seed=3):
        yield list(Patient.objects.select_related("clinic").order_by("mrn"))


@pytest.fixture
def demo_clinic(loaded_demo, db):
    return loaded_demo


def last_signoff(patient):
    return (SignOff.objects.filter(decision__patient=patient).select_related("decision")
            .order_by("-signed_at", "-pk").first())


def test_every_signed_off_status_has_the_prescribers_sign_off(demo_clinic):
    for status, final in (("eligible", "eligible"), ("ineligible", "ineligible"),
                          ("in_treatment", "eligible"), ("maintenance", "eligible")):
        patients = [p for p in demo_clinic if p.status == status]
        assert patients, f"the demo has no {status} patient"
        for patient in patients:
            signoff = last_signoff(patient)
            assert signoff is not None and signoff.final_status == final, patient.mrn
            assert not screening.is_stale(signoff.decision), patient.mrn


def test_every_patient_in_treatment_could_have_been_moved_there_by_hand(demo_clinic):
    treated = [p for p in demo_clinic if p.status in ("in_treatment", "maintenance")]
    for patient in treated:
        assert screening.treatment_blocker(patient) is None, patient.mrn
        assert screening.has_current_consent(patient), patient.mrn


def test_discharged_after_treatment_went_through_treatment(demo_clinic):
    for patient in (p for p in demo_clinic if p.status == "discharged"):
        path = list(StatusChange.objects.filter(patient=patient).order_by("pk")
                    .values_list("to_status", flat=True))
        assert "in_treatment" in path or "eligible" not in path, (patient.mrn, path)


def test_no_new_record_starts_anywhere_but_referred_or_screening(demo_clinic):
    first = {}
    for change in StatusChange.objects.order_by("pk"):
        first.setdefault(change.patient_id, change.to_status)
    assert set(first.values()) <= {"referred", "screening"}


def test_the_demos_shift_count_compares_with_what_the_ledger_held_when_it_was_counted(demo_clinic):
    """An outside review: the count said the ledger held 200 mg on the cart, while the cart's
    lines (the week's doses, drawn at their sessions' times) add up to far less by then."""
    from django.db.models import Sum

    from kapclinic.inventory.models import LedgerLine, StockCount

    shifts = list(StockCount.objects.filter(kind="shift").select_related("location"))
    assert shifts  # one in each demo clinic
    for shift in shifts:
        held = LedgerLine.objects.filter(lot=shift.lot, location=shift.location,
                                         at__lte=shift.counted_at).aggregate(total=Sum("amount_mg"))["total"]
        assert shift.location.name == "Dosing room cart"
        assert shift.balance_mg == held and shift.counted_mg == held - 5


def test_every_demo_dosing_session_names_the_clinician_who_supervises_it(demo_clinic):
    """An outside review: the calendar's clinician view put every demo session under "Not
    assigned"."""
    from kapclinic.treatment.models import Session

    sessions = Session.objects.filter(patient__in=demo_clinic)
    assert sessions.exists()
    unsupervised = sessions.filter(clinician__isnull=True)
    assert not unsupervised.exists(), f"{unsupervised.count()} of {sessions.count()} sessions"
