"""Logs that keep no secrets: link tokens, set-password links and search terms are redacted.

A patient link (/r/intake/<token>/, /r/measure/<token>/) and a set-password link
(/account/set-password/<uid>/<token>/) are credentials, and a query string can hold a
patient's name (a search). Anyone who reads a server log must not be able to use or read
them. A path the client percent-encoded (/r/%69ntake/<token>/, which the server decodes and
serves like the plain one) is decoded until it stops changing before matching, and redacted
whole when it is a link. Everything that writes a request's path goes through ``redact``:

- gunicorn's access log, by ``RedactingLogger`` (``kapclinic serve`` passes
  ``--logger-class kapclinic.platform.access_log.RedactingLogger``), for the request line, the
  path, the query string and the Referer (an asset fetched from a link page names it);
- Django's request and development-server loggers ("Not Found: /r/intake/..."), by
  ``RedactingFilter`` in settings.LOGGING.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

REDACTED = "[redacted]"

# /r/intake/<token>/ and /r/measure/<token>/ (not the token-free pages /r/intake/autosave/)
_LINK = re.compile(r"(/r/(?:intake|measure)/)(?!autosave(?:[/?#\s\"]|$))([^/?#\s\"]+)")
# /account/set-password/<uid>/<token>/: the uid names the account, the token opens it;
# Django's own placeholder ("set-password") replaces the token once it is in the session.
_SET_PASSWORD = re.compile(r"(/account/set-password/)([^/?#\s\"]+)(?:/([^/?#\s\"]+))?")
PLACEHOLDER = "set-password"  # Django's PasswordResetConfirmView.reset_url_token
_QUERY = re.compile(r"\?([^\s#\"]*)")
# Query parameters whose values say nothing about anyone (kept for reading the log).
SAFE_PARAMETERS = frozenset({"page"})
# Request headers never written to a log, whatever the log format asks for.
SECRET_HEADERS = frozenset({"{cookie}i", "{authorization}i", "{x-api-key}i",
                            "{proxy-authorization}i", "{set-cookie}o", "{http_cookie}e",
                            "{http_authorization}e"})


def _query(query: str) -> str:
    """The query string with every value but the harmless ones replaced."""
    parts = []
    for pair in query.split("&"):
        if not pair:
            continue
        name, has_value, value = pair.partition("=")
        keep = name in SAFE_PARAMETERS and value.isdigit() and len(value) < 7
        parts.append(f"{name}={value if keep else REDACTED}" if has_value else name)
    return "&".join(parts)


def _set_password(match: re.Match) -> str:
    last = match.group(3)
    tail = "" if last is None else "/" + (last if last == PLACEHOLDER else REDACTED)
    return f"{match.group(1)}{REDACTED}{tail}"


# A run of characters with a percent escape in it: a path or URL as the client spelled it.
_ENCODED = re.compile(r"[^\s\"]*%[^\s\"]*")
_MAX_DECODES = 10  # "%252569..." decodes once per round; a real path settles in two or three


def _decoded(text: str) -> str:
    """``text`` percent-decoded again and again until it stops changing."""
    for _ in range(_MAX_DECODES):
        once = unquote(text)
        if once == text:
            break
        text = once
    return text


def _encoded_link(match: re.Match) -> str:
    """A percent-encoded path that decodes to a link (/r/%69ntake/<token>/ is served like
    /r/intake/<token>/): redacted whole, since its pieces cannot be told apart safely."""
    raw = match.group(0)
    plain = _decoded(raw)
    if _LINK.search(plain) or _SET_PASSWORD.search(plain):
        return REDACTED
    return raw


def redact(text: Any) -> Any:
    """``text`` (a path, a URL, a request line or a log message) without link tokens,
    set-password links or query values. Anything not a string comes back unchanged."""
    if not isinstance(text, str) or not text:
        return text
    if "%" in text:
        text = _ENCODED.sub(_encoded_link, text)
    text = _LINK.sub(lambda m: m.group(1) + REDACTED, text)
    text = _SET_PASSWORD.sub(_set_password, text)
    return _QUERY.sub(lambda m: "?" + _query(m.group(1)), text)


def redact_atoms(atoms: Mapping[str, Any]) -> dict[str, Any]:
    """gunicorn's access-log atoms, redacted (the query atom ``q`` has no leading "?")."""
    clean = {}
    for name, value in atoms.items():
        if name.lower() in SECRET_HEADERS:
            clean[name] = REDACTED
        elif name == "q" or name.lower() == "{query_string}e":
            clean[name] = _query(value) if isinstance(value, str) else value
        else:
            clean[name] = redact(value)
    return clean


class RedactingFilter(logging.Filter):
    """A logging filter that redacts a record's message (its arguments formatted in)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to the handler
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


try:  # gunicorn runs on POSIX only; the filter above serves every platform
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover (Windows development machines)
    _GunicornLogger = None  # type: ignore[assignment,misc]

if _GunicornLogger is not None:
    class RedactingLogger(_GunicornLogger):
        """gunicorn's logger with every access-log atom redacted."""

        def atoms(self, resp, req, environ, request_time):
            return redact_atoms(super().atoms(resp, req, environ, request_time))
