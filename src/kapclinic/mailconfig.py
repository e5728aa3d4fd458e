"""KAPCLINIC_EMAIL_URL read into Django's EMAIL_* settings (no Django import: settings use it).

    smtp://user:password@mail.example.org:587/?tls=true   STARTTLS (port 587 by default)
    smtps://user:password@mail.example.org                 implicit TLS (port 465 by default)
    console://                                             print messages (development)

User and password may be percent-encoded (``%40`` for ``@``). Nothing here puts the password
in an error message: a refused URL is named by :func:`redacted`.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

CONSOLE = "django.core.mail.backends.console.EmailBackend"
SMTP = "django.core.mail.backends.smtp.EmailBackend"
# No backend configured: messages stay queued in the outbox (kapclinic check: kapclinic.W004).
UNCONFIGURED = "kapclinic.mailconfig.UnconfiguredBackend"
TRUE_WORDS = {"1", "true", "yes", "on"}
DEFAULT_TIMEOUT_S = 20  # a stalled mail server frees the worker after this long


class EmailUrlError(ValueError):
    """KAPCLINIC_EMAIL_URL cannot be used (the message never holds the password)."""


def redacted(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        return parts._replace(netloc=f"{user}:***@{netloc[1]}").geturl()
    except ValueError:
        return "(a URL that could not be read)"


def parse(url: str) -> dict[str, object]:
    """Django EMAIL_* settings for ``url``; raises EmailUrlError naming what is wrong."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise EmailUrlError(f"KAPCLINIC_EMAIL_URL={redacted(url)} cannot be read: use "
                            "smtp://user:password@host:587/?tls=true, smtps://… or console://") from exc
    scheme = parts.scheme.lower()
    if scheme == "console":
        return {"EMAIL_BACKEND": CONSOLE}
    if scheme not in ("smtp", "smtps"):
        raise EmailUrlError(f"KAPCLINIC_EMAIL_URL={redacted(url)}: {scheme or 'no scheme'} is not "
                            "supported: use smtp://, smtps:// (implicit TLS) or console://")
    if not parts.hostname:
        raise EmailUrlError(f"KAPCLINIC_EMAIL_URL={redacted(url)} names no mail server: "
                            "use smtp://user:password@host:587/?tls=true")
    query = {k.lower(): v[-1].strip().lower() for k, v in parse_qs(parts.query).items()}
    implicit_tls = scheme == "smtps" or query.get("ssl") in TRUE_WORDS
    starttls = not implicit_tls and query.get("tls") in TRUE_WORDS
    try:
        timeout = int(query.get("timeout", DEFAULT_TIMEOUT_S))
    except ValueError as exc:
        raise EmailUrlError(f"KAPCLINIC_EMAIL_URL={redacted(url)}: timeout must be whole "
                            "seconds, e.g. ?timeout=20") from exc
    return {
        "EMAIL_BACKEND": SMTP,
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port or (465 if implicit_tls else 587 if starttls else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": starttls,
        "EMAIL_USE_SSL": implicit_tls,
        "EMAIL_TIMEOUT": max(1, timeout),
    }


def settings_from(url: str | None, *, production: bool) -> dict[str, object]:
    """The EMAIL_* settings: the URL's, else console in development and none in production."""
    if url and url.strip():
        return parse(url)
    return {"EMAIL_BACKEND": UNCONFIGURED if production else CONSOLE}


class UnconfiguredBackend:
    """Refuses to send, so messages stay in the outbox until KAPCLINIC_EMAIL_URL is set."""

    def __init__(self, fail_silently: bool = False, **kwargs: object) -> None:
        self.fail_silently = fail_silently

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def send_messages(self, messages: object) -> int:
        raise ConnectionError("email is not configured: set KAPCLINIC_EMAIL_URL "
                              "(e.g. smtp://user:password@host:587/?tls=true)")
