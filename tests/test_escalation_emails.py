"""Escalation emails: sent in the worker pass that queued them, and an alert nobody could be
emailed about says so on the Alerts page (a review found both)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core import mail
from django.utils import timezone

from kapclinic.alerts import actions as alerts
from kapclinic.alerts.models import Alert
from kapclinic.audit.models import AuditEntry
from kapclinic.measures import worker
from tests.conftest import login, set_directly


def urgent_stock_alert(clinic, raised_hours_ago: float) -> Alert:
    alert = alerts.raise_alert(clinic_id=clinic.pk, source="ledger", kind="stock_discrepancy",
                               label="Ketamine count differs from the ledger by 2 vials",
                               record_type="ledger.count", record_id=7, by=None)
    set_directly(Alert.objects.filter(pk=alert.pk),
                 raised_at=timezone.now() - timedelta(hours=raised_hours_ago))
    return alert


def with_email(user, address: str):
    user.email = address
    user.save()
    return user


def test_escalation_emails_queued_in_a_worker_pass_are_delivered_in_that_same_pass(
        clinic_a, nurse, clinic_admin):
    with_email(nurse, "nina@example.org")
    with_email(clinic_admin, "adam@example.org")
    urgent_stock_alert(clinic_a, raised_hours_ago=2)
    report = worker.run_once()  # one pass, its time taken when it began
    assert report.escalated == 1 and report.delivered == 2
    assert sorted(address for m in mail.outbox for address in m.to) == [
        "adam@example.org", "nina@example.org"]
