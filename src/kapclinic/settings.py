"""Django settings, all driven by kapclinic.config (environment variables)."""

from __future__ import annotations

import logging
import os
import zoneinfo
from pathlib import Path

import dj_database_url

from kapclinic import config, mailconfig

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = config.data_dir()

SECRET_KEY = config.secret_key()
DEBUG = config.debug()
ALLOWED_HOSTS = config.allowed_hosts()

try:
    zoneinfo.ZoneInfo(config.default_time_zone())
except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
    raise config.ConfigurationError(
        f"KAPCLINIC_TIME_ZONE={config.default_time_zone()!r} is not a known IANA time zone "
        "(e.g. America/New_York)"
    ) from exc
TIME_ZONE = config.default_time_zone()
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = False

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "pgtrigger",  # PostgreSQL guards declared on the health-record bases (audit/models.py)
    "kapclinic.platform",
    "kapclinic.accounts",
    "kapclinic.audit",
    "kapclinic.patients",
    "kapclinic.alerts",
    "kapclinic.explorer",
    "kapclinic.screening",
    "kapclinic.measures",
    "kapclinic.treatment",
    "kapclinic.inventory",
    "kapclinic.interop",
    "kapclinic.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "kapclinic.audit.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): second factor given
    "kapclinic.accounts.middleware.ActiveClinicMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "kapclinic.web.middleware.NoStoreMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kapclinic.urls"
WSGI_APPLICATION = "kapclinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kapclinic.web.context.navigation",
            ],
        },
    }
]

DATABASES = {"default": dj_database_url.parse(config.database_url(), conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers and a writer work at once; IMMEDIATE transactions take the
    # write lock up front so two writers never race on the audit chain's head.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"
        ),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions end when the browser closes and after 30 idle minutes [policy: labelled default].
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "kapclinic.web.views.csrf_failure"  # says what to do: reload, try again
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if config.env_flag("KAPCLINIC_HTTPS"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Five failed logins lock the username+address pair for 15 minutes [policy: labelled default].
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address is the person's own, read through the proxies in KAPCLINIC_TRUSTED_PROXIES
# only (platform/client_ip.py): behind a proxy, REMOTE_ADDR alone would let anyone sharing it
# lock a named account for everyone.
KAPCLINIC_TRUSTED_PROXIES = config.trusted_proxies()
AXES_CLIENT_IP_CALLABLE = "kapclinic.platform.client_ip.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/locked_out.html"
AXES_VERBOSE = False

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False

# Email from KAPCLINIC_EMAIL_URL (smtp://user:password@host:587/?tls=true, smtps://…,
# console://); unset: console in development, none in production (kapclinic.W004). The worker
# sends the outbox (alerts/sending.py); nothing is sent inside a request's transaction.
try:
    globals().update(mailconfig.settings_from(os.environ.get("KAPCLINIC_EMAIL_URL"),
                                              production=config.is_production()))
except mailconfig.EmailUrlError as exc:
    raise config.ConfigurationError(str(exc)) from None
DEFAULT_FROM_EMAIL = os.environ.get("KAPCLINIC_FROM_EMAIL", "").strip() or "care@kapclinic.invalid"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Logs keep no link token, set-password link or search term (platform/access_log.py); the
# request loggers filter their own records, so every handler sees them redacted.
def _refusal_in_one_line(record: logging.LogRecord) -> bool:
    """A refused request (403, 404, a bad Host: below 500) is logged as one line: Django adds
    the refusal's traceback, which says nothing about the server and lets anyone flood the log
    with a few requests. A server error (500) keeps its traceback."""
    if record.name.startswith(("django.request", "django.security")):
        status = getattr(record, "status_code", None)
        if (status < 500) if isinstance(status, int) else record.levelno < logging.ERROR:
            record.exc_info = record.exc_text = None
    return True


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "kapclinic.platform.access_log.RedactingFilter"},
                "refusal_in_one_line": {"()": lambda: _refusal_in_one_line}},
    # on the loggers (every handler sees the one line) and on the console handler too, for
    # the django.security.<kind> loggers below django.security (a logger's filters skip them)
    "handlers": {"console": {"class": "logging.StreamHandler",
                             "filters": ["redact", "refusal_in_one_line"]}},
    "loggers": {
        "django.request": {"filters": ["redact", "refusal_in_one_line"]},
        "django.server": {"filters": ["redact"]},
        "django.security": {"filters": ["redact", "refusal_in_one_line"]},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# API tokens expire after 90 days unless asked otherwise [policy: labelled default].
KAPCLINIC_TOKEN_DAYS = 90
KAPCLINIC_PAGE_SIZE = 25

# Expensive requests allowed per user and per client address in each window (platform/ratelimit.py;
# over it: 429 with Retry-After) [policy: labelled default]. A population simulation
# (POST /api/v1/pk/simulate with "population") takes up to about a second of both cores.
KAPCLINIC_RATE_LIMITS = {
    "pk-population": {"per_user": 5, "per_address": 20, "seconds": 60,
                      "what": "population simulations"},
    # Forgot password: per_user counts per email address asked for (one reset email per
    # account per 15 minutes), per_address per client address.
    "password-reset": {"per_user": 1, "per_address": 5, "seconds": 900,
                       "what": "password reset requests"},
}

# Two-factor login (TOTP, django-otp): the issuer name shown in authenticator apps.
OTP_TOTP_ISSUER = "kapclinic"

# How a FHIR bulk export asked for over the API is run: "process" starts `kapclinic fhir
# run-export` at once; anything else leaves it to the worker's next pass (the tests do).
KAPCLINIC_EXPORT_RUNNER = "process"
