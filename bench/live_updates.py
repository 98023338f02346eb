"""Live updates: how long an engine change takes to reach a browser's page through the console.

One real engine and one real console (daphne, its relay reading the engine's updates stream); each
change is a workspace created through the API, and every measurement starts when that call was
sent, so all of them are timed from the same instant on the same clock:
  raw:      a plain SSE client of the engine's /v1/updates/stream (httpx, no console): the
            baseline, the engine's own share of the latency
  browser:  the feed page in headless Chromium, until its row is in the DOM (a MutationObserver)
            (p50/p95; goal p50 <= 50 ms), with its ratio to raw
  sockets:  200 websockets of signed-in users on the same console, until each got the update
            (p50/p99 over all; goal p99 <= 250 ms), with the ratio of p50 to raw
  streams:  the upstream stream connections the console opened (the relay's own count, shown
            to admins): must be 1 for one console process, whatever the number of sockets
"""

import asyncio
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from httpx_sse import EventSource  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.typing import Origin  # noqa: E402

from engine.runtimes import chromium  # noqa: E402
from tests.support.console_process import ConsoleProcess  # noqa: E402
from tests.support.engine_process import EngineProcess  # noqa: E402

CHANGES = 40
SOCKETS = int(os.environ.get("BENCH_SOCKETS", "200"))
GAP = 0.25  # seconds between two changes
PASSWORD = "bench correct horse battery"

OBSERVE_JS = """() => {
  window.benchSeen = {};
  new MutationObserver((records) => {
    const now = performance.timeOrigin + performance.now();
    for (const record of records) for (const node of record.addedNodes) {
      if (node.nodeType === 1 && node.dataset && node.dataset.type === "workspace.created") {
        const name = (node.dataset.search || "").match(/bench-(\\d+)/);
        if (name && !(name[1] in window.benchSeen)) window.benchSeen[name[1]] = now;
      }
    }
  }).observe(document.getElementById("feed-rows"), { childList: true });
}"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def raw_reader(
    engine: EngineProcess, tag: str, seen: dict[int, float], ready: threading.Event, stop: threading.Event
) -> None:
    """The baseline: the engine's stream, read by nothing but httpx."""
    with (
        httpx.Client(timeout=httpx.Timeout(60, read=60)) as client,
        client.stream(
            "GET",
            f"{engine.url}/v1/updates/stream",
            headers={"Authorization": f"Bearer {engine.keys['read']}"},
        ) as response,
    ):
        ready.set()
        for message in EventSource(response).iter_sse():
            if stop.is_set():
                return
            match = re.search(rf"{tag}-(\d+)", message.data)
            if message.event == "workspace.created" and match:
                seen.setdefault(int(match.group(1)), time.time() * 1000)
                if len(seen) >= CHANGES:
                    return


async def sockets_reader(
    console: ConsoleProcess, cookie: str, seen: list[dict[int, float]], ready: asyncio.Event
) -> None:
    async def one(index: int) -> None:
        async with connect(
            f"ws://127.0.0.1:{console.port}/ws/updates/",
            origin=Origin(console.url),
            additional_headers={"Cookie": cookie},
            open_timeout=60,
            max_queue=None,
        ) as socket:
            opened.append(index)
            if len(opened) == SOCKETS:
                ready.set()
            async for message in socket:
                match = re.search(r'data-type="workspace.created"[^>]*bench-(\d+)', str(message))
                if match:
                    seen[index].setdefault(int(match.group(1)), time.time() * 1000)
                    if len(seen[index]) >= CHANGES:
                        return

    opened: list[int] = []
    await asyncio.gather(*(one(i) for i in range(SOCKETS)))


def relay_state(session: httpx.Client) -> dict[str, str]:
    html = session.get("/live/", params={"region": "relay"}, headers={"HX-Request": "true"}).text
    return dict(re.findall(r"<dt>([^<]+)</dt><dd[^>]*>([^<]*(?:<[^>]+>[^<]*)*?)</dd>", html))


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = EngineProcess(Path(tmp) / "engine").start()
        console = ConsoleProcess(Path(tmp) / "console", f"{engine.url}/v1", engine.keys["admin"])
        try:
            console.start()
            console.create_user("alice", "admin", PASSWORD)
            session = console.sign_in("alice", PASSWORD)
            cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
            await measure(engine, console, session, cookie)
        finally:
            console.stop()
            engine.stop()


async def changes(engine: EngineProcess, tag: str, seen_all) -> dict[int, float]:  # type: ignore[no-untyped-def]
    """Make CHANGES workspaces named `tag-N`; when each call was sent. Waits until `seen_all()`."""
    sent: dict[int, float] = {}
    headers = {"Authorization": f"Bearer {engine.keys['admin']}"}
    with httpx.Client(base_url=f"{engine.url}/v1", headers=headers) as api:
        for n in range(CHANGES):
            sent[n] = time.time() * 1000
            await asyncio.to_thread(api.post, "/workspaces", json={"name": f"{tag}-{n}"})
            await asyncio.sleep(GAP)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not await seen_all():
        await asyncio.sleep(0.2)
    return sent


