"""System checks with stable ids, reported by `kapclinic check` and at start-up."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=False)
def check_configuration(app_configs, **kwargs):
    problems = []
    if settings.DEBUG:
        problems.append(Warning(
            "DEBUG is on: error pages show code and settings.",
            hint="Unset KAPCLINIC_DEBUG outside a developer machine.", id="kapclinic.W001"))
    if "*" in settings.ALLOWED_HOSTS:
        problems.append(Warning(
            "KAPCLINIC_ALLOWED_HOSTS accepts any host name.",
            hint="List the host names the clinic uses, comma-separated.", id="kapclinic.W002"))
    public_hosts = [h for h in settings.ALLOWED_HOSTS if h not in ("127.0.0.1", "localhost", "[::1]")]
    if public_hosts and not getattr(settings, "SESSION_COOKIE_SECURE", False):
        problems.append(Warning(
            f"Serving {', '.join(public_hosts)} without secure cookies.",
            hint="Serve over HTTPS behind a proxy and set KAPCLINIC_HTTPS=1.", id="kapclinic.W003"))
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        folder = os.path.dirname(str(db["NAME"])) or "."
        if not os.access(folder, os.W_OK):
            problems.append(Error(
                f"The data folder {folder} is not writable, so the database cannot be written.",
                hint="Fix its permissions or set KAPCLINIC_DATA_DIR to a writable folder.",
                id="kapclinic.E001"))
    return problems


NOT_SENDING = {"kapclinic.mailconfig.UnconfiguredBackend",
               "django.core.mail.backends.console.EmailBackend",
               "django.core.mail.backends.locmem.EmailBackend",
               "django.core.mail.backends.dummy.EmailBackend"}


@register(Tags.compatibility)
def check_email(app_configs, **kwargs):
    """Production with no mail server: self-report links, set-password links and urgent-alert
    escalations would wait in the outbox. (Names the setting, never the URL's password.)"""
    from kapclinic import config

    if not config.is_production():
        return []
    if settings.EMAIL_BACKEND in NOT_SENDING:
        return [Warning(
            "Email is not configured: self-report links, set-password links and urgent-alert "
            "escalations will not be sent (they wait in the outbox).",
            hint="Set KAPCLINIC_EMAIL_URL, e.g. smtp://user:password@mail.example.org:587/?tls=true "
                 "(smtps:// for implicit TLS), and KAPCLINIC_FROM_EMAIL.", id="kapclinic.W004")]
    if not os.environ.get("KAPCLINIC_FROM_EMAIL", "").strip():
        return [Warning(
            f"KAPCLINIC_FROM_EMAIL is not set: email is sent from {settings.DEFAULT_FROM_EMAIL}, "
            "which recipients cannot reply to and mail servers may refuse.",
            hint="Set KAPCLINIC_FROM_EMAIL to the clinic's address, e.g. care@your-clinic.org.",
            id="kapclinic.W005")]
    return []


@register(Tags.database)
def check_database(app_configs, databases=None, **kwargs):
    if not databases:
        return []
    from django.db import connection
    from django.db.utils import OperationalError

    try:
        connection.ensure_connection()
    except OperationalError as exc:
        return [Error(f"Cannot reach the database: {exc}".splitlines()[0],
                      hint="Check KAPCLINIC_DATABASE_URL and that the server is running.",
                      id="kapclinic.E002")]
    return []


@register("instruments")
def check_instrument_definitions(app_configs, **kwargs):
    """A broken file in the clinic's instrument folder is named, with the field, at start-up."""
    from kapclinic.clinical.instruments import DefinitionError
    from kapclinic.clinical.instruments.definitions import CLINIC_DIR_ENV, load_all

    load_all.cache_clear()  # read the folder as it is now
    try:
        load_all()
    except DefinitionError as exc:
        return [Error(f"Instrument definitions: {exc}",
                      hint=f"Fix or remove the file in {os.environ.get(CLINIC_DIR_ENV)} "
                           f"({CLINIC_DIR_ENV}); the shipped definitions are in "
                           "src/kapclinic/clinical/instruments/definitions/.",
                      id="kapclinic.E003")]
    return []
