"""Live view: what a viewer gets against what the browser's screencast gives, and what it costs.

On the suite's animating page (it repaints every frame) at 1280x720, in one run:
  raw:     a CDP screencast straight from a Chromium started here with the engine's flags, acked at
           once: its frame rate is the baseline (measured before and after the engine, averaged,
           since other work on the machine moves it)
  viewer:  frames per second a viewer websocket receives from a runtime showing the same page,
           against raw (goal >= 0.9), and the age of each frame when it arrives, from the time
           the browser painted it (p50/p95; goal p95 <= 100 ms on loopback); then the same for
           5 viewers at once (they share one screencast)
  cpu:     cores used by the engine's process tree (engine, Playwright driver, the runtime's
           Chromium) on that page: no viewer and recording off, no viewer and recording on
           (its sampled screencast), one viewer; and, for the raw Chromium, no screencast,
           everyNthFrame=30 and every frame (why recording samples instead of everyNthFrame)
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

from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
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


async def raw_screencast(
    url: str, scratch: Path, every_nth: int | None, ages: list[float] | None = None
) -> tuple[float, float]:
    """(frames per second, cores used by this process tree) for one raw screencast setting."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(scratch),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 720},
        )
        page = context.pages[0]
        await page.goto(url)
        cdp = await context.new_cdp_session(page)
        frames: list[float] = []

        async def on_frame(params: dict[str, Any]) -> None:
            frames.append(time.monotonic())
            if ages is not None:
                ages.append(time.time() * 1000 - params["metadata"]["timestamp"] * 1000)
            await cdp.send("Page.screencastFrameAck", {"sessionId": params["sessionId"]})

        cdp.on("Page.screencastFrame", on_frame)
        if every_nth is not None:
            await cdp.send(
                "Page.startScreencast", {"format": "jpeg", "quality": 70, "everyNthFrame": every_nth}
            )
        cores = await cores_used(os.getpid())
        fps = len([t for t in frames if t >= time.monotonic() - WINDOW]) / WINDOW
        await context.close()
        return fps, cores


# ---- viewers of the engine ---------------------------------------------------------------------


async def viewer(socket_url: str, origin: str, until: float, ages: list[float]) -> float:
    """Receive frames until `until`; record each frame's age; return frames per second."""
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
    engine: EngineProcess, api: httpx.Client, runtime_url: str, viewers: int
) -> tuple[list[float], list[float]]:
    sockets = []
    for _ in range(viewers):
        iframe = api.post(f"{runtime_url}/embed/live", json={}).json()["iframeUrl"]
        parts = urlsplit(iframe)
        token = parse_qs(parts.query)["token"][0]
        sockets.append(f"ws://127.0.0.1:{engine.port}{parts.path}/ws?token={token}")
    ages: list[float] = []
    until = time.monotonic() + SETTLE + WINDOW
    rates = await asyncio.gather(*(viewer(url, engine.url, until, ages) for url in sockets))
    return list(rates), ages


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def main() -> None:
    site = TestSite().start()
    page_url = f"{site.url}/animation.html"
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        print("raw screencast (baseline) ...", flush=True)
        raw_ages: list[float] = []
        raw_fps_before, raw_cpu_all = await raw_screencast(page_url, scratch / "raw-1", 1, raw_ages)
        _, raw_cpu_none = await raw_screencast(page_url, scratch / "raw-2", every_nth=None)
        _, raw_cpu_nth = await raw_screencast(page_url, scratch / "raw-3", every_nth=30)

        engine = EngineProcess(scratch / "engine").start()
        assert engine.process is not None
        try:
            with engine.client("operator") as api:
                workspace_id = api.post("/workspaces", json={"name": "live view bench"}).json()["id"]
                cpu: dict[str, float] = {}
                for alias, recording in (("unrecorded", False), ("recorded", True)):
                    launch = {"mode": "ephemeral", "config": {"recording": recording}}
                    assert (
                        api.post(
                            f"/workspaces/{workspace_id}/runtimes", json={"alias": alias, "launch": launch}
                        ).status_code
                        == 201
                    )
                    api.post(
                        f"/workspaces/{workspace_id}/execute",
                        json={"runtime": alias, "steps": [{"call": "page.goto", "args": [page_url]}]},
                    )
                    print(f"engine: no viewer, recording {'on' if recording else 'off'} ...", flush=True)
                    cpu[alias] = await cores_used(engine.process.pid)
                    if not recording:
                        api.post(f"/workspaces/{workspace_id}/runtimes/{alias}/stop")
                runtime_url = f"/workspaces/{workspace_id}/runtimes/recorded"

                print("engine: one viewer ...", flush=True)
                cpu_task = asyncio.ensure_future(cores_used(engine.process.pid))
                rates_1, ages_1 = await watch(engine, api, runtime_url, 1)
                cpu["viewer"] = await cpu_task
                print("engine: five viewers ...", flush=True)
                rates_5, ages_5 = await watch(engine, api, runtime_url, 5)
        finally:
            engine.stop()
        print("raw screencast again ...", flush=True)
        raw_fps_after, _ = await raw_screencast(page_url, scratch / "raw-4", 1, raw_ages)
    site.stop()

    raw_fps = (raw_fps_before + raw_fps_after) / 2
    print()
    print(
        f"raw CDP screencast            {raw_fps:6.1f} fps  (before {raw_fps_before:.1f}, after {raw_fps_after:.1f})"
    )
    print(
        f"  frame age at the raw client p50 {percentile(raw_ages, 0.5):5.0f} ms  p95 {percentile(raw_ages, 0.95):5.0f} ms"
    )
    print(
        f"1 viewer                      {rates_1[0]:6.1f} fps  ratio {rates_1[0] / raw_fps:.2f}  (goal >= 0.9)"
    )
    print(
        f"  frame age                   p50 {percentile(ages_1, 0.5):5.0f} ms  p95 {percentile(ages_1, 0.95):5.0f} ms  (goal p95 <= 100 ms)"
    )
    print(
        f"5 viewers                     {statistics.mean(rates_5):6.1f} fps each (min {min(rates_5):.1f})  "
        f"ratio {statistics.mean(rates_5) / raw_fps:.2f}"
    )
    print(
        f"  frame age                   p50 {percentile(ages_5, 0.5):5.0f} ms  p95 {percentile(ages_5, 0.95):5.0f} ms"
    )
    print("cpu, engine process tree (cores):")
    print(f"  no viewer, recording off    {cpu['unrecorded']:.2f}")
    print(
        f"  no viewer, recording on     {cpu['recorded']:.2f}  ({cpu['recorded'] / cpu['unrecorded']:.1f}x off)"
    )
    print(
        f"  one viewer                  {cpu['viewer']:.2f}  ({cpu['viewer'] / cpu['unrecorded']:.1f}x off, {cpu['viewer'] / cpu['recorded']:.1f}x recording)"
    )
    print("cpu, raw Chromium (cores):")
    print(f"  no screencast               {raw_cpu_none:.2f}")
    print(f"  everyNthFrame=30            {raw_cpu_nth:.2f}  ({raw_cpu_nth / raw_cpu_none:.1f}x none)")
    print(f"  every frame                 {raw_cpu_all:.2f}  ({raw_cpu_all / raw_cpu_none:.1f}x none)")


if __name__ == "__main__":
    asyncio.run(main())
