"""What the server's logs keep of a request: never a working link token, set-password link or
search term (security issue, item 3)."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.test import Client
from gunicorn.config import Config

from kapclinic.platform import access_log

TOKEN = "Zq3x-8bLr0m_Nd9fK2pW4sT6vY1aC5eG7hJ0kL2mN4o"


def gunicorn_line(path: str, query: str = "", referer: str = "-", **headers: str) -> str:
    """The line kapclinic's gunicorn logger writes for one request (with `kapclinic serve`'s
    settings)."""
    cfg = Config()
    cfg.set("logger_class", access_log.__name__ + ".RedactingLogger")
    cfg.set("accesslog", "-")
    logger = access_log.RedactingLogger(cfg)
    raw = path + (f"?{query}" if query else "")
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": raw, "PATH_INFO": path, "QUERY_STRING": query,
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.9",
               "HTTP_REFERER": referer, "HTTP_USER_AGENT": "Mozilla/5.0"}
    request = SimpleNamespace(headers=[("REFERER", referer), *headers.items()])
    response = SimpleNamespace(status="200 OK", sent=512, headers=[])
    atoms = logger.atoms_wrapper_class(logger.atoms(response, request, environ, timedelta(0)))
    return logger.cfg.access_log_format % atoms


@pytest.mark.parametrize("path", [f"/r/intake/{TOKEN}/", f"/r/intake/{TOKEN}/autosave/",
                                  f"/r/measure/{TOKEN}/", f"/account/set-password/MTI/{TOKEN}/"])
def test_a_logged_link_request_holds_no_working_token(path):
    line = gunicorn_line(path)
    assert TOKEN not in line
    assert path.split(TOKEN)[0].replace("MTI/", "") in line  # the kind of page, still readable


def test_a_logged_set_password_url_holds_no_working_token_nor_whose_it_is():
    line = gunicorn_line(f"/account/set-password/MTI/{TOKEN}/")
    assert TOKEN not in line and "/MTI/" not in line
    placeholder = gunicorn_line("/account/set-password/MTI/set-password/")
    assert "/set-password/ HTTP/1.1" in placeholder and "/MTI/" not in placeholder


def test_an_asset_requested_from_a_link_page_logs_no_token_in_its_referer():
    line = gunicorn_line("/static/web/app.css", referer=f"https://clinic.example/r/measure/{TOKEN}/")
    assert TOKEN not in line and "https://clinic.example/r/measure/" in line


def test_a_patient_search_term_is_not_logged_but_the_page_number_is():
    line = gunicorn_line("/patients/", query="q=Lovelace+Ada&page=2",
                         referer="https://clinic.example/patients/?q=A-0001")
    assert "Lovelace" not in line and "A-0001" not in line
    assert "page=2" in line


def test_credentials_in_headers_are_not_logged_even_if_the_format_asks_for_them():
    cfg_atoms = access_log.redact_atoms({"{cookie}i": "sessionid=abc123",
                                         "{authorization}i": "Bearer kc_secret",
                                         "q": "q=Ada", "U": f"/r/intake/{TOKEN}/"})
    assert "abc123" not in str(cfg_atoms) and "kc_secret" not in str(cfg_atoms)
    assert "Ada" not in str(cfg_atoms) and TOKEN not in str(cfg_atoms)


def test_kapclinic_serve_runs_gunicorn_with_the_redacting_logger(monkeypatch):
    from kapclinic import cli

    seen = {}
    monkeypatch.setattr(cli.os, "execv", lambda exe, argv: seen.setdefault("argv", argv))
    monkeypatch.setattr("django.core.management.call_command", lambda *a, **k: None)
    cli.cmd_serve(cli.build_parser().parse_args(["serve", "--port", "8123"]))
    argv = seen["argv"]
    assert argv[argv.index("--logger-class") + 1] == "kapclinic.platform.access_log.RedactingLogger"


@pytest.mark.django_db
@pytest.mark.parametrize("path", [f"/r/intake/{TOKEN}/", f"/r/measure/{TOKEN}/"])
def test_djangos_warning_about_a_refused_link_request_holds_no_token(caplog, path):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert Client().post(path, {"item_1": "x"}).status_code == 404
    logged = [record.getMessage() for record in caplog.records]
    assert logged and all(TOKEN not in message for message in logged)
    assert any(path.split(TOKEN)[0] in message for message in logged)


def test_a_failed_search_is_logged_without_the_search_term(caplog):
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "%s: %s",
                               ("Bad Request", "/patients/?q=Lovelace"), None)
    assert access_log.RedactingFilter().filter(record)
    assert "Lovelace" not in record.getMessage() and "/patients/?q=" in record.getMessage()


ENCODED_LINKS = [f"/r/%69ntake/{TOKEN}/", f"/r/%2569ntake/{TOKEN}/", f"/r%2Fmeasure/{TOKEN}/",
                 f"/account/set%2Dpassword/MTI/{TOKEN}/", f"/%61ccount/set-password/MTI/{TOKEN}/"]


@pytest.mark.parametrize("path", ENCODED_LINKS)
def test_a_percent_encoded_link_request_holds_no_working_token_in_the_access_log(path):
    line = gunicorn_line(path)
    assert TOKEN not in line and "MTI" not in line
    assert access_log.REDACTED in line


@pytest.mark.parametrize("path", ENCODED_LINKS)
def test_a_percent_encoded_link_in_a_referer_or_django_message_holds_no_token(path):
    assert TOKEN not in gunicorn_line("/static/web/app.css",
                                      referer=f"https://clinic.example{path}")
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "%s: %s",
                               ("Not Found", path), None)
    assert access_log.RedactingFilter().filter(record)
    assert TOKEN not in record.getMessage()


@pytest.mark.django_db
def test_djangos_warning_about_a_percent_encoded_link_request_holds_no_token(caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert Client().post(f"/r/%69ntake/{TOKEN}/", {"item_1": "x"}).status_code == 404
    logged = [record.getMessage() for record in caplog.records]
    assert logged and all(TOKEN not in message for message in logged)


def test_an_ordinary_percent_encoded_path_is_still_logged_as_it_was():
    line = gunicorn_line("/patients/%41-0001/")
    assert "/patients/%41-0001/" in line
