"""Recordings: steps change the page, the runtime stops, the recording becomes ready, and the player
(/embed/recording/{runtimeId}, in a cross-origin iframe) shows what the page looked like then.
"""

import bisect
import signal
from pathlib import Path

import httpx
from playwright.sync_api import Browser

from tests.support.embeds import embedded
from tests.support.engine_process import EngineProcess, eventually
from tests.support.site import TestSite

RED, GREEN, BLUE = (200, 30, 30), (30, 160, 60), (40, 60, 200)
BACKGROUND = (0.9, 0.9)


def paint(colour: tuple[int, int, int]) -> dict:
    return {"call": "page.evaluate", "args": [f"paint('rgb{colour}')"]}


def pause(ms: int) -> dict:
    return {"call": "page.waitForTimeout", "args": [ms]}


def ready(api: httpx.Client, runtime_url: str) -> dict:
    body = eventually(
        lambda: (b := api.post(f"{runtime_url}/embed/recording").json())["status"] == "ready" and b
    )
    assert body, api.post(f"{runtime_url}/embed/recording").text
    return body  # type: ignore[return-value]


def index(iframe_url: str) -> dict:
    page, query = iframe_url.split("?", 1)
    return httpx.get(f"{page}/index?{query}").json()


def test_the_player_shows_the_moment_it_is_moved_to(
    api: httpx.Client, workspace: dict, site: TestSite, browser: Browser
) -> None:
    runtime_url = f"/workspaces/{workspace['id']}/runtimes/recorded"
    assert api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "recorded"}).status_code == 200
    steps = [
        {"call": "page.goto", "args": [f"{site.url}/live.html"]},
        pause(1000),
        paint(GREEN),
        pause(4000),
        paint(BLUE),
        pause(1000),
        {"call": "context.newPage", "bind": "second"},
        {"call": "page.goto", "ref": "second", "args": [f"{site.url}/live.html"]},
        pause(500),
    ]
    run = api.post(f"/workspaces/{workspace['id']}/execute", json={"runtime": "recorded", "steps": steps})
    assert run.json()["status"] == "succeeded", run.text
    api.post(f"{runtime_url}/stop")
    recording = ready(api, runtime_url)
    assert recording["durationMs"] > 6500 and len(recording["tabIds"]) == 2

    timeline = index(recording["iframeUrl"])
    first_tab = timeline["tabs"][0]
    assert first_tab["id"] == recording["tabIds"][0] and first_tab["url"].endswith("/live.html")
    painted = [m["t"] for m in timeline["marks"] if m["type"] == "step" and m["label"] == "page.evaluate"]
    assert len(painted) == 2 and any(m["type"] == "navigation" for m in timeline["marks"])
    middle = timeline["durationMs"] // 2
    # The steps were built so the middle falls well inside the green stretch.
    assert painted[0] + 500 < middle < painted[1] - 500, (painted, middle)

    with embedded(browser, site, recording["iframeUrl"]) as player:
        player.wait_state("ready")
        assert player.frame.locator(".mark.step").count() >= 5
        assert player.frame.locator(".mark.navigation").count() >= 2
        assert player.frame.locator("#tab option").count() == 2
        player.frame.evaluate(
            "(t) => { const s = document.getElementById('scrubber'); s.value = t; s.dispatchEvent(new Event('input')); }",
            middle,
        )
        player.wait_colour(*BACKGROUND, GREEN)
        # What it shows is the last frame the tab had painted by then.
        times = first_tab["times"]
        assert int(player.data()["shownAt"]) == times[bisect.bisect_right(times, middle) - 1]
        # Play at 2x from there: the picture moves on to the later blue.
        player.frame.select_option("#speed", "2")
        player.frame.click("#play")
        player.wait_colour(*BACKGROUND, BLUE)
        player.frame.click("#play")  # pause
        paused_at = player.data()["position"]
        player.page.wait_for_timeout(300)
        assert player.data()["position"] == paused_at
        assert player.csp_violations() == []


def test_recordings_survive_a_killed_engine_keep_their_bounds_and_expire(
    tmp_path: Path, site: TestSite, browser: Browser
) -> None:
    settings = {
        "ENGINE_RECORDING_RETENTION_SECONDS": "20",  # room for a slow restart on a busy machine
        "ENGINE_RECORDING_MAX_BYTES": "30000",
        "ENGINE_PUBLIC_URL": "http://engine.example.test:9999",
    }
    engine = EngineProcess(tmp_path / "engine", settings, allow=site.host_port).start()
    try:
        with engine.client("operator") as api:
            workspace_id = api.post("/workspaces", json={"name": "recordings"}).json()["id"]
            runtime_url = f"/workspaces/{workspace_id}/runtimes"
            # An animated page outgrows a 30 kB recording: it keeps what fits and says why.
            runtime_id = api.post(runtime_url, json={"alias": "busy"}).json()["id"]
            api.post(
                f"/workspaces/{workspace_id}/execute",
                json={
                    "runtime": "busy",
                    "steps": [{"call": "page.goto", "args": [f"{site.url}/animation.html"]}, pause(4000)],
                },
            )
            recordings = engine.var_dir / "recordings" / runtime_id
            assert recordings.is_dir()
            # Killed while recording: the next engine finalises what reached the disk.
            engine.stop(signal.SIGKILL)
            engine = restart(engine, settings)
        with engine.client("operator") as api:
            recording = ready(api, f"{runtime_url}/busy")
            assert recording["iframeUrl"].startswith("http://engine.example.test:9999/embed/recording/")
            assert recording["durationMs"] > 0 and len(recording["tabIds"]) == 1
            local = recording["iframeUrl"].replace("http://engine.example.test:9999", engine.url)
            timeline = index(local)
            assert timeline["truncated"] == "size" and len(timeline["tabs"][0]["times"]) >= 2
            assert sum(f.stat().st_size for f in recordings.iterdir()) <= 30_000
            # Past the retention the files are gone, and the recording says it expired.
            expired = eventually(
                lambda: (
                    (b := api.post(f"{runtime_url}/busy/embed/recording").json())["status"] == "expired" and b
                ),
                timeout=60,
            )
            assert expired and not recordings.exists()
            with embedded(browser, site, local) as player:
                assert player.state() == "recording_expired"
    finally:
        engine.stop(signal.SIGKILL)


def restart(engine: EngineProcess, settings: dict[str, str]) -> EngineProcess:
    """A new engine on the same var dir (and database: the same keys work), after a kill."""
    again = EngineProcess(engine.var_dir, settings, allow=engine.env["ENGINE_EGRESS_ALLOW"])
    again.keys = dict(engine.keys)
    return again.start()
