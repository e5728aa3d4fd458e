"""Email leaves the process: configured by KAPCLINIC_EMAIL_URL, queued in the outbox by the
write that causes it, delivered by the worker to a real SMTP server (aiosmtpd on 127.0.0.1),
retried when refused, never sent twice, and never sent while an audited write waits."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from django.db import connection, transaction
from django.test import Client, override_settings
from django.utils import timezone

from kapclinic import mailconfig
from kapclinic.accounts.models import User
from kapclinic.alerts import notifications as messaging
from kapclinic.alerts import sending
from kapclinic.alerts.models import OutboxMessage
from kapclinic.audit import trail
from kapclinic.audit.models import AuditEntry
from kapclinic.measures import actions
from kapclinic.patients.models import Patient
from tests.command import kapclinic
from tests.conftest import login, new_patient, set_directly

PASSWORD_IN_URL = "s3cret-mail-pass"


class LoopbackController(Controller):
    """aiosmtpd's threaded SMTP server on 127.0.0.1, on a port the kernel picks when the server
    binds (port 0), read back before the controller's first connection. Probing for a free
    port and binding it afterwards left a window in which another test process (pytest-xdist
    runs several) could take the same port."""

    def __init__(self, handler) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0)

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class Mailbox:
    """An SMTP handler that keeps what arrives; it can refuse, or stall until released."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], object]] = []
        self.connections = 0
        self.refuse = False
        self.stall = threading.Event()  # set: hold DATA until `release` is set
        self.stalled = threading.Event()
        self.release = threading.Event()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        if self.stall.is_set():
            self.stalled.set()
            # Blocking the server's loop is the point: a mail server that does not answer.
            self.release.wait(20)
        if self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    controller = LoopbackController(mailbox)
    controller.start()
    try:
        with override_settings(EMAIL_BACKEND=mailconfig.SMTP, EMAIL_HOST="127.0.0.1",
                               EMAIL_PORT=controller.port, EMAIL_USE_TLS=False,
                               EMAIL_USE_SSL=False, EMAIL_TIMEOUT=30,
                               DEFAULT_FROM_EMAIL="care@clinic-a.example"):
            yield mailbox
    finally:
        mailbox.release.set()
        controller.stop()


@pytest.fixture
def reachable(patient):
    set_directly(Patient.objects.filter(pk=patient.pk), email="ada@example.org")
    patient.refresh_from_db()
    return patient


def token_in(text: str) -> str:
    found = re.search(r"http://clinic\.example/r/measure/([^/\s\[]+)/", text)
    assert found, text
    return found.group(1)


def send_questionnaire(patient):
    return actions.send_request(patient=patient, instrument="phq9", due_at=timezone.now(),
                                base_url="http://clinic.example")


# ---- configuration ---------------------------------------------------------------------

def test_an_smtp_url_with_starttls_becomes_the_mail_settings():
    got = mailconfig.parse("smtp://care%40clinic.example:pa%3Ass@mail.example.org:2525/?tls=true")
    assert got["EMAIL_BACKEND"] == mailconfig.SMTP
    assert (got["EMAIL_HOST"], got["EMAIL_PORT"]) == ("mail.example.org", 2525)
    assert got["EMAIL_HOST_USER"] == "care@clinic.example" and got["EMAIL_HOST_PASSWORD"] == "pa:ss"
    assert got["EMAIL_USE_TLS"] and not got["EMAIL_USE_SSL"]


def test_smtps_means_implicit_tls_on_port_465_and_console_prints():
    got = mailconfig.parse("smtps://u:p@mail.example.org")
    assert got["EMAIL_USE_SSL"] and not got["EMAIL_USE_TLS"] and got["EMAIL_PORT"] == 465
    assert mailconfig.parse("console://")["EMAIL_BACKEND"].endswith("console.EmailBackend")
    assert mailconfig.settings_from("", production=False)["EMAIL_BACKEND"].endswith("console.EmailBackend")
    assert mailconfig.settings_from(None, production=True)["EMAIL_BACKEND"] == mailconfig.UNCONFIGURED


def test_a_wrong_email_url_is_refused_without_showing_its_password():
    with pytest.raises(mailconfig.EmailUrlError) as refused:
        mailconfig.parse(f"imap://user:{PASSWORD_IN_URL}@mail.example.org")
    assert PASSWORD_IN_URL not in str(refused.value) and "smtp://" in str(refused.value)
    with pytest.raises(mailconfig.EmailUrlError) as bad_port:
        mailconfig.parse(f"smtp://user:{PASSWORD_IN_URL}@mail.example.org:notaport")
    assert PASSWORD_IN_URL not in str(bad_port.value)


