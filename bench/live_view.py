"""Live view: what a viewer gets against what the browser's screencast gives, and what it costs.

On the suite's animating page (it repaints every frame) at 1280x720, in one run:
  raw:     a CDP screencast straight from a Chromium started here with the engine's flags, acked at
           once, showing the same page; it runs *during* each viewer measurement, so whatever else
           loads the machine slows both alike, and its frame rate over the same seconds is the
           baseline
  viewer:  frames per second a viewer websocket receives from a runtime showing that page, against
           raw (goal >= 0.9), and the age of each frame on arrival, from the moment the browser
           painted it (p50/p95; goal p95 <= 100 ms on loopback; the raw client's own ages are
           printed beside it); then the same for 5 viewers at once (they share one screencast)
  cpu:     cores used by the engine's process tree (engine, Playwright driver, the runtime's
           Chromium) on that page: no viewer and recording off, no viewer and recording on (its
           sampled screencast), one viewer; and, for the raw Chromium, no screencast,
           everyNthFrame=30 and every frame (why recording samples instead of using everyNthFrame)
"""

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.typing import Origin  # noqa: E402

from engine.runtimes import chromium  # noqa: E402
from tests.support.engine_process import EngineProcess  # noqa: E402
from tests.support.site import TestSite  # noqa: E402

WINDOW = 6.0  # seconds each measurement lasts
SETTLE = 1.5  # seconds to let a change settle before measuring
TICKS = os.sysconf("SC_CLK_TCK")


# ---- cpu of a process tree ---------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_cpu_seconds(root: int) -> float:
    tree, total, todo = _children(), 0, [root]
    while todo:
        pid = todo.pop()
        todo += tree.get(pid, [])
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / TICKS


async def cores_used(root: int) -> float:
    await asyncio.sleep(SETTLE)
    start_cpu, start = tree_cpu_seconds(root), time.monotonic()
    await asyncio.sleep(WINDOW)
    return (tree_cpu_seconds(root) - start_cpu) / (time.monotonic() - start)


# ---- the raw baseline --------------------------------------------------------------------------


class RawScreencast:
    """A Chromium of our own on the page, with its screencast's frames (arrival time, age in ms)."""

    def __init__(self, url: str, scratch: Path) -> None:
        self.url, self.scratch = url, scratch
        self.frames: list[tuple[float, float]] = []

    async def __aenter__(self) -> "RawScreencast":
        self.playwright = await async_playwright().start()
        self.context = await self.playwright.chromium.launch_persistent_context(
            str(self.scratch),
            executable_path=chromium.executable(),
            headless=True,
            args=list(chromium.FLAGS),
            viewport={"width": 1280, "height": 720},
        )
        page = self.context.pages[0]
        await page.goto(self.url)
        self.cdp = await self.context.new_cdp_session(page)
        self.cdp.on("Page.screencastFrame", self._on_frame)
        return self

    async def _on_frame(self, params: dict[str, Any]) -> None:
        self.frames.append((time.monotonic(), time.time() * 1000 - params["metadata"]["timestamp"] * 1000))
        await self.cdp.send("Page.screencastFrameAck", {"sessionId": params["sessionId"]})

    async def cast(self, every_nth: int | None) -> None:
        await self.cdp.send("Page.stopScreencast")
        if every_nth is not None:
            await self.cdp.send(
                "Page.startScreencast", {"format": "jpeg", "quality": 70, "everyNthFrame": every_nth}
            )

    def between(self, start: float, end: float) -> tuple[float, list[float]]:
        """Frames per second and frame ages over [start, end] (monotonic seconds)."""
        ages = [age for at, age in self.frames if start <= at <= end]
        return len(ages) / (end - start), ages

    async def __aexit__(self, *exc: object) -> None:
        await self.context.close()
        await self.playwright.stop()


# ---- viewers of the engine ---------------------------------------------------------------------


async def viewer(socket_url: str, origin: str, until: float, ages: list[float]) -> float:
    """Receive frames until `until`; record each frame's age; return frames per second (from the
    second frame on: the first is the last frame, kept for late viewers)."""
    count, first = 0, None
    async with connect(socket_url, origin=Origin(origin), max_size=None) as socket:
        while True:
            remaining = until - time.monotonic()
            if remaining <= 0:
                break
            try:
                message = await asyncio.wait_for(socket.recv(), remaining)
            except TimeoutError:
                break
            if isinstance(message, str):
                continue
            now = time.time() * 1000
            length = int.from_bytes(message[:4], "big")
            header = json.loads(message[4 : 4 + length])
            if first is None:
                first = time.monotonic()  # the first frame is the last one kept for late viewers
                continue
            ages.append(now - header["ts"])
            count += 1
    return count / (time.monotonic() - first) if first else 0.0


