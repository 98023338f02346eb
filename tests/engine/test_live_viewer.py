"""The live viewer page (/embed/live/{runtimeId}) in a cross-origin iframe, driven by headless Chromium.

Each test launches its own runtime on the session engine, browses the suite's `live.html` (a
red page with a button and a field), and opens viewers the way the console does.
"""

import json
import os
import signal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser
from websockets.sync.client import connect

from tests.support.embeds import embedded
from tests.support.engine_process import EngineProcess, browser_pid, eventually
from tests.support.live_viewer import BUTTON, FIELD, Runtime, iframe_url, viewer_socket
from tests.support.site import TestSite

RED, GREEN = (200, 30, 30), (30, 160, 60)
BACKGROUND = (0.9, 0.9)  # a spot of live.html with nothing on it but the body's colour


def test_it_shows_the_page_and_follows_its_changes(
    runtime: Runtime, browser: Browser, site: TestSite
) -> None:
    with embedded(browser, site, iframe_url(runtime.embed())) as viewer:
        viewer.wait_state("live")
        viewer.wait_colour(*BACKGROUND, RED)
        runtime.execute({"call": "page.evaluate", "args": [f"paint('rgb{GREEN}')"]})
        viewer.wait_colour(*BACKGROUND, GREEN)
        tabs = viewer.frame.locator("#tabs button")
        assert tabs.count() == 1 and viewer.frame.locator("#url").input_value().endswith("/live.html")
        assert (
            viewer.frame.locator("#fps").is_visible() and "old" in viewer.frame.locator("#age").inner_text()
        )
        assert viewer.csp_violations() == []


def test_an_interactive_viewer_clicks_and_types_into_the_page(
    runtime: Runtime, browser: Browser, site: TestSite
) -> None:
    # A viewer much smaller than the page: positions must be scaled, not copied.
    with embedded(
        browser, site, iframe_url(runtime.embed(interactive=True)), width=500, height=360
    ) as viewer:
        viewer.wait_state("live")
        viewer.click_at(*BUTTON)
        assert eventually(lambda: runtime.read("page.textContent", "#out") == "clicked 1", timeout=15)
        viewer.click_at(*FIELD)
        viewer.page.keyboard.type("hello")
        assert eventually(lambda: runtime.read("page.inputValue", "#field") == "hello", timeout=15)
        # Shortcuts reach the page as such: select all, then typing replaces the selection.
        viewer.page.keyboard.press("Control+A")
        viewer.page.keyboard.type("live")
        viewer.page.keyboard.press("Backspace")
        assert eventually(lambda: runtime.read("page.inputValue", "#field") == "liv", timeout=15)
        viewer.frame.evaluate(
            """() => { const data = new DataTransfer(); data.setData("text/plain", " pasted");
                       document.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data})); }"""
        )
        assert eventually(lambda: runtime.read("page.inputValue", "#field") == "liv pasted", timeout=15)
        assert viewer.csp_violations() == []
    inputs = eventually(lambda: runtime.events("embed.input"))
    assert inputs and sum(e["eventData"]["count"] for e in inputs) >= 4
    # Counts only: nothing the viewer typed is in any event.
    assert "liv" not in json.dumps(runtime.events("embed.input", "embed.viewer_joined", "embed.viewer_left"))


def test_the_mouse_double_clicks_drags_and_scrolls(
    runtime: Runtime, browser: Browser, site: TestSite
) -> None:
    runtime.execute(
        {
            "call": "page.evaluate",
            "args": [
                """() => {
                  document.body.style.height = '3000px';
                  window.gestures = [];
                  const press = document.getElementById('press');
                  press.addEventListener('dblclick', () => gestures.push('dblclick'));
                  let from = null;
                  document.addEventListener('mousedown', (e) => { from = e.clientX; });
                  document.addEventListener('mouseup', (e) => { if (from !== null && e.clientX - from > 100) gestures.push('drag'); from = null; });
                }"""
            ],
        }
    )
    with embedded(browser, site, iframe_url(runtime.embed(interactive=True))) as viewer:
        viewer.wait_state("live")
        viewer.click_at(*BUTTON, click_count=2)
        box = viewer.frame.locator("#screen").bounding_box()
        assert box is not None
        mouse = viewer.page.mouse
        mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.7 * box["height"])
        mouse.down()
        mouse.move(box["x"] + 0.9 * box["width"], box["y"] + 0.7 * box["height"], steps=5)
        mouse.up()
        assert eventually(
            lambda: {"dblclick", "drag"} <= set(runtime.read("page.evaluate", "window.gestures")), timeout=15
        )
        mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"])
        mouse.wheel(0, 600)
        assert eventually(lambda: runtime.read("page.evaluate", "window.scrollY") > 0, timeout=15)