@pytest.mark.own_data_folder
def test_kapclinic_check_warns_when_production_has_no_email(tmp_path):
    production = {"KAPCLINIC_ENV": "production", "KAPCLINIC_SECRET_KEY": "k" * 50}
    missing = kapclinic(tmp_path, "check", env=production)
    assert "kapclinic.W004" in missing.stdout + missing.stderr
    assert "will not be sent" in missing.stdout + missing.stderr
    configured = kapclinic(tmp_path, "check", env={
        **production, "KAPCLINIC_EMAIL_URL": f"smtp://care:{PASSWORD_IN_URL}@mail.example.org:587/?tls=1",
        "KAPCLINIC_FROM_EMAIL": "care@clinic.example"})
    output = configured.stdout + configured.stderr
    assert "kapclinic.W004" not in output and PASSWORD_IN_URL not in output
    refused = kapclinic(tmp_path, "check", env={
        **production, "KAPCLINIC_EMAIL_URL": f"smtp://care:{PASSWORD_IN_URL}@mail.example.org:x"})
    assert refused.returncode == 2 and "KAPCLINIC_EMAIL_URL" in refused.stderr
    assert PASSWORD_IN_URL not in refused.stdout + refused.stderr


@pytest.mark.own_data_folder
def test_sendtestemail_reaches_the_configured_mail_server(tmp_path):
    mailbox = Mailbox()
    controller = LoopbackController(mailbox)
    controller.start()
    try:
        result = kapclinic(tmp_path, "manage", "sendtestemail", "admin@clinic.example", env={
            "KAPCLINIC_EMAIL_URL": f"smtp://127.0.0.1:{controller.port}",
            "KAPCLINIC_FROM_EMAIL": "care@clinic.example"})
    finally:
        controller.stop()
    assert result.returncode == 0, result.stderr
    [(rcpt, message)] = mailbox.received
    assert rcpt == ["admin@clinic.example"] and message["From"] == "care@clinic.example"


# ---- delivery -------------------------------------------------------------------------

def test_the_worker_delivers_a_queued_link_to_a_real_smtp_server_once(smtp_server, reachable,
                                                                       clinic_admin):
    send_questionnaire(reachable)
    queued = OutboxMessage.objects.get()
    assert queued.status == "queued" and smtp_server.connections == 0  # the write sent nothing

    assert sending.deliver_due() == 1
    [(rcpt, message)] = smtp_server.received
    assert rcpt == ["ada@example.org"] and message["To"] == "ada@example.org"
    assert message["Subject"] == "Clinic A: your PHQ-9 questionnaire"
    assert message["From"] == "care@clinic-a.example"
    token = token_in(message.get_payload(decode=True).decode())

    assert sending.deliver_due(timezone.now() + timedelta(hours=2)) == 0  # a second pass
    assert len(smtp_server.received) == 1
    queued.refresh_from_db()
    assert queued.status == "sent" and queued.sent_at and queued.pending_body == ""
    page = login(clinic_admin).get("/clinic/outbox/")
    assert b"Sent" in page.content and token.encode() not in page.content


def test_a_message_already_claimed_by_another_worker_is_not_sent_again(smtp_server, reachable):
    send_questionnaire(reachable)
    message = OutboxMessage.objects.get()
    assert sending.deliver(message, timezone.now()) == 1
    assert sending.deliver(message, timezone.now()) == 0  # the stale copy: its claim fails
    assert len(smtp_server.received) == 1


def test_a_message_sent_late_in_a_long_pass_is_not_taken_for_an_abandoned_claim(
        smtp_server, reachable, monkeypatch):
    """The pass began longer ago than STALE_CLAIM (a long batch to a slow server); while this
    message is being sent, another worker looks for abandoned claims: it is not one."""
    send_questionnaire(reachable)
    message = OutboxMessage.objects.get()
    send = sending._send

    def another_worker_looks_while_sending(msg):
        sending._give_up_stale_claims(timezone.now(), msg.clinic_id)
        send(msg)

    monkeypatch.setattr(sending, "_send", another_worker_looks_while_sending)
    pass_began = timezone.now() - sending.STALE_CLAIM - timedelta(minutes=5)
    assert sending.deliver(message, pass_began) == 1
    message.refresh_from_db()
    assert message.status == "sent" and message.last_error == ""
    assert len(smtp_server.received) == 1


def test_a_refused_message_is_retried_later_not_lost(smtp_server, reachable, clinic_admin):
    smtp_server.refuse = True
    send_questionnaire(reachable)
    assert sending.deliver_due() == 0
    message = OutboxMessage.objects.get()
    assert message.status == "retrying" and message.attempts == 1
    assert "550" in message.last_error and message.pending_body  # kept to try again
    token = token_in(message.pending_body)
    assert message.next_attempt_at > timezone.now()
    page = login(clinic_admin).get("/clinic/outbox/").content.decode()
    assert "Not sent yet" in page and "The mail server refused the message: 550" in page
    assert "Mailbox unavailable" in page and token not in page

    assert sending.deliver_due() == 0  # not due yet: the server is not hammered
    smtp_server.refuse = False
    assert sending.deliver_due(message.next_attempt_at) == 1
    [(rcpt, _)] = smtp_server.received
    message.refresh_from_db()
    assert rcpt == ["ada@example.org"] and message.status == "sent" and message.attempts == 2


