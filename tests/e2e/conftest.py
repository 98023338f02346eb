"""End-to-end fixtures: a real console process in front of the real engine, driven by headless Chromium."""

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from tests.support.console_process import ConsoleProcess
from tests.support.engine_process import EngineProcess
from tests.support.webhook_receiver import WebhookReceiver

# The README's pictures are refreshed only on request (UPDATE_SCREENSHOTS=1 bin/test tests/e2e):
# an ordinary run must leave the checkout as it found it.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "bctrl-e2e-screenshots"
)
PASSWORD = "e2e correct horse battery"


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """Where the console's alert rules may send webhooks (the one loopback address it may reach)."""
    served = WebhookReceiver().start()
    yield served
    served.stop()


@pytest.fixture(scope="session")
def console(
    engine: EngineProcess, tmp_path_factory: pytest.TempPathFactory, webhook_receiver: WebhookReceiver
) -> Iterator[ConsoleProcess]:
    # the console's key is a team key, as `manage.py up` makes it
    key = engine.keys.setdefault("console", engine.create_key("admin", "console", team=True))
    process = ConsoleProcess(
        tmp_path_factory.mktemp("console"),
        f"{engine.url}/v1",
        key,
        {"ALERT_WEBHOOK_ALLOW": webhook_receiver.host_port},
    )
    process.start()
    for username, role in (("alice", "admin"), ("oscar", "operator"), ("vera", "viewer")):
        process.create_user(username, role, PASSWORD)
    yield process
    process.stop()


# Every page of the end-to-end run reports Content-Security-Policy violations (the browser's
# `securitypolicyviolation` events, which also cover ones it does not log) and console errors;
# a test that causes either fails at teardown. Chromium also logs each HTTP error status a page
# receives ("Failed to load resource: ... status of 422"): the tests cause those on purpose (a
# refused form, a 404 page), so those lines alone are not errors of the page.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI} ${event.sample}`);
});
"""
HTTP_STATUS_LINE = re.compile(r"^Failed to load resource: the server responded with a status of \d{3}")


@pytest.fixture
def browser_errors() -> list[str]:
    return []


@pytest.fixture
def page(browser: Browser, browser_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.add_init_script(CSP_LISTENER)
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    watch(opened, browser_errors)
    yield opened
    context.close()
    assert browser_errors == [], "CSP violations or console errors in the browser"


def watch(page: Page, errors: list[str]) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not HTTP_STATUS_LINE.match(message.text):
            errors.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"{page.url}: uncaught {error}"))


def sign_in(page: Page, console: ConsoleProcess, username: str = "alice") -> None:
    page.goto(f"{console.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{console.url}/")


def screenshot(page: Page, name: str) -> None:
    """Keep a picture of a main page (for the README's docs/screenshots/NAME.png when asked)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
