"""Recordings: steps change the page, the runtime stops, the recording becomes ready, and the player
(/embed/recording/{runtimeId}, in a cross-origin iframe) shows what the page looked like then.
"""

import bisect
import io
import signal
from datetime import datetime
from pathlib import Path

import av
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
        pause(1500),  # time for the new tab to paint under a loaded machine
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
    # A moment well inside the green stretch (between the two paints, whatever a loaded machine did
    # to the steps around them).
    assert painted[1] - painted[0] > 2000, painted
    middle = (painted[0] + painted[1]) // 2

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


def decoded_frames(content: bytes) -> tuple[int, int, int]:
    """(frames, width, height) of a video file, decoded by PyAV."""
    with av.open(io.BytesIO(content)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return count, stream.codec_context.width, stream.codec_context.height


def test_a_recording_of_two_tabs_plays_while_its_runtime_runs_and_exports_as_video(
    api: httpx.Client, engine: EngineProcess, workspace: dict, site: TestSite, browser: Browser
) -> None:
    created = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "taped"})
    assert created.status_code == 200, created.text
    runtime_id = created.json()["id"]
    run = api.post(
        f"/workspaces/{workspace['id']}/execute",
        json={
            "runtime": "taped",
            "steps": [
                {"call": "page.goto", "args": [f"{site.url}/animation.html"]},
                pause(1000),
                # The automation moves to a second tab; the first one goes on animating.
                {"call": "context.newPage", "bind": "second"},
                {"call": "page.goto", "ref": "second", "args": [f"{site.url}/live.html"]},
                {"call": "page.evaluate", "ref": "second", "args": [f"paint('rgb{GREEN}')"]},
                {"call": "page.waitForTimeout", "ref": "second", "args": [1500]},
            ],
        },
    )
    assert run.json()["status"] == "succeeded", run.text
    with engine.client("read") as reader:
        embed = reader.post(f"/runtimes/{runtime_id}/embed/recording")
        assert embed.status_code == 200, embed.text
        recording = embed.json()
    assert recording["status"] == "encoding" and recording["startedAt"] and len(recording["tabIds"]) == 2
    # Playable while the runtime runs: the index has both tabs so far, and grows.
    before = index(recording["iframeUrl"])
    assert before["live"] is True and [t["id"] for t in before["tabs"]] == recording["tabIds"]
    animated, second = before["tabs"]
    opened_at = second["times"][0]
    assert any(t > opened_at + 500 for t in animated["times"]), (
        "the first tab was recorded after the automation left it"
    )
    with embedded(browser, site, recording["iframeUrl"]) as player:
        player.wait_state("ready")
        assert player.data()["live"] == "true" and player.frame.locator("#live-edge").is_visible()
        player.frame.wait_for_function(
            f"() => Number(document.getElementById('scrubber').max) > {before['durationMs'] + 500}"
        )
    after = index(recording["iframeUrl"])
    assert (
        len(after["tabs"][0]["times"]) > len(animated["times"]) and after["durationMs"] > before["durationMs"]
    )
    page, query = recording["iframeUrl"].split("?", 1)
    last = len(after["tabs"][0]["times"]) - 1
    frame = httpx.get(f"{page}/frames/{animated['id']}/{last}?{query}")
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"

    api.post(f"/workspaces/{workspace['id']}/runtimes/taped/stop")
    ready(api, f"/workspaces/{workspace['id']}/runtimes/taped")
    final = index(recording["iframeUrl"])
    times = final["tabs"][0]["times"]
    with engine.client("read") as reader:
        webm = reader.get(f"/runtimes/{runtime_id}/recording/video", params={"tab": animated["id"]})
        assert webm.status_code == 200, webm.text
        assert webm.headers["content-type"] == "video/webm"
        count, width, height = decoded_frames(webm.content)
        # every recorded frame, and the last one again at the recording's end
        assert abs(count - (len(times) + 1)) <= 1, (count, len(times))
        assert (width, height) == (1280, 720)
        # Without a tab the video follows the automation: the first tab, then the second.
        mp4 = reader.get(f"/runtimes/{runtime_id}/recording/video", params={"format": "mp4"})
        assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
        following, _w, _h = decoded_frames(mp4.content)
        assert 2 <= following < count + len(final["tabs"][1]["times"]) + 2

        assert (
            reader.get(f"/runtimes/{runtime_id}/recording/video", params={"tab": "page_0"}).status_code == 400
        )
        assert (
            reader.get(f"/runtimes/{runtime_id}/recording/video", params={"format": "gif"}).status_code == 400
        )


