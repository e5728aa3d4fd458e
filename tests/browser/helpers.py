"""What every browser test does: log in and out, serve axe-core, and report its findings.

Import from here (``from tests.browser.helpers import log_in, axe_violations``), never from
another test module: a test module is not a library, and importing one runs its tests' module
setup twice under another name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe-4.14.1.min.js"
# served from the app's own origin by serve_axe, so the page's CSP needs no exception
AXE_URL = "/__test__/axe.min.js"
BLOCKING_IMPACTS = {"serious", "critical"}
PHONE = {"width": 390, "height": 844}  # an iPhone 12-14 viewport in CSS pixels
SMALL_TABLET = {"width": 768, "height": 1024}  # an iPad mini (and older iPads) in portrait


def serve_axe(context: BrowserContext) -> None:
    """Answer AXE_URL in this browser context with the vendored axe-core."""
    context.route(f"**{AXE_URL}", lambda route: route.fulfill(
        path=AXE_JS, content_type="text/javascript; charset=utf-8"))


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    listening(page)


def listening(page: Page) -> None:
    """Wait until the page's deferred scripts (htmx) listen. A click that opens a page returns
    before they run: text typed at once fires no autosave, live search or dose preview (seen
    in CI on a busy machine: a note typed that fast never said "Draft saved")."""
    page.wait_for_load_state("load")


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/"))


def axe_violations(page: Page) -> list[dict]:
    """Run axe-core on the page as it is now; keep only serious and critical violations.
    The page's context must serve it (the ``page`` fixture does; else call serve_axe)."""
    page.add_script_tag(url=AXE_URL)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v["impact"] in BLOCKING_IMPACTS]


def describe(violations_by_page: dict[str, list[dict]]) -> str:
    """axe findings by page name, one line per rule and one per offending element."""
    lines = []
    for name, violations in violations_by_page.items():
        for v in violations:
            lines.append(f"[{name}] {v['id']} ({v['impact']}): {v['help']} - {v['helpUrl']}")
            for node in v["nodes"]:
                lines.append(f"    at {json.dumps(node['target'])}: {node['html'][:200]}")
                if node.get("failureSummary"):
                    lines.append("      " + node["failureSummary"].replace("\n", "\n      "))
    return "\n".join(lines)
