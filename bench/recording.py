"""Recordings: how many frames they keep while a page animates, what they cost, how big they are.

On the suite's animating page (it repaints every frame) at 1280x720, one runtime at a time on an
engine started here, each measured over the same window:
  base:      the page animating, recording off, nobody watching: the baseline
  recording: the same with recording on, nobody watching (one throttled screencast per tab)
  live view: recording off, one viewer watching at full rate (the live view's own screencast)
Printed: the frames per second the recording kept (goal >= 10) against the frames the page
painted meanwhile (its own requestAnimationFrame count: the most any screencast could give), and
the gaps between kept frames; the cores the engine's process tree (engine, Playwright driver, the
runtime's Chromium) used in each case; the recording's cost (recording - base) against the live
view's (live view - base); and, from the recording, its stored frames and its exported videos
(WebM, MP4) in bytes per minute, with how long the export took against the recording's length.

Then, on a Chromium started here with the same page, the ways a screencast can be slowed to 80 ms
a frame, each over the same window: acks held back (what the recorder does), stop-and-start
sampling (what it did before), and every frame acked at once; frames per second and cores each.

`--runtimes N` also records N runtimes at once (the page animating in each) and prints the frames
per second each kept and the cores used: recording must not starve a busy engine.
"""

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from bench.live_view import SETTLE, WINDOW, cores_used, tree_cpu_seconds, viewer  # noqa: E402
from engine.runtimes import chromium  # noqa: E402
from tests.support.engine_process import EngineProcess  # noqa: E402
from tests.support.site import TestSite  # noqa: E402

INTERVAL = 0.08  # ENGINE_RECORDING_FRAME_INTERVAL_MS's default
START = {"format": "jpeg", "quality": 60, "maxWidth": 1280, "maxHeight": 1280}


class Bench:
    def __init__(self, engine: EngineProcess, api: httpx.Client, workspace_id: str, page_url: str) -> None:
        self.engine, self.api, self.workspace_id, self.page_url = engine, api, workspace_id, page_url
        assert engine.process is not None
        self.pid = engine.process.pid

    def launch(self, alias: str, recording: bool) -> str:
        launch = {"mode": "ephemeral", "config": {"recording": recording}}
        created = self.api.post(
            f"/workspaces/{self.workspace_id}/runtimes", json={"alias": alias, "launch": launch}
        )
        assert created.status_code == 200, created.text
        steps = [{"call": "page.goto", "args": [self.page_url]}]
        ran = self.api.post(
            f"/workspaces/{self.workspace_id}/execute", json={"runtime": alias, "steps": steps}
        )
        assert ran.json()["status"] == "succeeded", ran.text
        return str(created.json()["id"])

    def stop(self, alias: str) -> None:
        self.api.post(f"/workspaces/{self.workspace_id}/runtimes/{alias}/stop")

    def index(self, runtime_id: str) -> dict:
        iframe = self.api.post(f"/runtimes/{runtime_id}/embed/recording").json()["iframeUrl"]
        page, query = iframe.split("?", 1)
        return httpx.get(f"{page}/index?{query}", timeout=60).json()

    def kept_between(self, runtime_id: str, start_ms: float, end_ms: float) -> list[int]:
        """Frame times (ms from the recording's start) kept in [start_ms, end_ms] of the wall clock."""
        index = self.index(runtime_id)
        zero_ms = datetime.fromisoformat(index["startedAt"]).timestamp() * 1000
        return [t for t in index["tabs"][0]["times"] if start_ms <= zero_ms + t <= end_ms]

    async def window(self, settle: bool = True) -> tuple[float, float, float]:
        """(cores used, start, end in epoch ms) of one measuring window, after things settle."""
        if settle:
            await asyncio.sleep(SETTLE)
        cpu, start, clock = tree_cpu_seconds(self.pid), time.time() * 1000, time.monotonic()
        await asyncio.sleep(WINDOW)
        return (tree_cpu_seconds(self.pid) - cpu) / (time.monotonic() - clock), start, time.time() * 1000

    def painted(self, alias: str) -> int:
        """How many animation frames the page has painted so far (animation.html counts them)."""
        step = {"call": "page.evaluate", "args": ["Number(document.getElementById('n').textContent)"]}
        ran = self.api.post(
            f"/workspaces/{self.workspace_id}/execute", json={"runtime": alias, "steps": [step]}
        )
        return int(ran.json()["steps"][0]["result"])

    async def recorded(self, runtime_id: str, alias: str) -> tuple[float, float, float, list[int]]:
        """(frames per second kept, frames per second painted, cores used, frame times) over one window."""
        await asyncio.sleep(SETTLE)
        before = self.painted(alias)
        cores, start, end = await self.window(settle=False)
        painted = (self.painted(alias) - before) / ((end - start) / 1000)
        times = self.kept_between(runtime_id, start, end)
        return len(times) / ((end - start) / 1000), painted, cores, times

    async def watched(self, alias: str) -> tuple[float, float]:
        """(frames per second a full-rate viewer got, cores used) over one window."""
        iframe = self.api.post(f"/workspaces/{self.workspace_id}/runtimes/{alias}/embed/live", json={}).json()
        parts = urlsplit(iframe["iframeUrl"])
        token = parse_qs(parts.query)["token"][0]
        url = f"ws://127.0.0.1:{self.engine.port}{parts.path}/ws?token={token}"
        until = time.monotonic() + 2 * SETTLE + WINDOW
        fps, cores = await asyncio.gather(viewer(url, self.engine.url, until, []), cores_used(self.pid))
        return fps, cores

    def export(self, runtime_id: str, fmt: str) -> tuple[int, float]:
        started = time.monotonic()
        response = self.api.get(
            f"/runtimes/{runtime_id}/recording/video", params={"format": fmt}, timeout=600
        )
        assert response.status_code == 200, response.text
        return len(response.content), time.monotonic() - started