def line(label: str, values: list[float], high: float, raw_p50: float, goal: str, met: bool, of: int) -> str:
    p50 = statistics.median(values)
    return (
        f"  {label:<28}p50 {p50:6.1f} ms   p{round(high * 100)} {pct(values, high):6.1f} ms   ratio p50/raw {p50 / raw_p50:5.2f}"
        f"   ({len(values)}/{of} seen; goal {goal}: {'met' if met else 'NOT met'})"
    )


async def measure(engine: EngineProcess, console: ConsoleProcess, session: httpx.Client, cookie: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium.executable(), headless=True, args=list(chromium.FLAGS)
        )
        context = await browser.new_context()
        await context.add_cookies(
            [{"name": k, "value": v, "url": console.url} for k, v in session.cookies.items()]
        )
        page = await context.new_page()
        await page.goto(f"{console.url}/live/")
        await page.wait_for_function("() => document.body.dataset.live === 'open'", timeout=30_000)

        # 1. one browser on the feed page, and the raw client
        await page.evaluate(OBSERVE_JS.replace("bench-", "alone-"))
        raw_seen, raw_stop = start_raw(engine, "alone")

        async def browser_saw_all() -> bool:
            return len(await page.evaluate("() => window.benchSeen")) >= CHANGES

        sent = await changes(engine, "alone", browser_saw_all)
        seen = await page.evaluate("() => window.benchSeen")
        raw_stop.set()
        raw_ms = [raw_seen[n] - sent[n] for n in sent if n in raw_seen]
        browser_ms = [float(seen[str(n)]) - sent[n] for n in sent if str(n) in seen]
        raw_p50 = statistics.median(raw_ms)
        print(f"live updates: {CHANGES} changes (a workspace created through the API), one console process")
        print(f"  raw SSE client (baseline)   p50 {raw_p50:6.1f} ms   p95 {pct(raw_ms, 0.95):6.1f} ms")
        browser_p50 = statistics.median(browser_ms)
        print(
            line(
                "browser DOM (feed row)",
                browser_ms,
                0.95,
                raw_p50,
                "p50 <= 50 ms",
                browser_p50 <= 50,
                CHANGES,
            )
        )

        # 2. the same with SOCKETS more websockets connected
        socket_seen: list[dict[int, float]] = [{} for _ in range(SOCKETS)]
        sockets_ready = asyncio.Event()
        sockets = asyncio.ensure_future(sockets_reader(console, cookie, socket_seen, sockets_ready))
        await asyncio.wait_for(sockets_ready.wait(), 120)
        state = relay_state(session)  # while every socket is open
        await page.evaluate(OBSERVE_JS)
        raw_seen, raw_stop = start_raw(engine, "bench")

        async def all_saw_all() -> bool:
            browser_done = len(await page.evaluate("() => window.benchSeen")) >= CHANGES
            return browser_done and all(len(s) >= CHANGES for s in socket_seen)

        sent = await changes(engine, "bench", all_saw_all)
        seen = await page.evaluate("() => window.benchSeen")
        raw_stop.set()
        sockets.cancel()
        await browser.close()
    raw_ms = [raw_seen[n] - sent[n] for n in sent if n in raw_seen]
    raw_p50 = statistics.median(raw_ms)
    socket_ms = [s[n] - sent[n] for s in socket_seen for n in sent if n in s]
    browser_ms = [float(seen[str(n)]) - sent[n] for n in sent if str(n) in seen]
    print(f"  with {SOCKETS} websockets connected: raw p50 {raw_p50:6.1f} ms")
    p99 = pct(socket_ms, 0.99)
    print(
        line(
            f"{SOCKETS} websockets", socket_ms, 0.99, raw_p50, "p99 <= 250 ms", p99 <= 250, CHANGES * SOCKETS
        )
    )
    print(
        line(
            "browser DOM, among them",
            browser_ms,
            0.95,
            raw_p50,
            "p50 <= 50 ms",
            statistics.median(browser_ms) <= 50,
            CHANGES,
        )
    )
    connections = state.get("Upstream connections opened", "?")
    print(
        f"  upstream streams opened by the console process: {connections} for {state.get('Sockets in this process', '?')}"
        f" sockets (must be 1: {'met' if connections == '1' else 'NOT met'})"
    )


def start_raw(engine: EngineProcess, tag: str) -> tuple[dict[int, float], threading.Event]:
    seen: dict[int, float] = {}
    ready, stop = threading.Event(), threading.Event()
    threading.Thread(target=raw_reader, args=(engine, tag, seen, ready, stop), daemon=True).start()
    ready.wait(30)
    return seen, stop


if __name__ == "__main__":
    asyncio.run(main())
