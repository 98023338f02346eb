"""End-to-end fixtures: a real console process in front of the real engine, driven by headless Chromium."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.support.console_process import ConsoleProcess
from tests.support.engine_process import EngineProcess

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "e2e correct horse battery"


@pytest.fixture(scope="session")
def console(engine: EngineProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleProcess]:
    process = ConsoleProcess(tmp_path_factory.mktemp("console"), f"{engine.url}/v1", engine.keys["admin"])
    process.start()
    for username, role in (("alice", "admin"), ("oscar", "operator"), ("vera", "viewer")):
        process.create_user(username, role, PASSWORD)
    yield process
    process.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    context.close()


def sign_in(page: Page, console: ConsoleProcess, username: str = "alice") -> None:
    page.goto(f"{console.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{console.url}/")


def screenshot(page: Page, name: str) -> None:
    """Keep a picture of a main page for the README (docs/screenshots/NAME.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