def test_a_view_only_token_cannot_touch_the_page(
    engine: EngineProcess, runtime: Runtime, browser: Browser, site: TestSite
) -> None:
    with engine.client("read") as reader:
        view_only = iframe_url(runtime.embed(reader))
    with embedded(browser, site, view_only) as viewer:
        viewer.wait_state("live")
        viewer.click_at(*BUTTON)
        viewer.click_at(*FIELD)
        viewer.page.keyboard.type("nope")
        assert viewer.frame.locator("#back").is_disabled()
    # The page above sends nothing; a client that sends input anyway is ignored by the engine.
    tab = runtime.api.get(runtime.url).json()["summary"]["defaultPageId"]
    click = [
        {
            "type": "mouse",
            "action": action,
            "x": BUTTON[0],
            "y": BUTTON[1],
            "button": "left",
            "buttons": 1,
            "clickCount": 1,
            "tabId": tab,
        }
        for action in ("down", "up")
    ]
    with viewer_socket(engine, view_only) as socket:
        for message in click:
            socket.send(json.dumps(message))
        socket.send(
            json.dumps(
                {"type": "key", "action": "down", "key": "x", "code": "KeyX", "keyCode": 88, "tabId": tab}
            )
        )
    # An interactive socket's click lands: the count it leaves proves the view-only one did not.
    with viewer_socket(engine, iframe_url(runtime.embed(interactive=True))) as socket:
        for message in click:
            socket.send(json.dumps(message))
        assert eventually(lambda: runtime.read("page.textContent", "#out") == "clicked 1", timeout=15)
    assert runtime.read("page.inputValue", "#field") == ""
    assert sum(e["eventData"]["count"] for e in runtime.events("embed.input")) == 1


def test_an_expired_or_tampered_token_shows_a_screen_and_no_frame(
    engine: EngineProcess, runtime: Runtime, workspace: dict, browser: Browser, site: TestSite
) -> None:
    short = iframe_url(runtime.embed(ttlSeconds=1))
    eventually(lambda: False, timeout=1.5)  # let it expire
    with embedded(browser, site, short) as viewer:
        assert viewer.state() == "expired"
        assert "expired" in viewer.frame.locator("h1").inner_text()
        assert viewer.frame.locator("#screen").count() == 0
        assert viewer.csp_violations() == []
    good = iframe_url(runtime.embed())
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    with embedded(browser, site, tampered) as viewer:
        assert viewer.state() == "invalid" and viewer.frame.locator("#screen").count() == 0
    # A token of this runtime opens nothing of another runtime.
    with engine.client("operator") as api:
        other = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "other"}).json()
    foreign = good.replace(runtime.id, other["id"])
    with embedded(browser, site, foreign) as viewer:
        assert viewer.state() == "invalid"
    with pytest.raises(Exception, match="4403"), viewer_socket(engine, tampered):
        pass


def test_a_viewer_sees_its_token_expire(runtime: Runtime, browser: Browser, site: TestSite) -> None:
    with embedded(browser, site, iframe_url(runtime.embed(ttlSeconds=8))) as viewer:
        viewer.wait_state("live")
        viewer.wait_state("expired", timeout=15_000)
        assert "expired" in viewer.frame.locator("#overlay-title").inner_text()


