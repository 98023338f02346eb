"""A run's page as an inspector, in a real browser, against the real engine and Chromium: a run
that fails is stopped and relaunched, and its page (an earlier run now) still tells the whole
story: its recording, one timeline synchronised with it, a request's details, its HAR and video.
And the page's layout on a wide and a narrow screen.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import CSP_LISTENER, screenshot, sign_in, watch
from tests.support.console_process import ConsoleProcess
from tests.support.engine_process import EngineProcess
from tests.support.site import TestSite

pytestmark = pytest.mark.e2e

ERRORS: list[str] = []  # CSP violations and console errors of this module's pages

# Every `bctrl:recording-time` the player posts to the page, kept where the test can read it.
PLAYER_TIMES = """
window.playerTimes = [];
window.addEventListener("message", (event) => {
  if (event.data && event.data.type === "bctrl:recording-time") window.playerTimes.push(event.data);
});
"""


@pytest.fixture(autouse=True)
def no_browser_errors() -> Iterator[None]:
    ERRORS.clear()
    yield
    assert ERRORS == [], "CSP violations or console errors in the browser"


def open_page(browser: Browser, width: int = 1440, height: int = 900) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    context.add_init_script(CSP_LISTENER)
    context.add_init_script(PLAYER_TIMES)
    page = context.new_page()
    page.set_default_timeout(30_000)
    watch(page, ERRORS)
    return page


@pytest.fixture(scope="module")
def failed_run(engine: EngineProcess, site: TestSite, console: ConsoleProcess) -> Iterator[dict]:
    """A run whose click on a missing selector failed, stopped; and its relaunch, still active."""
    with engine.client("admin") as api:
        workspace = api.post("/workspaces", json={"name": "Inspector"}).json()
        runtimes = f"/workspaces/{workspace['id']}/runtimes"
        first = api.post(runtimes, json={"alias": "checkout", "metadata": {"team": "payments"}}, timeout=120)
        assert first.status_code == 200, first.text
        steps = [
            {"call": "page.goto", "args": [f"{site.url}/events.html"]},
            {"call": "page.click", "args": ["#log"]},
            {"call": "page.click", "args": ["#missing"], "options": {"timeoutMs": 1500}},
        ]
        ran = api.post(
            f"/workspaces/{workspace['id']}/execute", json={"runtime": "checkout", "steps": steps}, timeout=60
        )
        assert ran.json()["steps"][-1]["ok"] is False
        yield {"workspace": workspace, "first": first.json(), "api": api}
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})


def test_a_failed_run_is_investigated_after_it_was_relaunched(
    browser: Browser, console: ConsoleProcess, failed_run: dict, tmp_path: Path
) -> None:
    page = open_page(browser)
    try:
        _investigate(page, console, failed_run, tmp_path)
    finally:
        page.context.close()


def _investigate(page: Page, console: ConsoleProcess, failed_run: dict, tmp_path: Path) -> None:
    workspace, first = failed_run["workspace"], failed_run["first"]
    sign_in(page, console, "oscar")
    page.goto(f"{console.url}/workspaces/{workspace['id']}/runtimes/checkout/")
    expect(page.locator("#timeline-rows tr.failure")).to_have_count(1)  # the failed click, while active
    screenshot(page, "inspector-active")

    # Stopped from its page, then relaunched with the same config: a new run owns the alias.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop runtime").click()
    expect(page.locator("h1 .badge")).to_have_text("stopped", timeout=30_000)
    page.get_by_role("link", name="Relaunch with the same config").click()
    page.get_by_role("button", name="Launch runtime").click()
    expect(page.locator("h1 .badge")).to_have_text("active", timeout=60_000)
    expect(page.locator("#runtime-runs").locator(f'a[href="/runtimes/{first["id"]}/"]')).to_be_visible()

    # The failed run's page: its recording, beside its timeline.
    page.locator("#runtime-runs").locator(f'a[href="/runtimes/{first["id"]}/"]').click()
    expect(page.get_by_text("An earlier run of checkout")).to_be_visible()
    expect(page.locator("iframe[data-player]")).to_be_visible()
    page.wait_for_function(
        "() => window.playerTimes.length > 0 || document.querySelector('iframe[data-player]')"
    )

    # Jump to the first failure: the failed step is selected, the recording shows that moment.
    page.get_by_role("button", name="Jump to first failure").click()
    failed = page.locator("#timeline-rows tr.entry.selected")
    expect(failed).to_contain_text("page.click failed")
    failed_at = int(failed.get_attribute("data-seek") or 0)  # the moment it failed
    _player_near(page, failed_at)
    screenshot(page, "inspector-ended")
    # a message that is not the player's (another window, the page itself) moves nothing
    shown = page.locator("[data-player-state]").inner_text()
    page.evaluate("() => window.postMessage({type: 'bctrl:recording-time', at: 0, playing: false}, '*')")
    page.wait_for_function("() => window.playerTimes.some((t) => t.at === 0)")  # it was posted
    expect(page.locator("[data-player-state]")).to_have_text(shown)
    expect(page.locator("#timeline-rows tr.entry.now")).to_contain_text("page.click failed")

    # A request opens in the drawer, with its headers; Escape closes it and gives focus back.
    request = page.locator("#timeline-rows tr.kind-network", has_text="events.html").first
    request.get_by_role("button", name=re.compile("Details")).click()
    drawer = page.locator("#request-drawer")
    expect(drawer.get_by_role("heading", name="Request headers")).to_be_visible()
    expect(drawer.locator("table.headers").first).to_contain_text("user-agent")
    expect(drawer.get_by_role("heading", name="Response headers")).to_be_visible()
    expect(drawer.get_by_role("button", name="Close")).to_be_focused()
    screenshot(page, "inspector-request")
    page.keyboard.press("Escape")
    expect(drawer).not_to_be_visible()
    assert page.evaluate("() => document.activeElement.textContent").startswith("Details")

    # The HAR of this earlier run: headers and timings, and it parses.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export HAR").click()
    har = json.loads(Path(download.value.path()).read_text())
    entry = next(e for e in har["log"]["entries"] if e["request"]["url"].endswith("/events.html"))
    assert entry["request"]["headers"] and entry["response"]["headers"]
    assert entry["timings"]["wait"] >= 0 and entry["time"] >= 0 and har["log"]["pages"]

    # The video: a file a player decodes.
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("link", name="Export video").click()
    video = tmp_path / "run.webm"
    download.value.save_as(video)
    with av.open(str(video)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 1

    # A link to a moment opens the page there.
    started = int(page.locator("#timeline").get_attribute("data-started-at") or 0)
    offset = failed_at - started
    page.goto(f"{console.url}/runtimes/{first['id']}/?t={offset}")
    _player_near(page, started + offset)
    expect(page.locator("#timeline-rows tr.entry.selected")).to_contain_text("page.click")


def _player_near(page: Page, at: int) -> None:
    """The player says it shows a moment within a second of `at`."""
    page.wait_for_function(
        "(at) => window.playerTimes.some((t) => Math.abs(t.at - at) <= 1000)", arg=at, timeout=30_000
    )


def test_the_runtime_page_fits_a_wide_and_a_narrow_screen(
    browser: Browser, console: ConsoleProcess, failed_run: dict
) -> None:
    """On 1440x900 the live view and the step runner are in view without scrolling; on a phone
    (390x844) nothing scrolls sideways, while the run is active and after it ended."""
    workspace, first = failed_run["workspace"], failed_run["first"]
    for width, height in ((1440, 900), (390, 844)):
        page = open_page(browser, width, height)
        try:
            sign_in(page, console, "oscar")
            for url, name in (
                (f"/workspaces/{workspace['id']}/runtimes/checkout/", "active"),
                (f"/runtimes/{first['id']}/", "ended"),
            ):
                page.goto(f"{console.url}{url}")
                expect(page.locator("#timeline-rows")).to_be_attached()
                expect(page.locator("#live-view iframe")).to_be_visible()
                if width < 1440:  # the wide ones are the investigation's own pictures
                    screenshot(page, f"inspector-{name}-{width}")
                assert page.evaluate("() => document.documentElement.scrollWidth") <= width
                if width == 1440:
                    stage = page.locator("#live-view iframe").bounding_box()
                    assert stage and stage["y"] + stage["height"] <= height
                    if name == "active":
                        runner = page.locator("#step-runner").bounding_box()
                        assert runner and runner["y"] + 60 <= height  # its heading and first row
        finally:
            page.context.close()


def test_the_timeline_filters_searches_and_links_an_entry(
    browser: Browser, console: ConsoleProcess, failed_run: dict
) -> None:
    """Type filters and search narrow the one list; picking an entry makes the URL a link to it
    (`?entry=<id>`), and that link reopens the page with the entry selected and the recording there."""
    first, api = failed_run["first"], failed_run["api"]
    if api.get(f"/runtimes/{first['id']}").json().get("status") == "active":  # run alone: end it here
        api.post(f"/workspaces/{failed_run['workspace']['id']}/runtimes/checkout/stop", timeout=60)
    page = open_page(browser)
    try:
        sign_in(page, console, "oscar")
        page.goto(f"{console.url}/runtimes/{first['id']}/")
        network = page.locator("#timeline-rows tr.kind-network")
        expect(network.first).to_be_visible()

        page.locator("details.timeline-kinds summary").click()
        page.locator("[data-timeline-kind][value='network']").uncheck()
        expect(network.first).to_be_hidden()
        expect(page.locator("[data-timeline-status]")).to_have_text(re.compile(r"^\d+ of \d+ shown$"))
        counted = page.evaluate(
            """() => {
              const rows = [...document.querySelectorAll('#timeline-rows tr.entry')];
              return [rows.filter((r) => !r.hidden).length, rows.length,
                      rows.filter((r) => !r.hidden && r.dataset.kind === 'network').length,
                      document.querySelector('[data-timeline-status]').textContent];
            }"""
        )
        shown, total, network_shown, said = counted
        assert network_shown == 0 and shown < total and said == f"{shown} of {total} shown", counted
        page.locator("[data-timeline-kind][value='network']").check()
        expect(network.first).to_be_visible()

        page.locator("[data-timeline-search]").fill("page.click failed")
        expect(page.locator("#timeline-rows tr.entry:visible")).to_have_count(1)
        expect(page.locator("#timeline-rows tr.entry:visible")).to_contain_text("page.click failed")
        page.locator("[data-timeline-search]").fill("")
        expect(network.first).to_be_visible()

        failed = page.locator("#timeline-rows tr.failure")
        failed.locator("[data-pick]").click()
        entry_id = failed.get_attribute("id") or ""
        page.wait_for_url(re.compile(rf"[?&]entry={re.escape(entry_id)}"))
        failed_at = int(failed.get_attribute("data-seek") or 0)

        page.goto(page.url)  # the shared link, opened afresh
        expect(page.locator("#timeline-rows tr.entry.selected")).to_have_id(entry_id)
        _player_near(page, failed_at)
    finally:
        page.context.close()