def gaps(times: list[int]) -> str:
    between = [b - a for a, b in itertools.pairwise(times)]
    if not between:
        return "no gaps"
    ordered = sorted(between)
    return (
        f"gap p50 {statistics.median(between):.0f} ms, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.0f} ms"
    )


class RawCast:
    """A screencast on a Chromium of our own, slowed one of three ways (or not at all)."""

    def __init__(self, cdp: Any) -> None:
        self.cdp, self.mode, self.frames, self.last_ack, self.pausing = cdp, "off", 0, 0.0, False
        cdp.on("Page.screencastFrame", lambda params: asyncio.ensure_future(self.on_frame(params)))

    async def on_frame(self, params: dict[str, Any]) -> None:
        self.frames += 1
        ack = {"sessionId": params["sessionId"]}
        if self.mode == "held":
            wait = self.last_ack + INTERVAL - time.monotonic()
            self.last_ack = time.monotonic() + max(0.0, wait)
            await asyncio.sleep(max(0.0, wait))
        await self.cdp.send("Page.screencastFrameAck", ack)
        if self.mode == "sampled" and not self.pausing:
            self.pausing = True
            await self.cdp.send("Page.stopScreencast")
            await asyncio.sleep(INTERVAL)
            self.pausing = False
            if self.mode == "sampled":
                await self.cdp.send("Page.startScreencast", START)

    async def measure(self, mode: str) -> tuple[float, float]:
        self.mode = mode
        if mode != "off":
            await self.cdp.send("Page.startScreencast", START)
        await asyncio.sleep(SETTLE)
        frames, cpu, clock = self.frames, tree_cpu_seconds(os.getpid()), time.monotonic()
        await asyncio.sleep(WINDOW)
        elapsed = time.monotonic() - clock
        result = (self.frames - frames) / elapsed, (tree_cpu_seconds(os.getpid()) - cpu) / elapsed
        self.mode = "off"
        await self.cdp.send("Page.stopScreencast")
        await asyncio.sleep(0.5)
        return result


async def raw_ways(page_url: str, scratch: Path) -> dict[str, tuple[float, float]]:
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(scratch),
            executable_path=chromium.executable(),
            headless=True,
            args=list(chromium.FLAGS),
            viewport={"width": 1280, "height": 720},
        )
        page = context.pages[0]
        await page.goto(page_url)
        cast = RawCast(await context.new_cdp_session(page))
        ways = {}
        for mode in ("off", "held", "sampled", "every"):
            print(f"raw Chromium, screencast {mode} ...", flush=True)
            ways[mode] = await cast.measure(mode)
        await context.close()
    return ways