async def watch(
    engine: EngineProcess, api: httpx.Client, runtime_url: str, viewers: int, raw: RawScreencast
) -> tuple[list[float], list[float], float, list[float]]:
    """Viewers' frame rates and ages, and the raw screencast's over the same seconds."""
    sockets = []
    for _ in range(viewers):
        iframe = api.post(f"{runtime_url}/embed/live", json={}).json()["iframeUrl"]
        parts = urlsplit(iframe)
        token = parse_qs(parts.query)["token"][0]
        sockets.append(f"ws://127.0.0.1:{engine.port}{parts.path}/ws?token={token}")
    ages: list[float] = []
    start = time.monotonic() + SETTLE
    until = start + WINDOW
    rates = await asyncio.gather(*(viewer(url, engine.url, until, ages) for url in sockets))
    raw_fps, raw_ages = raw.between(start, until)
    return list(rates), ages, raw_fps, raw_ages


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def main() -> None:
    site = TestSite().start()
    page_url = f"{site.url}/animation.html"
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        raw_cpu: dict[str, float] = {}
        async with RawScreencast(page_url, scratch / "raw-cpu") as raw:
            for name, every_nth in (("none", None), ("nth30", 30), ("all", 1)):
                print(f"raw Chromium, screencast {name} ...", flush=True)
                await raw.cast(every_nth)
                raw_cpu[name] = await cores_used(os.getpid())

        engine = EngineProcess(scratch / "engine", allow=site.host_port).start()
        assert engine.process is not None
        try:
            with engine.client("operator") as api:
                workspace_id = api.post("/workspaces", json={"name": "live view bench"}).json()["id"]
                cpu: dict[str, float] = {}
                for alias, recording in (("unrecorded", False), ("recorded", True)):
                    launch = {"mode": "ephemeral", "config": {"recording": recording}}
                    created = api.post(
                        f"/workspaces/{workspace_id}/runtimes", json={"alias": alias, "launch": launch}
                    )
                    assert created.status_code == 200, created.text
                    steps = [{"call": "page.goto", "args": [page_url]}]
                    api.post(f"/workspaces/{workspace_id}/execute", json={"runtime": alias, "steps": steps})
                    print(f"engine: no viewer, recording {'on' if recording else 'off'} ...", flush=True)
                    cpu[alias] = await cores_used(engine.process.pid)
                    if not recording:
                        api.post(f"/workspaces/{workspace_id}/runtimes/{alias}/stop")
                runtime_url = f"/workspaces/{workspace_id}/runtimes/recorded"

                print("engine: one viewer ...", flush=True)
                cpu_task = asyncio.ensure_future(cores_used(engine.process.pid))
                async with RawScreencast(page_url, scratch / "raw") as raw:
                    await raw.cast(1)
                    rates_1, ages_1, raw_fps_1, raw_ages_1 = await watch(engine, api, runtime_url, 1, raw)
                    cpu["viewer"] = await cpu_task
                    print("engine: five viewers ...", flush=True)
                    rates_5, ages_5, raw_fps_5, raw_ages_5 = await watch(engine, api, runtime_url, 5, raw)
        finally:
            engine.stop()
    site.stop()

    def ages(values: list[float]) -> str:
        return f"p50 {percentile(values, 0.5):5.0f} ms  p95 {percentile(values, 0.95):5.0f} ms"

    print()
    print(
        f"1 viewer       {rates_1[0]:5.1f} fps, raw screencast meanwhile {raw_fps_1:5.1f} fps: ratio {rates_1[0] / raw_fps_1:.2f} (goal >= 0.9)"
    )
    print(f"  frame age    {ages(ages_1)} (goal p95 <= 100 ms); raw client meanwhile {ages(raw_ages_1)}")
    mean_5 = statistics.mean(rates_5)
    print(
        f"5 viewers      {mean_5:5.1f} fps each (min {min(rates_5):.1f}), raw meanwhile {raw_fps_5:5.1f} fps: ratio {mean_5 / raw_fps_5:.2f}"
    )
    print(f"  frame age    {ages(ages_5)}; raw client meanwhile {ages(raw_ages_5)}")
    print("cpu, engine process tree (cores):")
    print(f"  no viewer, recording off    {cpu['unrecorded']:.2f}")
    print(
        f"  no viewer, recording on     {cpu['recorded']:.2f}  ({cpu['recorded'] / cpu['unrecorded']:.1f}x off)"
    )
    print(
        f"  one viewer                  {cpu['viewer']:.2f}  ({cpu['viewer'] / cpu['unrecorded']:.1f}x off, {cpu['viewer'] / cpu['recorded']:.1f}x recording on)"
    )
    print("cpu, raw Chromium (cores):")
    print(f"  no screencast               {raw_cpu['none']:.2f}")
    print(
        f"  everyNthFrame=30            {raw_cpu['nth30']:.2f}  ({raw_cpu['nth30'] / raw_cpu['none']:.1f}x none)"
    )
    print(
        f"  every frame                 {raw_cpu['all']:.2f}  ({raw_cpu['all'] / raw_cpu['none']:.1f}x none)"
    )


if __name__ == "__main__":
    asyncio.run(main())