@pytest.mark.parametrize("runtime", [{"recording": False}], indirect=True)
def test_two_viewers_share_one_screencast_that_stops_when_both_leave(
    runtime: Runtime, browser: Browser, site: TestSite
) -> None:
    # Recording is off, so only viewers need the screencast: its CDP calls are theirs alone.
    with embedded(browser, site, iframe_url(runtime.embed())) as first:
        first.wait_state("live")
        with embedded(browser, site, iframe_url(runtime.embed())) as second:
            second.wait_state("live")  # a late viewer gets the last frame of a static page at once
            second.frame.wait_for_function("() => document.body.dataset.viewers === '2'")
            first.frame.wait_for_function("() => document.body.dataset.viewers === '2'")
            assert second.data()["screencastStarts"] == "1" and first.data()["screencastStarts"] == "1"
            runtime.execute({"call": "page.evaluate", "args": [f"paint('rgb{GREEN}')"]})
            first.wait_colour(*BACKGROUND, GREEN)
            second.wait_colour(*BACKGROUND, GREEN)
        first.frame.wait_for_function("() => document.body.dataset.viewers === '1'")
        assert first.data()["screencastStops"] == "0"  # one viewer left: it still runs
    # Both gone: the next viewer finds it was stopped, and starts it again.
    with embedded(browser, site, iframe_url(runtime.embed())) as third:
        third.wait_state("live")
        third.frame.wait_for_function("() => document.body.dataset.viewers === '1'")
        assert third.data()["screencastStops"] == "1" and third.data()["screencastStarts"] == "2"
    joined = [e["eventData"] for e in runtime.events("embed.viewer_joined")]
    left = [e["eventData"] for e in runtime.events("embed.viewer_left")]
    assert [d["viewers"] for d in joined] == [1, 2, 1] and [d["viewers"] for d in left][:2] == [1, 0]
    assert all(d["interactive"] is False for d in joined)


def test_a_viewer_follows_the_automation_to_a_new_tab(
    runtime: Runtime, browser: Browser, site: TestSite
) -> None:
    # Interactive: picking the shown tab is the controller's (a view-only viewer may not).
    with embedded(
        browser, site, iframe_url(runtime.embed(viewerMode="automation", interactive=True))
    ) as viewer:
        viewer.wait_state("live")
        first_tab = viewer.data()["shownTab"]
        runtime.execute(
            {"call": "context.newPage", "ref": "context", "bind": "second"},
            {"call": "page.goto", "ref": "second", "args": ["about:blank"]},
            {
                "call": "page.evaluate",
                "ref": "second",
                "args": ["document.body.style.background = 'rgb(30, 160, 60)'"],
            },
        )
        viewer.wait_colour(*BACKGROUND, GREEN)
        assert viewer.data()["shownTab"] != first_tab
        viewer.frame.wait_for_function("() => document.querySelectorAll('#tabs button').length === 2")
        # Picking a tab shows it (and the picture comes back to the first page's red).
        viewer.frame.locator(f"#tabs button[data-tab-id='{first_tab}']").click()
        viewer.wait_colour(*BACKGROUND, RED)


def test_viewers_see_the_runtime_stop_or_fail(
    engine: EngineProcess, runtime: Runtime, workspace: dict, browser: Browser, site: TestSite
) -> None:
    with embedded(browser, site, iframe_url(runtime.embed())) as viewer:
        viewer.wait_state("live")
        runtime.api.post(f"{runtime.url}/stop")
        viewer.wait_state("ended")
        assert "stopped" in viewer.frame.locator("#overlay-title").inner_text()
    assert runtime.embed().status_code == 409
    with engine.client("operator") as api:
        doomed = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "doomed"}).json()
        url = api.post(f"/workspaces/{workspace['id']}/runtimes/doomed/embed/live", json={}).json()[
            "iframeUrl"
        ]
    with embedded(browser, site, url) as viewer:
        viewer.wait_state("live")
        os.kill(browser_pid(engine.var_dir / "runtimes" / doomed["id"]), signal.SIGKILL)
        viewer.wait_state("ended")
        assert "failed" in viewer.frame.locator("#overlay-title").inner_text()
        assert viewer.frame.locator("#overlay-text").inner_text()
    # The link of a runtime that ended opens a page that says so.
    with embedded(browser, site, url) as viewer:
        assert viewer.state() == "failed"


