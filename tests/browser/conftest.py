"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium, driven by Playwright.

Playwright's own browser download does not work here, so the tests use the system Chromium.
Without it they skip on a workstation and fail in CI, where a missing browser is a broken
build image, not a reason to quietly run fewer tests.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread

from tests.browser.helpers import serve_axe
from tests.conftest import IN_CI

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


class OneRequestAtATime(ThreadedWSGIServer):
    """The live server's threads share the test database's one connection (SQLite in memory:
    Django hands that connection to them), so two requests at once, say a page's poll and a
    form's post, would interleave inside one transaction and collide (two audit entries taking
    the same sequence number). The real server gives each request its own connection and
    SQLite's IMMEDIATE transactions queue the writers; here the app answers one request at a
    time, while connections stay open in their threads (keep-alive). The test's own queries
    wait for the request being answered too (queries_wait_for_the_live_server below); the lock
    is re-entrant so that a request's queries, which pass through the same wait, go on."""

    lock = threading.RLock()

    def set_app(self, application):
        def one_at_a_time(environ, start_response):
            with self.lock:
                result = application(environ, start_response)
                try:
                    return list(result)
                finally:
                    if hasattr(result, "close"):
                        result.close()

        super().set_app(one_at_a_time)


LiveServerThread.server_class = OneRequestAtATime


@pytest.fixture(autouse=True)
def queries_wait_for_the_live_server(request) -> Iterator[None]:
    """While a page polls (the room board, a session page), the test's own queries on the
    shared connection, say setting two hours back by hand, could run in the middle of a
    request's and fail with "database table is locked" (seen in test_session_walk.py when the
    suite ran in parallel on a busy machine). Each statement the test runs waits for the
    request being answered; a request's own statements take the lock they already hold."""
    if "live_server" not in request.fixturenames:
        yield
        return
    from django.db import connection

    def one_at_a_time(execute, sql, params, many, context):
        with OneRequestAtATime.lock:
            return execute(sql, params, many, context)

    with connection.execute_wrapper(one_at_a_time):
        yield

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-output" / "screenshots"   # git-ignored (test-output/)


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if IN_CI:
        pytest.fail(f"{CHROMIUM} is missing in CI: the browser tests cannot run. "
                    "Install it in the CI image (apt-get install -y chromium).", pytrace=False)
    pytest.skip("chromium not installed: apt-get install -y chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One headless Chromium per test module; every test gets its own context (cookies, storage).

    Browser.launch() always gives Chromium a fresh temporary --user-data-dir, deleted on close
    (launch_persistent_context is the only way to reuse one), so no profile state leaks in.
    """
    require_chromium()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps its asyncio loop "running" on this thread while the test
    # code runs, so Django's async-safety check would refuse the ORM calls that create the
    # test data and flush the database. Nothing here is really async (the live server answers
    # on its own thread), so the check is switched off only while Playwright is running.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                  args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server) -> Iterator:
    """A fresh browser context on the live server, with the app's own CSP left switched on.

    axe-core is served from a same-origin path through page.route instead of using
    bypass_csp=True: the pages are then checked exactly as the app ships them, and a change
    that only works with CSP off (an inline script or style) still shows up as a failure.
    """
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    serve_axe(context)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def console_errors(page) -> list[str]:
    """Console errors and uncaught exceptions seen by the page, e.g. a CSP refusal."""
    errors: list[str] = []
    # with the page's address, so a failure says where it happened
    page.on("console", lambda msg: errors.append(f"{page.url}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    return errors


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where screenshots go. Take them with ``caret="initial"``: Playwright otherwise hides
    the text caret by setting each input's style and leaves ``style=""`` behind, a change no
    user makes. (htmx used to copy such attributes when it swapped a form, which the CSP
    refused; base.html now settles only class, width and height.)"""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
