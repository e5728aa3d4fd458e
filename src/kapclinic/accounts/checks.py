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
