"""Density: 20 runtimes on this machine, launched, driven and stopped together.

Starts an engine (a limit of 20 live browsers, the default) and a local test site, then:
  launch  20 runtimes at once (POST /runtimes, 20 concurrent requests): p50, p95, failures;
  step    one `page.goto` of a local page on each, all at once: p50, p95, failures;
  memory  per runtime: the engine process's growth and its browsers' PSS (all their processes,
          shared pages split), against 20 raw Playwright persistent contexts (same Chromium and
          flags, one browser each, as runtimes are) on the same page;
  idle    CPU of the 20 idle runtimes (recording on, nobody watching) and of the engine over
          10 s, against the 20 raw browsers idle over the same time;
  stop    all 20 at once: p50, p95, and Chromium processes left behind (must be 0).

    .venv/bin/python bench/density.py [--runtimes 20]
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402

from engine.runtimes import chromium  # noqa: E402
from tests.support.engine_process import EngineProcess, chromium_pids_under  # noqa: E402
from tests.support.site import TestSite  # noqa: E402

IDLE_SECONDS = 10
TICK = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def pss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / TICK


def idle_cpu(pids: list[int]) -> float:
    """Percent of one core these processes used over IDLE_SECONDS."""
    before = cpu_seconds(pids)
    time.sleep(IDLE_SECONDS)
    return 100 * (cpu_seconds(pids) - before) / IDLE_SECONDS


async def timed(request: Any) -> tuple[float, httpx.Response | Exception]:
    started = time.perf_counter()
    try:
        response = await request
    except httpx.HTTPError as exc:
        return time.perf_counter() - started, exc
    return time.perf_counter() - started, response


async def together(requests: list[Any], ok: int) -> tuple[list[float], int, list[Any]]:
    """Latencies of the answers that were `ok`, how many were not, and those answers' bodies."""
    results = await asyncio.gather(*(timed(r) for r in requests))
    good = [(t, r) for t, r in results if isinstance(r, httpx.Response) and r.status_code == ok]
    return [t for t, _ in good], len(results) - len(good), [r.json() for _, r in good]


async def engine_side(engine: EngineProcess, site: TestSite, count: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    assert engine.process is not None
    engine_pid = engine.process.pid
    limits = httpx.Limits(max_connections=count + 5)
    async with engine_client(engine, limits) as client:
        workspace_id = (await client.post("/workspaces", json={"name": "density"})).json()["id"]
        time.sleep(3)  # the warm pool's browser is up: it is part of the engine's resting state
        engine_rss_before = rss_mib(engine_pid)
        aliases = [f"r{i:02d}" for i in range(count)]
        base = f"/workspaces/{workspace_id}"
        out["launch"] = await together(
            [client.post(f"{base}/runtimes", json={"alias": alias}) for alias in aliases], 200
        )
        out["step"] = await together(
            [
                client.post(
                    f"{base}/execute",
                    json={
                        "runtime": alias,
                        "steps": [{"call": "page.goto", "args": [f"{site.url}/form.html"]}],
                    },
                )
                for alias in aliases
            ],
            200,
        )
        time.sleep(3)  # loads settle, recorders take their first frames
        runtime_pids = chromium_pids_under(engine.var_dir / "runtimes")
        out["browsers_mib"] = pss_mib(runtime_pids)
        out["engine_mib"] = rss_mib(engine_pid) - engine_rss_before
        out["idle_browsers"] = idle_cpu(runtime_pids)
        out["idle_engine"] = idle_cpu([engine_pid])
        out["stop"] = await together([client.post(f"{base}/runtimes/{alias}/stop") for alias in aliases], 200)
        await client.delete(base, params={"force": "true"})
    time.sleep(1)
    # Each runtime's Chromium runs under its own scratch dir (the warm pool's waiting browser,
    # meant to stay, under another).
    out["left_behind"] = sum(
        len(chromium_pids_under(engine.var_dir / "runtimes" / runtime["id"])) for runtime in out["launch"][2]
    )
    return out


def engine_client(engine: EngineProcess, limits: httpx.Limits) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{engine.url}/v1",
        headers={"Authorization": f"Bearer {engine.keys['admin']}"},
        timeout=300,
        limits=limits,
    )


async def raw_side(site: TestSite, count: int, scratch: Path) -> dict[str, float]:
    """The same number of browsers launched by Playwright directly, on the same page."""
    async with async_playwright() as playwright:
        contexts = await asyncio.gather(
            *(
                playwright.chromium.launch_persistent_context(
                    str(scratch / f"raw-{i}"),
                    executable_path=chromium.executable(),
                    headless=True,
                    args=list(chromium.FLAGS),
                    viewport=chromium.DEFAULT_VIEWPORT,
                    timeout=300_000,
                )
                for i in range(count)
            )
        )
        for context in contexts:
            page = context.pages[0] if context.pages else await context.new_page()
            await page.goto(f"{site.url}/form.html")
        time.sleep(3)
        pids = chromium_pids_under(scratch)
        out = {"browsers_mib": pss_mib(pids), "idle_browsers": idle_cpu(pids)}
        await asyncio.gather(*(c.close() for c in contexts))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runtimes", type=int, default=20)
    count = parser.parse_args().runtimes
    print(
        f"density: {count} runtimes, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start"
    )
    site = TestSite().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-density-") as tmp:
            engine = EngineProcess(
                Path(tmp) / "engine",
                {
                    "ENGINE_MAX_ACTIVE_RUNTIMES": str(count),
                    "ENGINE_MAX_RUNTIMES_PER_KEY": "0",
                    "ENGINE_RATE_LIMIT_PER_MINUTE": "0",
                },
                allow=site.host_port,
            ).start()
            try:
                ours = asyncio.run(engine_side(engine, site, count))
            finally:
                engine.stop()
            scratch = Path(tmp) / "raw"
            scratch.mkdir()
            raw = asyncio.run(raw_side(site, count, scratch))
    finally:
        site.stop()
    for name in ("launch", "step", "stop"):
        latencies, failed, _ = ours[name]
        print(
            f"  {name:7} p50 {statistics.median(latencies) * 1000 if latencies else float('nan'):8.0f} ms"
            f"   p95 {percentile(latencies, 0.95) * 1000:8.0f} ms   failed {failed}"
        )
    per_engine = ours["browsers_mib"] / count
    per_raw = raw["browsers_mib"] / count
    print(
        f"  memory  Chromium per runtime {per_engine:6.1f} MiB PSS, raw Playwright browser {per_raw:6.1f} MiB"
        f"  ({per_engine / per_raw:.2f}x)"
    )
    print(f"          engine process growth {ours['engine_mib'] / count:6.2f} MiB per runtime (RSS)")
    print(
        f"  idle    {count} runtimes' browsers {ours['idle_browsers']:5.1f}% of a core"
        f" ({ours['idle_browsers'] / count:.2f}% each), engine {ours['idle_engine']:5.1f}%;"
        f" {count} raw browsers {raw['idle_browsers']:5.1f}% over {IDLE_SECONDS} s"
    )
    print(f"  stop    Chromium processes left behind: {ours['left_behind']}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
