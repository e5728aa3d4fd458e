"""Every dose given in a session has its draw from stock, and every draw its dose: the
reconciliation report lists each difference in words, with what to do about it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kapclinic.audit.models import AuditEntry
from kapclinic.inventory import actions, reports
from kapclinic.inventory.models import LedgerLine
from kapclinic.treatment import actions as treatment
from tests.conftest import login
from tests.treatment.helpers import cleared, eligible_and_consented, minutes_ago

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(patient, prescriber, nurse):
    eligible_and_consented(patient, prescriber)
    return cleared(patient, prescriber, nurse, start=20)


def give(session, nurse, **fields):
    """A 35 mg dose (0.5 mg/kg of 70 kg) given a minute ago."""
    return treatment.record_administration(session, at=minutes_ago(1), by=nurse, dose_mg_per_kg=0.5, **fields)


def found(clinic) -> list[reports.Mismatch]:
    today = timezone.localdate(timezone.now(), clinic.zone)
    return reports.mismatches(reports.Period(clinic, today - timedelta(days=1), today + timedelta(days=1)))


def test_a_dose_drawn_from_its_lot_reconciles(clinic_a, ready, stocked, nurse):
    give(ready, nurse, lot="K123", product_ndc="42023-113")
    assert found(clinic_a) == []


def test_a_dose_given_but_not_drawn_from_stock_is_listed(clinic_a, ready, stocked, nurse, patient):
    given = give(ready, nurse)  # no lot recorded: it waits on "Doses to draw"
    [problem] = found(clinic_a)
    assert (problem.patient_id, problem.session_id, problem.dose_mg, problem.drawn_mg) == (
        patient.pk, ready.pk, 35, None)
    assert problem.problem == "Dose given but not drawn from stock."
    assert "Doses to draw" in problem.fix
    assert not LedgerLine.objects.filter(administration_id=given.pk).exists()


def test_a_draw_whose_dose_was_marked_entered_in_error_is_listed_with_what_to_do(
        clinic_a, ready, stocked, nurse, prescriber):
    given = give(ready, nurse, lot="K123", product_ndc="42023-113")
    draw = LedgerLine.objects.get(administration_id=given.pk)
    assert treatment.mark_administration_entered_in_error(given, reason="Recorded for the wrong patient",
                                                          by=prescriber)
    [problem] = found(clinic_a)
    assert (problem.line_id, problem.drawn_mg, problem.dose_mg) == (draw.pk, 35, None)
    assert problem.problem.startswith("Drawn from stock for a dose that is no longer recorded (marked "
                                      "entered in error")
    assert problem.fix.startswith("Reverse the draw if the dose was not given")
    actions.reverse(line=draw, reason="The dose was entered in error", by=nurse, role="nurse")
    assert found(clinic_a) == []


def test_a_draw_that_differs_from_the_dose_recorded_is_listed(clinic_a, ready, stocked, safe, nurse, patient):
    given = give(ready, nurse)
    actions.draw_for_dose(lot=stocked, location=safe, patient=patient, session_id=ready.pk,
                          administration_id=given.pk, dose_mg=40, by=nurse, at=given.started_at)
    [problem] = found(clinic_a)
    assert problem.problem == "Drawn amount (40 mg) differs from the dose recorded (35 mg)."


def test_a_reversed_draw_leaves_its_dose_not_drawn_and_says_so(clinic_a, ready, stocked, nurse):
    given = give(ready, nurse, lot="K123", product_ndc="42023-113")
    actions.reverse(line=LedgerLine.objects.get(administration_id=given.pk), reason="Wrong lot", by=nurse,
                    role="nurse")
    [problem] = found(clinic_a)
    assert problem.problem == ("Dose given but not drawn from stock (its draw was reversed and it was "
                               "not drawn again).")


def test_the_prescriber_reads_the_reconciliation_naming_the_patient_and_the_read_is_audited(
        clinic_a, ready, stocked, nurse, prescriber, patient):
    give(ready, nurse)
    today = timezone.localdate(timezone.now(), clinic_a.zone)
    page = login(prescriber).get("/stock/reports/record/", {
        "kind": "reconciliation", "start": today.isoformat(), "end": today.isoformat()})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Ada Lovelace" in text and "Dose given but not drawn from stock." in text
    assert AuditEntry.objects.filter(action="read", object_type="patient", patient_id=patient.pk,
                                     actor_id=prescriber.pk).exists()


def test_another_clinics_doses_are_reconciled_only_in_that_clinic(clinic_a, clinic_b, patient_b,
                                                                   other_clinician, stocked):
    from kapclinic.accounts.roles import Role
    from tests.conftest import make_user

    eligible_and_consented(patient_b, other_clinician)
    their_nurse = make_user("nell", clinic_b, Role.NURSE, "Nell", "Elsewhere")
    give(cleared(patient_b, other_clinician, their_nurse, start=20), their_nurse)
    assert found(clinic_a) == []
    [theirs] = found(clinic_b)
    assert theirs.patient_id == patient_b.pk


def test_the_stock_page_says_when_a_draws_dose_was_marked_entered_in_error(
        stocked, safe, patient, prescriber, nurse):
    from kapclinic.treatment import actions as treatment
    from tests.conftest import login
    from tests.treatment.helpers import cleared, eligible_and_consented, minutes_ago

    eligible_and_consented(patient, prescriber)
    session = cleared(patient, prescriber, nurse, start=20)
    given = treatment.record_administration(session, at=minutes_ago(1), by=nurse, dose_mg_per_kg=0.5,
                                            lot="K123")
    assert "not match" not in login(prescriber).get("/stock/").content.decode()
    treatment.mark_administration_entered_in_error(given, reason="wrong patient", by=prescriber)
    page = login(prescriber).get("/stock/").content.decode()
    assert "1 draw from stock does not match its dose" in page and "kind=reconciliation" in page
