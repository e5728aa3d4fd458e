"""A refused request is one line in the server log; a server error keeps its traceback."""

from __future__ import annotations

import io
import logging

from django.http import HttpResponse
from django.utils.log import log_response

from tests.conftest import login


def request_records(caplog, status: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("django.request", "django.security"))
            and getattr(r, "status_code", None) == status]


def test_a_refused_page_is_logged_in_one_line_without_a_traceback(nurse, caplog):
    with caplog.at_level(logging.WARNING):
        assert login(nurse).get("/audit/").status_code == 403
    [refused] = request_records(caplog, 403)
    assert refused.exc_info is None and "Traceback" not in caplog.text
    assert refused.getMessage() == "Forbidden (Permission denied): /audit/"


def test_a_suspicious_request_is_one_line_in_the_server_log(db):
    from django.core.exceptions import DisallowedHost

    console = next(h for h in logging.getLogger().handlers if h.name == "console")
    written = io.StringIO()
    before, console.stream = console.stream, written  # (an earlier test may have closed it)
    try:
        try:
            raise DisallowedHost("Invalid HTTP_HOST header: 'evil.example'.")
        except DisallowedHost as exc:  # as Django logs it, below django.security
            log_response("Invalid HTTP_HOST header: 'evil.example'.",
                         response=HttpResponse(status=400), exception=exc,
                         logger=logging.getLogger("django.security.DisallowedHost"))
    finally:
        console.stream = before
    assert written.getvalue() == "Invalid HTTP_HOST header: 'evil.example'.\n"


def test_a_server_error_keeps_its_traceback(caplog):
    with caplog.at_level(logging.WARNING):
        try:
            raise ZeroDivisionError("a bug")
        except ZeroDivisionError as exc:
            log_response("Internal Server Error: %s", "/x/",
                         response=HttpResponse(status=500), exception=exc)
    [failed] = request_records(caplog, 500)
    assert failed.exc_info is not None and "ZeroDivisionError: a bug" in caplog.text
