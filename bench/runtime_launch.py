"""Runtime launch through the API against launching the same Chromium directly with Playwright.

Three ways, interleaved so background load on the machine hits them alike:
  warm: POST /v1/workspaces/{id}/runtimes served from the warm pool (ENGINE_WARM_POOL_SIZE=1; the
        bench waits for the pool to be full before each launch, as a launch every few seconds
        finds it): p50 and p95, and p50 against the raw cold launch (goal ≤ 0.25)
  cold: the same POST on an engine without a pool (ENGINE_WARM_POOL_SIZE=0), until 200 (browser
        ready, default page known): median against raw (goal ≤ 1.3)
  raw:  chromium.launch_persistent_context with the same executable, flags and a fresh
        user-data dir, until its first page exists (Playwright already started, as in the engine)
Where the engine runs its browsers as an unprivileged user with Chromium's sandbox on (an engine
running as root), the raw baseline is launched the same way, and the ratio against the
unsandboxed launch is shown too. Last, what the pool costs while it waits: the memory (PSS) and
CPU of its one idle browser over 10 s.
"""

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from engine.runtimes import chromium  # noqa: E402
from tests.support.engine_process import EngineProcess, chromium_pids_under  # noqa: E402

N = 5
WARM_N = 10
IDLE_SECONDS = 10
CHROMIUM_PATH = chromium.executable()
ARGS = list(chromium.FLAGS)  # the engine's own flags: the baseline runs the same browser


def api_launches(engine: EngineProcess, uids: set[int]) -> list[float]:
    """Launch through the API; `uids` collects the uid its browsers run as (root, or the sandboxed user)."""
    samples = []
    with engine.client() as client:
        workspace_id = client.post("/workspaces", json={"name": "launch bench"}).json()["id"]
        for i in range(N + 1):
            started = time.perf_counter()
            response = client.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": f"bench-{i}"})
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text
            for pid in chromium_pids_under(engine.var_dir / "runtimes" / response.json()["id"]):
                with contextlib.suppress(OSError):
                    uids.add(Path(f"/proc/{pid}").stat().st_uid)
            client.post(f"/workspaces/{workspace_id}/runtimes/bench-{i}/stop")
            if i:  # the first launch warms the disk cache for both sides
                samples.append(elapsed)
    return samples


def pool_full(engine: EngineProcess) -> bool:
    state = httpx.get(f"{engine.url}/healthz").json()["warmPool"]
    return bool(state["ready"] >= state["size"] > 0)


def warm_launches(engine: EngineProcess) -> tuple[list[float], int]:
    """Launches served from the pool (each waits for the pool to be full first); and how many
    came out cold anyway (excluded)."""
    samples, cold = [], 0
    with engine.client() as client:
        workspace_id = client.post("/workspaces", json={"name": "warm launch bench"}).json()["id"]
        for i in range(WARM_N):
            deadline = time.monotonic() + 60
            while not pool_full(engine) and time.monotonic() < deadline:
                time.sleep(0.05)
            started = time.perf_counter()
            response = client.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": f"warm-{i}"})
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text
            events = client.get(
                f"/workspaces/{workspace_id}/runtimes/warm-{i}/events",
                params={"eventTypes": "runtime.started"},
            ).json()["events"]
            if events[0]["eventData"].get("warm"):
                samples.append(elapsed)
            else:
                cold += 1
            client.post(f"/workspaces/{workspace_id}/runtimes/warm-{i}/stop")
    return samples, cold


