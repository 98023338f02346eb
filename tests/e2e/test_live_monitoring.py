"""Live monitoring end to end: two people signed in to a real console (daphne) in headless
Chromium, a real engine behind it, changes made through the API and seen without a reload."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import CSP_LISTENER, screenshot, sign_in, watch
from tests.support.console_process import ConsoleProcess
from tests.support.embeds import Embedded
from tests.support.engine_process import EngineProcess, eventually
from tests.support.site import TestSite

pytestmark = pytest.mark.e2e

BUTTON = (250 / 1280, 160 / 720)  # the centre of live.html's #press, as fractions of the page


ERRORS: list[str] = []  # CSP violations and console errors of this module's pages


@pytest.fixture(autouse=True)
def no_browser_errors() -> Iterator[None]:
    ERRORS.clear()
    yield
    assert ERRORS == [], "CSP violations or console errors in the browser"


def browser_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(CSP_LISTENER)
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    watch(opened, ERRORS)
    return opened


def live_frame(page: Page, selector: str = "iframe.live-frame") -> Embedded:
    handle = page.wait_for_selector(selector)
    # looked at, as a person would: Chromium may not draw a cross-origin frame that is off screen
    handle.scroll_into_view_if_needed()
    frame = handle.content_frame()
    assert frame is not None
    return Embedded(page, frame)


def test_two_people_watch_a_runtime_live(
    browser: Browser, console: ConsoleProcess, engine: EngineProcess, site: TestSite, tmp_path: Path
) -> None:
    operator, viewer = browser_page(browser), browser_page(browser)
    with engine.client("admin") as api:
        workspace = api.post("/workspaces", json={"name": "Live monitoring"}).json()
        try:
            _watch(api, workspace["id"], operator, viewer, console, site, tmp_path)
        finally:
            api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
            operator.context.close()
            viewer.context.close()


def _watch(
    api: httpx.Client,
    workspace_id: str,
    operator: Page,
    viewer: Page,
    console: ConsoleProcess,
    site: TestSite,
    tmp_path: Path,
) -> None:
    list_url = f"{console.url}/workspaces/{workspace_id}/runtimes/"
    for page, username in ((operator, "oscar"), (viewer, "vera")):
        sign_in(page, console, username)
        page.goto(list_url)
        page.wait_for_function("() => document.body.dataset.live === 'open'")
        page.evaluate("() => { window.notReloaded = true; }")

    # A runtime launched through the API appears on both lists without a reload.
    launched = api.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "watched"}, timeout=120).json()
    for page in (operator, viewer):
        expect(page.locator(f"#runtime-row-{launched['id']} .badge")).to_have_text("active")
        assert page.evaluate("() => window.notReloaded") is True
    api.post(
        f"/workspaces/{workspace_id}/execute",
        json={"runtime": "watched", "steps": [{"call": "page.goto", "args": [f"{site.url}/live.html"]}]},
        timeout=120,
    )

    # The operator opens it: its live view shows frames; taking control lets a click through.
    operator.locator(f"#runtime-row-{launched['id']} td:first-child a").click()
    live = live_frame(operator)
    live.wait_state("live")
    operator.get_by_role("button", name="Take control").click()
    live = live_frame(operator, "iframe.live-frame.interactive")
    expect(operator.locator("#live-control")).to_contain_text("oscar has control")
    live.frame.wait_for_function("() => document.body.dataset.interactive === 'true'")
    live.wait_state("live")
    live.click_at(*BUTTON)
    clicked = eventually(
        lambda: _read(api, workspace_id, "page.textContent", "#out") == "clicked 1", timeout=20
    )
    assert clicked, _read(api, workspace_id, "page.textContent", "#out")
    screenshot(operator, "live-runtime")

    # The viewer on the same runtime sees who has control, has no control of their own, and
    # their clicks do not reach the page.
    viewer.goto(f"{console.url}/workspaces/{workspace_id}/runtimes/watched/")
    expect(viewer.locator("#live-control")).to_contain_text("oscar has control")
    expect(
        viewer.get_by_role("button", name="Take control")
    ).to_be_disabled()  # shown, needing the operator role
    watching = live_frame(viewer)
    watching.wait_state("live")
    assert watching.frame.evaluate("() => document.body.dataset.interactive") == "false"
    watching.click_at(*BUTTON)
    # the operator clicks after the viewer: had the viewer's click gone through, this would be 3
    live.click_at(*BUTTON)
    assert eventually(lambda: _read(api, workspace_id, "page.textContent", "#out") != "clicked 1", timeout=20)
    assert _read(api, workspace_id, "page.textContent", "#out") == "clicked 2"

    # The HAR export parses and lists the page's requests.
    with operator.expect_download() as download:
        operator.get_by_role("link", name="Export HAR").click()
    har = json.loads(Path(download.value.path()).read_text())
    urls = [entry["request"]["url"] for entry in har["log"]["entries"]]
    assert har["log"]["version"] == "1.2" and f"{site.url}/live.html" in urls

    # The wall: the viewer watches it as a thumbnail, among the others that run.
    api.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "second"}, timeout=120)
    api.post(
        f"/workspaces/{workspace_id}/execute",
        json={"runtime": "second", "steps": [{"call": "page.goto", "args": [f"{site.url}/index.html"]}]},
        timeout=120,
    )
    viewer.goto(f"{console.url}/runtimes/wall/")
    tile = viewer.locator("a.wall-tile[href$='/runtimes/watched/'] iframe")
    expect(tile).to_have_attribute("src", re.compile(r"/embed/live/"))  # loaded once on screen
    thumbnail = tile.element_handle().content_frame()
    assert thumbnail is not None
    Embedded(viewer, thumbnail).wait_state("live")
    # the tile names the tab it shows, as the viewer tells it (bctrl:live-tab)
    watched_tile = viewer.locator("a.wall-tile[href$='/runtimes/watched/']")
    expect(watched_tile.locator("[data-live-tab]")).to_have_text("Live target")
    expect(watched_tile.locator("[data-live-url]")).to_have_text(f"{site.url}/live.html")
    screenshot(viewer, "wall")

    # Stopped through the API: both see it at once.
    viewer.goto(list_url)
    viewer.wait_for_function("() => document.body.dataset.live === 'open'")
    api.post(f"/workspaces/{workspace_id}/runtimes/watched/stop", timeout=60)
    expect(operator.locator(f"#runtime-status-{launched['id']} .badge")).to_have_text("stopped")
    expect(viewer.locator(f"#runtime-row-{launched['id']} .badge")).to_have_text("stopped")
    expect(operator.get_by_role("button", name="Stop runtime")).to_have_count(0)


def _read(api: httpx.Client, workspace_id: str, call: str, *args: object) -> object:
    response = api.post(
        f"/workspaces/{workspace_id}/execute",
        json={"runtime": "watched", "steps": [{"call": call, "args": list(args)}]},
        timeout=60,
    )
    return response.json()["steps"][0]["result"]


def test_the_feed_shows_updates_as_they_happen_with_pause_and_filters(
    browser: Browser, console: ConsoleProcess, engine: EngineProcess
) -> None:
    page = browser_page(browser)
    try:
        sign_in(page, console, "vera")
        page.goto(f"{console.url}/live/")
        page.wait_for_function("() => document.body.dataset.live === 'open'")
        with engine.client("admin") as api:
            first = api.post("/workspaces", json={"name": "feed one"}).json()
            expect(page.locator("#feed-rows tr").first).to_contain_text("feed one")
            # paused: what arrives is held back and counted, then shown on resume
            page.get_by_role("button", name="Pause").click()
            second = api.post("/workspaces", json={"name": "feed two"}).json()
            expect(page.locator("[data-feed-held]")).to_have_text("1 new while paused")
            expect(page.locator("#feed-rows tr", has_text="feed two")).to_be_hidden()
            page.get_by_role("button", name="Resume").click()
            expect(page.locator("#feed-rows tr", has_text="feed two")).to_be_visible()
            # a family unticked hides its rows, old and new
            page.get_by_label("Workspaces").uncheck()
            expect(page.locator("#feed-rows tr", has_text="feed one")).to_be_hidden()
            for workspace in (first, second):
                api.delete(f"/workspaces/{workspace['id']}")
    finally:
        page.context.close()


def test_nothing_on_the_runtime_page_moves_when_its_live_parts_arrive(
    browser: Browser, console: ConsoleProcess, engine: EngineProcess
) -> None:
    """The live view and the inspector load after the page; an operator may already be reaching for
    the step runner, so it stays where it was drawn (a moved target takes a click meant for another)."""
    page = browser_page(browser)
    with engine.client("admin") as api:
        workspace = api.post("/workspaces", json={"name": "Layout"}).json()
        try:
            assert (
                api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "steady"}).status_code
                == 200
            )
            sign_in(page, console, "oscar")
            held: list = []  # the live parts' requests, answered only once the page was measured
            page.route(re.compile(r"/runtimes/steady/(live|events)/"), lambda route: held.append(route))
            page.goto(f"{console.url}/workspaces/{workspace['id']}/runtimes/steady/")
            page.wait_for_function("() => document.querySelectorAll('#live-view, #timeline').length === 2")
            eventually(lambda: len(held) == 2)
            drawn = page.locator("#step-runner").bounding_box()
            for route in held:
                route.continue_()
            page.wait_for_selector("iframe.live-frame")
            page.wait_for_selector("#inspector-socket", state="attached")
            assert page.locator("#step-runner").bounding_box() == drawn
        finally:
            api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
            page.context.close()