def test_embed_tokens_never_reach_the_engine_log(tmp_path: Path) -> None:
    engine = EngineProcess(tmp_path / "engine")
    engine.log_level = "info"  # uvicorn then logs every websocket it accepts, query string included
    engine.start()
    try:
        with engine.client("operator") as api:
            workspace_id = api.post("/workspaces", json={"name": "logged"}).json()["id"]
            assert (
                api.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "logged"}).status_code == 200
            )
            url = iframe_url(
                api.post(f"/workspaces/{workspace_id}/runtimes/logged/embed/live", json={"interactive": True})
            )
            assert httpx.get(url).status_code == 200
            with viewer_socket(engine, url):
                pass
            # A CDP connect URL's token (the gateway's, same signing) is redacted alike.
            cdp_url = api.post(f"/workspaces/{workspace_id}/runtimes/logged/cdp").json()[
                "webSocketDebuggerUrl"
            ]
            with connect(cdp_url) as cdp:
                cdp.send('{"id": 1, "method": "Browser.getVersion"}')
                assert '"product"' in cdp.recv(timeout=30)
    finally:
        engine.stop()
    log = engine.log()
    assert "WebSocket" in log and "token=[redacted]" in log and "/cdp/" in log
    for token in (parse_qs(urlsplit(u).query)["token"][0] for u in (url, cdp_url)):
        assert token not in log and token.rsplit(":", 1)[-1] not in log


LIVE_TABS = "() => window.received.filter((m) => m.data.type === 'bctrl:live-tab').map((m) => m.data)"


def test_the_follow_toggle_and_fullscreen_and_the_parent_told_the_tab(
    runtime: Runtime, browser: Browser, site: TestSite
) -> None:
    with embedded(browser, site, iframe_url(runtime.embed())) as viewer:
        viewer.wait_state("live")
        first_tab = viewer.data()["shownTab"]
        follow = viewer.frame.locator("#follow")
        assert not follow.is_checked()  # viewerMode last_used: it stays on the tab it shows
        viewer.page.wait_for_function(f"() => ({LIVE_TABS})().some((t) => t.pageId === '{first_tab}')")
        told = viewer.page.evaluate(LIVE_TABS)[-1]
        assert told["runtimeId"] == runtime.id and told["url"].endswith("/live.html") and told["title"]
        runtime.execute(
            {"call": "context.newPage", "ref": "context", "bind": "second"},
            {"call": "page.goto", "ref": "second", "args": [f"{site.url}/index.html"]},
        )
        viewer.frame.wait_for_function("() => document.querySelectorAll('#tabs button').length === 2")
        second_tab = viewer.data()["automationTabId"]
        assert second_tab != first_tab and viewer.data()["shownTabId"] == first_tab
        # Following: it shows the tab the automation uses, and tells the parent.
        follow.check()
        viewer.frame.wait_for_function(f"() => document.body.dataset.shownTab === '{second_tab}'")
        viewer.page.wait_for_function(f"() => ({LIVE_TABS})().some((t) => t.pageId === '{second_tab}')")
        assert viewer.page.evaluate(LIVE_TABS)[-1]["url"].endswith("/index.html")
        runtime.execute({"call": "page.evaluate", "ref": "page", "args": ["1"]})  # a step on the first tab
        viewer.frame.wait_for_function(f"() => document.body.dataset.shownTab === '{first_tab}'")
        # Fullscreen, and back.
        viewer.frame.locator("#fullscreen").click()
        viewer.frame.wait_for_function("() => document.body.dataset.fullscreen === 'true'")
        assert viewer.frame.locator("#fullscreen").inner_text() == "Exit fullscreen"
        viewer.frame.locator("#fullscreen").click()
        viewer.frame.wait_for_function("() => document.body.dataset.fullscreen === 'false'")
        assert viewer.csp_violations() == []