RECEIVED_TIMES = "() => window.received.filter((m) => m.data.type === 'bctrl:recording-time')"


def test_the_player_follows_its_parent_and_tells_it_the_time(
    api: httpx.Client, engine: EngineProcess, workspace: dict, site: TestSite, browser: Browser
) -> None:
    created = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "told"})
    runtime_id = created.json()["id"]
    steps = [{"call": "page.goto", "args": [f"{site.url}/live.html"]}, pause(1500), paint(GREEN), pause(1500)]
    api.post(f"/workspaces/{workspace['id']}/execute", json={"runtime": "told", "steps": steps})
    api.post(f"/workspaces/{workspace['id']}/runtimes/told/stop")
    ready(api, f"/workspaces/{workspace['id']}/runtimes/told")
    with engine.client("read") as reader:
        recording = reader.post(f"/runtimes/{runtime_id}/embed/recording").json()
    started_at = int(datetime.fromisoformat(recording["startedAt"]).timestamp() * 1000)
    with embedded(browser, site, recording["iframeUrl"]) as player:
        player.wait_state("ready")
        speeds = player.frame.locator("#speed option").evaluate_all(
            "(options) => options.map((o) => o.value)"
        )
        assert "1.5" in speeds and speeds == ["0.5", "1", "1.5", "2", "4"]
        # It opens at the page's first picture and told its parent so, to the parent's origin only.
        first_picture = index(recording["iframeUrl"])["tabs"][0]["times"][0]
        player.page.wait_for_function(f"() => ({RECEIVED_TIMES})().length > 0")
        first = player.page.evaluate(RECEIVED_TIMES)[0]
        assert first["fromEmbed"] and first["origin"] == engine.url
        assert first["data"] == {
            "type": "bctrl:recording-time",
            "runtimeId": runtime_id,
            "at": started_at + first_picture,
            "offsetMs": first_picture,
            "playing": False,
        }
        announced = player.page.evaluate(
            "() => window.received.filter((m) => m.data.type === 'bctrl:recording-ready').map((m) => m.data)"
        )
        assert announced == [
            {
                "type": "bctrl:recording-ready",
                "runtimeId": runtime_id,
                "startedAt": started_at,
                "durationMs": recording["durationMs"],
            }
        ]
        # The parent seeks it by wall-clock time, sets its speed, plays and pauses it.
        player.page.evaluate(f"tell({{type: 'bctrl:seek', at: {started_at + 2500}}})")
        player.frame.wait_for_function("() => document.body.dataset.position === '2500'")
        player.wait_colour(*BACKGROUND, GREEN)
        assert player.page.evaluate(RECEIVED_TIMES)[-1]["data"]["offsetMs"] == 2500
        player.page.evaluate("tell({type: 'bctrl:speed', rate: 1.5})")
        player.frame.wait_for_function("() => document.getElementById('speed').value === '1.5'")
        player.page.evaluate("tell({type: 'bctrl:speed', rate: 3})")  # not one of its speeds: ignored
        player.page.evaluate("window.received.length = 0; tell({type: 'bctrl:play'})")
        player.frame.wait_for_function("() => document.body.dataset.playing === 'true'")
        player.page.wait_for_timeout(1000)
        player.page.evaluate("tell({type: 'bctrl:pause'})")
        player.frame.wait_for_function("() => document.body.dataset.playing === 'false'")
        told = [m["data"] for m in player.page.evaluate(RECEIVED_TIMES)]
        assert told[0]["playing"] and not told[-1]["playing"] and told[-1]["offsetMs"] > 2500
        assert len(told) <= 8  # while playing, at most 4 a second (and one for play, one for pause)
        assert player.frame.evaluate("() => document.getElementById('speed').value") == "1.5"

        # A message from any window but its parent is ignored, whatever its origin says.
        position = player.data()["position"]
        player.page.evaluate(
            """(at) => new Promise((done) => {
                const sibling = document.createElement('iframe');
                sibling.srcdoc = `<script>parent.frames[0].postMessage({type: 'bctrl:seek', at: ${at}}, '*');<\\/script>`;
                sibling.onload = () => setTimeout(done, 300);
                document.body.append(sibling);
            })""",
            started_at,
        )
        assert player.data()["position"] == position
        assert player.csp_violations() == []