def memory_kib(pid: int) -> tuple[int, int]:
    """(PSS, USS) of a process in KiB: shared pages split among their users, and its own pages
    only (what it frees when it exits: Chromium's binary and libraries are shared)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, value = line.partition(":")
        fields[name] = int(value.split()[0])
    return fields.get("Pss", 0), fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def idle_pool_cost(engine: EngineProcess) -> tuple[float, float, float]:
    """(PSS MiB, USS MiB, % of one core) of the pool's waiting browser, all its processes, over IDLE_SECONDS."""
    deadline = time.monotonic() + 60
    while not pool_full(engine) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)  # past its start-up work
    pids = chromium_pids_under(engine.var_dir / "runtimes")
    before = sum(cpu_ticks(pid) for pid in pids)
    time.sleep(IDLE_SECONDS)
    ticks = sum(cpu_ticks(pid) for pid in pids if Path(f"/proc/{pid}").exists()) - before
    memory = [memory_kib(pid) for pid in pids if Path(f"/proc/{pid}").exists()]
    return (
        sum(pss for pss, _ in memory) / 1024,
        sum(uss for _, uss in memory) / 1024,
        100 * ticks / os.sysconf("SC_CLK_TCK") / IDLE_SECONDS,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def raw_launches(scratch: Path, uid: int | None = None) -> list[float]:
    """Plain Playwright launches; with `uid`, as that user with Chromium's sandbox on (as the engine
    runs its runtimes where it can), so the ratio compares the same browser on both sides."""
    samples = []
    options: dict[str, Any] = {"executable_path": CHROMIUM_PATH, "args": ARGS}
    if uid is not None:
        scratch.chmod(scratch.stat().st_mode | 0o001)  # the browser user passes through to its dirs
        wrapper = scratch / "sandboxed-chromium"
        wrapper.write_text(
            f'#!/bin/sh\nexec setpriv --reuid={uid} --regid={uid} --clear-groups --no-new-privs -- {CHROMIUM_PATH} "$@"\n'
        )
        wrapper.chmod(0o755)
        args = [arg for arg in ARGS if arg != "--no-sandbox"]
        options = {"executable_path": str(wrapper), "args": args, "chromium_sandbox": True}
    async with async_playwright() as playwright:
        for i in range(N + 1):
            user_data = Path(tempfile.mkdtemp(dir=scratch, prefix="raw-"))  # fresh each launch
            if uid is not None:
                os.chown(user_data, uid, uid)
                options["env"] = {**os.environ, "HOME": str(user_data)}
            started = time.perf_counter()
            context = await playwright.chromium.launch_persistent_context(
                str(user_data),
                headless=True,
                viewport={"width": 1280, "height": 720},
                accept_downloads=True,
                **options,
            )
            page = context.pages[0] if context.pages else await context.new_page()
            assert page is not None
            elapsed = time.perf_counter() - started
            await context.close()
            if i:
                samples.append(elapsed)
    return samples


def run_async(coroutine: Any) -> Any:
    """Run the raw side on the same event loop the engine's uvicorn uses (uvloop when installed)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cold_engine = EngineProcess(Path(tmp) / "cold", {"ENGINE_WARM_POOL_SIZE": "0"}).start()
        warm_engine = EngineProcess(Path(tmp) / "warm", {"ENGINE_WARM_POOL_SIZE": "1"}).start()
        try:
            # Interleave the sides so background load on the machine hits them alike.
            api, raw, raw_sandboxed, warm, uids, came_cold = [], [], [], [], set(), 0
            for _ in range(2):
                raw += run_async(raw_launches(Path(tmp)))
                api += api_launches(cold_engine, uids)
                if uids - {0}:  # the engine's browsers run sandboxed as another user: so does a baseline
                    raw_sandboxed += run_async(raw_launches(Path(tmp), max(uids)))
                samples, cold = warm_launches(warm_engine)
                warm += samples
                came_cold += cold
            pool_pss, pool_uss, pool_cpu = idle_pool_cost(warm_engine)
        finally:
            cold_engine.stop()
            warm_engine.stop()
    api_median, raw_median = statistics.median(api), statistics.median(raw)
    baseline = statistics.median(raw_sandboxed) if raw_sandboxed else raw_median
    print(f"runtime launch: {len(warm)} warm, {len(api)} cold, {len(raw)} raw launches")
    print(
        f"  warm POST /runtimes → 200, pool  : p50 {statistics.median(warm) * 1000:7.1f} ms"
        f"   p95 {percentile(warm, 0.95) * 1000:7.1f} ms"
        + (f"   ({came_cold} found the pool still refilling, not counted)" if came_cold else "")
    )
    print(f"  cold POST /runtimes → 200 active : {api_median * 1000:7.1f} ms  (median)")
    print(f"  raw  launch_persistent_context   : {raw_median * 1000:7.1f} ms  (root, --no-sandbox)")
    if raw_sandboxed:
        print(
            f"  raw  the same, sandboxed as uid {max(uids)}: {baseline * 1000:6.1f} ms  (as the engine runs it)"
        )
    print(f"  ratio warm p50/raw               : {statistics.median(warm) / baseline:7.2f}  (goal ≤ 0.25)")
    print(f"  ratio cold/raw                   : {api_median / baseline:7.2f}  (goal ≤ 1.3)")
    if raw_sandboxed:
        print(
            f"  ratio cold/raw unsandboxed       : {api_median / raw_median:7.2f}  (Chromium's sandbox included)"
        )
    print(
        f"  the pool's idle browser          : {pool_uss:7.1f} MiB of its own (USS; {pool_pss:.0f} MiB PSS),"
        f" {pool_cpu:.2f}% of a core over {IDLE_SECONDS} s"
    )


if __name__ == "__main__":
    main()
