"""Outages are visible: with the engine stopped, every page says so (since when) and stops
showing live statuses it can no longer vouch for; when the engine is back, the page recovers by
itself, with what happened meanwhile, and without a reload."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, screenshot, sign_in
from tests.support.console_process import ConsoleProcess
from tests.support.engine_process import EngineProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_engine(tmp_path: Path) -> Iterator[list[EngineProcess]]:
    """An engine this test stops and starts again (the list holds the running one)."""
    engines = [EngineProcess(tmp_path / "engine").start()]
    yield engines
    engines[-1].stop()


@pytest.fixture
def own_console(own_engine: list[EngineProcess], tmp_path: Path) -> Iterator[ConsoleProcess]:
    engine = own_engine[0]
    process = ConsoleProcess(tmp_path / "console", f"{engine.url}/v1", engine.keys["admin"]).start()
    process.create_user("vera", "viewer", PASSWORD)
    yield process
    process.stop()


def test_a_page_shows_the_outage_and_recovers_without_a_reload(
    own_engine: list[EngineProcess], own_console: ConsoleProcess, page: Page
) -> None:
    engine = own_engine[0]
    with engine.client() as api:
        workspace = api.post("/workspaces", json={"name": "outage"}).json()
        launched = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "crm"}, timeout=120)
        assert launched.status_code == 200, launched.text
    sign_in(page, own_console, "vera")
    page.goto(f"{own_console.url}/workspaces/{workspace['id']}/runtimes/")
    badge = page.locator(f"#runtime-status-{launched.json()['id']} .badge")
    expect(badge).to_have_text("active")
    banner = page.locator("#connection-banner")
    expect(banner).to_be_hidden()
    page.evaluate("window.drawnOnce = true")  # gone if the page reloads

    stopping = time.monotonic()
    engine.stop()
    stopped = time.monotonic()
    # waited for generously (a shared machine); the time it took is printed, not asserted
    expect(banner).to_be_visible(timeout=30_000)
    print(
        f"the engine took {stopped - stopping:.1f} s to stop; the banner showed "
        f"{time.monotonic() - stopping:.1f} s after the stop began"
    )
    expect(banner).to_contain_text("The API cannot be reached since")
    expect(badge).to_have_text("unknown")  # not a stale "active"
    screenshot(page, "connection-banner")

    again = EngineProcess(engine.var_dir, port=engine.port)
    again.keys = dict(engine.keys)  # one database: its keys (making new ones costs a process each)
    own_engine.append(again.start())
    expect(banner).to_be_hidden(timeout=60_000)
    # what happened meanwhile arrives with the resumed stream: the engine stopped its browser
    expect(badge).to_have_text("stopped")
    assert page.evaluate("window.drawnOnce") is True
