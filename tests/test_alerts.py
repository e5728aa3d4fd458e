"""Generic alerts any app raises, and the worker running each clinic's work on its own."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from kapclinic.alerts import actions as alerts
from kapclinic.alerts import badges
from kapclinic.alerts.models import Alert
from kapclinic.measures import actions, worker
from kapclinic.measures.models import MeasureRequest, MeasureSettings
from kapclinic.patients.models import Patient
from tests.conftest import login, make_user, new_patient, set_directly
from tests.outbox import delivered


def stock_alert(clinic, record_id=7):
    return alerts.raise_alert(clinic_id=clinic.pk, source="ledger", kind="stock_discrepancy",
                              label="Ketamine count differs from the ledger by 2 vials",
                              record_type="ledger.count", record_id=record_id,
                              recommended_action="Recount with a second witness.", by=None)


def test_raising_the_same_alert_for_the_same_record_twice_makes_one_alert(clinic_a):
    first = stock_alert(clinic_a)
    again = stock_alert(clinic_a)
    assert first.pk == again.pk and Alert.objects.count() == 1
    assert stock_alert(clinic_a, record_id=8).pk != first.pk  # another count: another alert


def test_many_alerts_raised_at_once_are_each_raised_once_in_order_with_their_audit_entries(
        clinic_a, prescriber):
    from kapclinic.audit.models import AuditEntry

    patient = new_patient(clinic_a, prescriber)
    earlier = alerts.raise_alert(clinic_id=clinic_a.pk, source="bedside_monitor", kind="spo2_low",
                                 label="SpO2 low", patient=patient, record_type="vital_reading",
                                 record_id=1, by=None)
    wanted = [alerts.NewAlert(clinic_a.pk, "bedside_monitor", kind, label, patient=patient,
                              record_type="vital_reading", record_id=record)
              for kind, label, record in [("spo2_low", "SpO2 low", 1), ("heart_rate_high", "HR high", 1),
                                          ("spo2_low", "SpO2 low", 2), ("spo2_low", "SpO2 low", 2)]]
    wanted.append(alerts.NewAlert(clinic_a.pk, "ledger", "stock_discrepancy", "Count differs"))
    before = AuditEntry.objects.filter(object_type="alert").count()

    raised = alerts.raise_alerts(wanted, by=None)

    assert raised[0] == earlier and raised[2] == raised[3]  # raised before, and twice in the call
    assert [a.kind for a in raised] == ["spo2_low", "heart_rate_high", "spo2_low", "spo2_low",
                                        "stock_discrepancy"]
    assert Alert.objects.count() == 4  # the earlier one, then three new
    assert AuditEntry.objects.filter(object_type="alert").count() == before + 3
    assert alerts.raise_alerts(wanted[:4], by=None) == raised[:4]  # again: nothing new
    assert Alert.objects.count() == 4


def test_an_alert_another_process_raised_a_moment_before_is_returned_not_raised_twice(
        clinic_a, monkeypatch):
    from django.db import IntegrityError

    manager = type(Alert.objects)
    real_bulk_insert = manager.bulk_insert
    raced_once = []

    def raced(self, rows, *args, **kwargs):  # the other process commits first
        monkeypatch.setattr(manager, "bulk_insert", real_bulk_insert)
        stock_alert(clinic_a, record_id=9)
        raced_once.append(True)
        raise IntegrityError("one_alert_per_rule_and_record")

    monkeypatch.setattr(manager, "bulk_insert", raced)
    wanted = [alerts.NewAlert(clinic_a.pk, "ledger", "stock_discrepancy", "Count differs",
                              record_type="ledger.count", record_id=record) for record in (9, 10)]
    raised = alerts.raise_alerts(wanted, by=None)
    assert raced_once  # the other process's insert came first
    assert raised[0].pk == Alert.objects.get(record_id=9).pk and raised[1].record_id == 10
    assert Alert.objects.count() == 2


def test_the_same_rule_fired_twice_for_a_record_just_written_is_raised_once(clinic_a, prescriber):
    """A protocol naming a rule twice must not make a monitor's reading fail on the alerts'
    uniqueness (the monitor would resend it for ever)."""
    from kapclinic.audit import trail
    from kapclinic.audit.actions import action

    patient = new_patient(clinic_a, prescriber)
    twice = [alerts.NewAlert(clinic_a.pk, "bedside_monitor", "sbp_high", "Blood pressure high",
                             patient=patient, record_type="vital_reading", record_id=77)] * 2

    @action
    def write_reading_alerts(*, by=None):
        made, events = alerts.raise_for_new_records(twice)
        trail.record_many(events)
        return made

    made = write_reading_alerts(by=None)
    assert len(made) == 1 and made[0].pk is not None
    assert Alert.objects.filter(record_id=77).count() == 1


def test_an_alert_about_no_patient_is_listed_and_counted_for_its_clinic_only(
        clinic_a, clinic_b, nurse, other_clinician):
    stock_alert(clinic_a)
    page = login(nurse).get("/alerts/")
    assert "Ketamine count differs from the ledger by 2 vials" in page.content.decode()
    assert "Recount with a second witness." in page.content.decode()
    assert badges.open_alert_count(nurse.memberships.get()) == 1
    assert badges.open_alert_count(other_clinician.memberships.get()) == 0
    assert "Ketamine count" not in login(other_clinician).get("/alerts/").content.decode()


def test_a_clinician_acknowledges_an_alert_about_no_patient_and_another_clinic_cannot(
        clinic_a, clinic_b, nurse, other_clinician):
    alert = stock_alert(clinic_a)
    refused = login(other_clinician).post(f"/alerts/{alert.pk}/acknowledge/",
                                          {"note": "not ours"})
    assert refused.status_code == 404
    login(nurse).post(f"/alerts/{alert.pk}/acknowledge/", {"note": "Recounted: 2 vials found."})
    alert.refresh_from_db()
    assert alert.acknowledged_by == nurse and alert.acknowledgement_note.startswith("Recounted")
    assert badges.open_alert_count(nurse.memberships.get()) == 0


def test_an_alert_raised_in_error_leaves_the_open_alerts_and_is_never_escalated(
        clinic_a, nurse):
    alert = stock_alert(clinic_a)
    assert alerts.mark_alert_entered_in_error(alert, reason="Wrong shelf counted", by=nurse)
    assert not Alert.objects.open().exists() and Alert.objects.filter(pk=alert.pk).exists()
    assert worker.run_once(now=timezone.now() + timedelta(days=1)).escalated == 0


def test_an_urgent_alert_about_no_patient_escalates_to_the_clinics_nurses_and_admins(
        clinic_a, nurse, clinic_admin):
    for user, email in ((nurse, "nina@example.org"), (clinic_admin, "adam@example.org")):
        user.email = email
        user.save()
    stock_alert(clinic_a)
    assert worker.run_once(now=timezone.now() + timedelta(minutes=61)).escalated == 1
    sent = {(address, m.subject) for m in delivered() for address in m.to}
    assert ("nina@example.org", "Unacknowledged urgent alert") in sent
    assert ("adam@example.org", "Alert escalated") in sent


PHQ9_ITEM9 = {**{f"item_{n}": "0" for n in range(1, 10)}, "item_9": "1"}


def due_and_alerting(clinic, prescriber, mrn):
    """A reachable patient of ``clinic`` with questionnaires due now and an urgent alert."""
    patient = new_patient(clinic, prescriber, mrn=mrn, prescriber=prescriber)
    set_directly(Patient.objects.filter(pk=patient.pk), email=f"{mrn}@example.org")
    patient.refresh_from_db()
    actions.start_default_schedule(patient=patient, by=prescriber,
                                   first_due=timezone.now() - timedelta(minutes=1))
    actions.record_response(patient=patient, instrument="phq9", source="clinic", by=prescriber,
                            answers={k.removeprefix("item_"): int(v)
                                     for k, v in PHQ9_ITEM9.items()})
    return patient


def test_one_clinics_bad_setting_never_stops_another_clinics_questionnaires_or_escalations(
        clinic_a, clinic_b, prescriber, other_clinician, monkeypatch, caplog):
    ada = due_and_alerting(clinic_a, prescriber, "A-0001")
    brook = due_and_alerting(clinic_b, other_clinician, "B-0001")
    make_user("bea", clinic_b, "admin", "Bea", "Admin")
    real_bounded = MeasureSettings.bounded

    def overflowing(self, name):  # clinic A's settings row cannot be read
        if self.clinic_id == clinic_a.pk:
            raise OverflowError("date value out of range")
        return real_bounded(self, name)

    monkeypatch.setattr(MeasureSettings, "bounded", overflowing)
    with caplog.at_level(logging.ERROR):
        report = worker.run_once(now=timezone.now() + timedelta(minutes=61))

    assert MeasureRequest.objects.filter(patient=brook).count() == 2  # PHQ-9 and GAD-7
    assert not MeasureRequest.objects.filter(patient=ada).exists()
    assert Alert.objects.get(patient=brook).escalated_at is not None
    assert Alert.objects.get(patient=ada).escalated_at is None
    assert (report.sent, report.escalated) == (2, 1)
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"for clinic {clinic_a.pk}" in text for text in failures)
    assert not any(f"for clinic {clinic_b.pk}" in text for text in failures)