async def main(runtimes: int) -> None:
    site = TestSite().start()
    page_url = f"{site.url}/animation.html"
    with tempfile.TemporaryDirectory() as scratch:
        engine = EngineProcess(Path(scratch) / "engine", allow=site.host_port).start()
        try:
            with engine.client("operator", timeout=120) as api:
                workspace_id = api.post("/workspaces", json={"name": "recording bench"}).json()["id"]
                bench = Bench(engine, api, workspace_id, page_url)
                await measure(bench, engine, runtimes)
        finally:
            engine.stop()
        ways = await raw_ways(page_url, Path(scratch) / "raw")
    site.stop()
    off_cores = ways["off"][1]
    print(f"raw Chromium, the page animating, screencast slowed to {INTERVAL * 1000:.0f} ms a frame:")
    names = {
        "off": "no screencast",
        "held": "acks held (recorder)",
        "sampled": "stop-and-start sampling",
        "every": "every frame, acked at once",
    }
    for mode, (fps, cores) in ways.items():
        extra = "" if mode == "off" else f"  (+{cores - off_cores:.2f} over none)"
        print(f"  {names[mode]:28s} {fps:5.1f} fps  {cores:.2f} cores{extra}")


async def measure(bench: Bench, engine: EngineProcess, runtimes: int) -> None:
    print("base: animating, recording off, nobody watching ...", flush=True)
    bench.launch("base", recording=False)
    base = await cores_used(bench.pid)
    print("live view: one viewer at full rate ...", flush=True)
    live_fps, live = await bench.watched("base")
    bench.stop("base")

    print("recording: animating, recording on, nobody watching ...", flush=True)
    recorded_id = bench.launch("recorded", recording=True)
    fps, painted, recording, times = await bench.recorded(recorded_id, "recorded")
    bench.stop("recorded")
    index = bench.index(recorded_id)
    minutes = index["durationMs"] / 60_000
    stored = sum(f.stat().st_size for f in (engine.var_dir / "recordings" / recorded_id).iterdir())
    print("exporting its video (webm, mp4) ...", flush=True)
    webm, webm_seconds = bench.export(recorded_id, "webm")
    mp4, mp4_seconds = bench.export(recorded_id, "mp4")

    together: list[float] = []
    together_cores = 0.0
    if runtimes > 1:
        print(f"{runtimes} runtimes recording at once ...", flush=True)
        ids = [bench.launch(f"many-{n}", recording=True) for n in range(runtimes)]
        together_cores, start, end = await bench.window()
        together = [len(bench.kept_between(i, start, end)) / ((end - start) / 1000) for i in ids]
        for n in range(runtimes):
            bench.stop(f"many-{n}")

    print()
    print(
        f"recording kept   {fps:5.1f} fps while the page animates (goal >= 10); the page painted {painted:5.1f} fps "
        f"meanwhile; {gaps(times)}"
    )
    print(f"  a viewer meanwhile would get {live_fps:5.1f} fps (the live view, full rate)")
    print("cpu, engine process tree (cores):")
    print(f"  base (animating, nothing else)   {base:.2f}")
    print(f"  recording on                     {recording:.2f}  (+{recording - base:.2f})")
    print(f"  one live viewer                  {live:.2f}  (+{live - base:.2f})")
    cost_ratio = (recording - base) / (live - base) if live > base else float("nan")
    print(f"  recording's cost / live view's   {cost_ratio:.2f}")
    print(f"size per minute of recording ({index['durationMs'] / 1000:.0f} s recorded):")
    print(f"  stored frames (JPEG)   {stored / minutes / 1e6:7.2f} MB/min")
    print(
        f"  WebM (VP8) export      {webm / minutes / 1e6:7.2f} MB/min ({stored / webm:.1f}x smaller than the frames), "
        f"made in {webm_seconds:.1f} s = {webm_seconds / (minutes * 60):.2f}x the recording's length"
    )
    print(
        f"  MP4 (H.264) export     {mp4 / minutes / 1e6:7.2f} MB/min ({stored / mp4:.1f}x smaller than the frames), "
        f"made in {mp4_seconds:.1f} s = {mp4_seconds / (minutes * 60):.2f}x the recording's length"
    )
    if together:
        print(
            f"{runtimes} runtimes recording at once: {statistics.mean(together):.1f} fps each "
            f"(min {min(together):.1f}), {together_cores:.2f} cores"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runtimes", type=int, default=1, help="also record this many runtimes at once")
    asyncio.run(main(parser.parse_args().runtimes))
