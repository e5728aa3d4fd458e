"""Escalation emails: sent in the worker pass that queued them, and an alert nobody could be
emailed about says so on the Alerts page (a review found both)."""

from __future__ import annotations

import html
import json
import logging
from datetime import timedelta

from django.core import mail
from django.utils import timezone

from kapclinic import demo
from kapclinic.accounts.models import User
from kapclinic.accounts.roles import Role
from kapclinic.alerts import actions as alerts
from kapclinic.alerts.models import Alert
from kapclinic.audit import context
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


def test_an_alert_nobody_could_be_emailed_about_says_so_on_the_alerts_page(
        clinic_a, nurse, clinic_admin, caplog):
    alert = urgent_stock_alert(clinic_a, raised_hours_ago=2)  # no one has an email address
    with caplog.at_level(logging.WARNING):
        assert worker.run_once().escalated == 1
    page = html.unescape(login(clinic_admin).get("/alerts/").content.decode())
    assert ("escalation could not be emailed: nobody in the clinic's escalation roles has an "
            "email address") in page
    assert "escalated to the clinic admin" not in page
    escalated = AuditEntry.objects.get(object_type="alert", object_id=str(alert.pk),
                                       action="update")
    assert json.loads(escalated.detail_json)["emailed"] == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Clinic A" in line and "no one" in line for line in warned), warned


def test_an_alert_emailed_to_the_care_team_still_shows_it_was_escalated(
        clinic_a, nurse, clinic_admin, caplog):
    with_email(clinic_admin, "adam@example.org")
    urgent_stock_alert(clinic_a, raised_hours_ago=2)
    with caplog.at_level(logging.WARNING):
        worker.run_once()
    page = html.unescape(login(clinic_admin).get("/alerts/").content.decode())
    assert "escalated to the clinic admin" in page and "could not be emailed" not in page
    assert not any("adam@example.org" in r.getMessage() for r in caplog.records)


def test_the_escalation_email_says_how_long_the_alert_has_waited(clinic_a, nurse):
    with_email(nurse, "nina@example.org")
    urgent_stock_alert(clinic_a, raised_hours_ago=3)
    worker.run_once()
    [email] = [m for m in mail.outbox if m.to == ["nina@example.org"]]
    assert "has not been acknowledged for 3 hours" in email.body
    assert "60 minutes" not in email.body


def test_the_demo_staff_have_addresses_that_escalations_can_be_emailed_to(db):
    context.set_system_actor("kapclinic demo")
    demo.load_demo(patients=2, seed=1, password="demo-pass-123", weeks=1)
    staff = User.objects.filter(memberships__clinic__is_demo=True).exclude(
        memberships__role=Role.PATIENT)
    assert staff.count() == 12
    assert all(user.email == f"{user.username}@kapclinic.invalid" for user in staff)