def test_a_message_refused_every_time_ends_failed_and_shown(smtp_server, reachable, clinic_admin):
    smtp_server.refuse = True
    send_questionnaire(reachable)
    later = timezone.now()
    for _ in range(sending.MAX_ATTEMPTS):
        sending.deliver_due(later)
        later += sending.LONGEST_WAIT
    message = OutboxMessage.objects.get()
    assert message.status == "failed" and message.attempts == sending.MAX_ATTEMPTS
    assert message.pending_body == ""  # the link is not kept once it will not be sent
    assert b"Failed" in login(clinic_admin).get("/clinic/outbox/").content


def test_one_clinics_refused_message_does_not_stop_another_clinics(smtp_server, reachable,
                                                                    clinic_b, caplog):
    other = new_patient(clinic_b, mrn="B-0001", given_name="Brook", family_name="Other",
                        email="brook@example.org")
    original = sending._send

    def clinic_a_server_down(message):
        if message.clinic_id == reachable.clinic_id:
            raise ConnectionRefusedError("clinic A's relay is down")
        original(message)

    send_questionnaire(reachable)
    send_questionnaire(other)
    sending._send = clinic_a_server_down
    try:
        assert sending.deliver_due() == 1
    finally:
        sending._send = original
    assert [rcpt for rcpt, _ in smtp_server.received] == [["brook@example.org"]]
    assert OutboxMessage.objects.get(clinic=reachable.clinic).status == "retrying"
    assert "relay is down" in caplog.text


def test_an_error_on_the_outbox_page_never_shows_the_mail_password(reachable, clinic_admin):
    class Refusing:
        def __init__(self, **kwargs):
            pass

        def send_messages(self, messages):
            raise OSError(f"535 authentication failed for care:{PASSWORD_IN_URL}")

    send_questionnaire(reachable)
    with override_settings(EMAIL_HOST_PASSWORD=PASSWORD_IN_URL), \
            pytest.MonkeyPatch.context() as patch:
        patch.setattr(sending, "get_connection", lambda **kw: Refusing())
        sending.deliver_due()
    message = OutboxMessage.objects.get()
    assert message.status == "retrying" and PASSWORD_IN_URL not in message.last_error
    assert PASSWORD_IN_URL.encode() not in login(clinic_admin).get("/clinic/outbox/").content


def test_a_forgotten_password_link_is_queued_then_delivered_by_the_worker(smtp_server, nurse):
    User.objects.filter(pk=nurse.pk).update(email="nina@example.org")
    Client().post("/account/forgot-password/", {"email": "nina@example.org"})
    assert smtp_server.connections == 0 and OutboxMessage.objects.get().status == "queued"
    sending.deliver_due()
    [(rcpt, message)] = smtp_server.received
    assert rcpt == ["nina@example.org"] and message["Subject"] == "Reset your kapclinic password"


def test_production_without_email_keeps_messages_queued_instead_of_failing(reachable):
    send_questionnaire(reachable)
    with override_settings(EMAIL_BACKEND=mailconfig.UNCONFIGURED):
        assert sending.deliver_due() == 0
    message = OutboxMessage.objects.get()
    assert message.status == "queued" and message.attempts == 0


@pytest.mark.django_db(transaction=True)
def test_a_stalled_mail_server_does_not_hold_audited_writes(smtp_server, reachable, nurse):
    send_questionnaire(reachable)
    smtp_server.stall.set()
    worker = threading.Thread(target=lambda: (sending.deliver_due(), connection.close()))
    worker.start()
    try:
        assert smtp_server.stalled.wait(10), "the worker never reached the mail server"
        # The worker is now waiting on the mail server: the clinic keeps writing.
        with transaction.atomic():
            entry = trail.record("read", object_type="patient", object_id=reachable.pk,
                                 patient_id=reachable.pk, clinic_id=reachable.clinic_id)
            messaging.send_to_staff(reachable.clinic_id, "nina@example.org", subject="Hello",
                                    body="A second message, queued meanwhile.")
        assert worker.is_alive() and not smtp_server.received
        assert AuditEntry.objects.filter(pk=entry.pk).exists()
    finally:
        smtp_server.release.set()
        worker.join(30)
    assert [rcpt for rcpt, _ in smtp_server.received][0] == ["ada@example.org"]
    assert OutboxMessage.objects.get(to="ada@example.org").status == "sent"


def test_a_refused_address_reaches_the_outbox_page_but_never_the_server_log(reachable, caplog,
                                                                            monkeypatch):
    import smtplib

    def refuse(message):
        raise smtplib.SMTPRecipientsRefused(
            {message.to: (550, f"5.1.1 <{message.to}>: Recipient address rejected".encode())})

    monkeypatch.setattr(sending, "_send", refuse)
    send_questionnaire(reachable)
    with caplog.at_level("WARNING"):
        assert sending.deliver_due() == 0
    message = OutboxMessage.objects.get()
    assert "Recipient address rejected" in message.last_error  # the admin still reads why
    assert "Recipient address rejected" in caplog.text
    assert "ada@example.org" not in caplog.text


def test_the_default_sms_backend_logs_no_phone_number(caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="kapclinic.alerts.notifications"):
        messaging.OutboxSmsBackend().send("+1 555 0100", "Your questionnaire: https://x/t/abc")
    assert caplog.records and "555" not in caplog.text and "abc" not in caplog.text
