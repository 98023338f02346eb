"""Runtime launch through the API against launching the same Chromium directly with Playwright.

Three ways, interleaved so background load on the machine hits them alike:
  warm: POST /v1/workspaces/{id}/runtimes served from the warm pool (ENGINE_WARM_POOL_SIZE=1; the
        bench waits for the pool to be full before each launch, as a launch every few seconds
        finds it): p50 and p95, and p50 against the raw cold launch (goal ≤ 0.25)
  cold: the same POST on an engine without a pool (ENGINE_WARM_POOL_SIZE=0), until 200 (browser
        ready, default page known): median against raw (goal ≤ 1.3)
  raw:  chromium.launch_persistent_context with the same executable, flags and a fresh
        user-data dir, until its first page exists (Playwright already started, as in the engine)
Where the engine runs its browsers isolated (as root: a uid of their own with Chromium's sandbox
on, in namespaces of their own), the raw baseline is launched sandboxed as an unprivileged uid,
and once more through the engine's own launcher, which shows what the namespaces cost per launch;
and once more the way the engine starts browsers since it holds their CDP pipe (it spawns Chromium
itself through that launcher, then Playwright connects over its multiplexer): like with like for
the browser start, so the last ratio is what the API and engine add around it;
the ratio against the unsandboxed launch is shown too. Last, what the pool costs while it waits: the memory (PSS) and
CPU of its one idle browser over 10 s.
"""

import asyncio
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.async_api import Page, async_playwright  # noqa: E402

from engine.cdp import browser as cdp_browser  # noqa: E402
from engine.cdp.listener import listener as cdp_listener  # noqa: E402
from engine.egress import launcher, netns  # noqa: E402
from engine.runtimes import chromium  # noqa: E402
from tests.support.engine_process import EngineProcess, chromium_pids_under  # noqa: E402

N = 5
WARM_N = 10
IDLE_SECONDS = 10
CHROMIUM_PATH = chromium.executable()
ARGS = list(chromium.FLAGS)  # the engine's own flags: the baseline runs the same browser


@contextlib.asynccontextmanager
async def raw_page(profile_dir: Path) -> AsyncIterator[Page]:
    """The baseline's browser: the engine's Chromium and flags, driven by Playwright without the
    engine; its first page, closed after."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile_dir), executable_path=CHROMIUM_PATH, headless=True, args=ARGS
        )
        yield context.pages[0]
        await context.close()


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


async def raw_launches(scratch: Path, way: str = "root") -> list[float]:
    """Plain Playwright launches of the same Chromium, `way`:
    root:      as this process's user (root here), --no-sandbox;
    sandboxed: as an unprivileged uid with Chromium's sandbox on (setpriv), the baseline the
               engine's isolated launches are measured against;
    isolated:  the same, started by the engine's own launcher in a network namespace and a view
               of the files of its own (engine/egress/launcher.py): sandboxed + the namespaces."""
    samples = []
    options: dict[str, Any] = {"executable_path": CHROMIUM_PATH, "args": ARGS}
    lease = launcher.Uids(61287, 1000).lease() if way != "root" else None
    jailed = launcher.isolating(CHROMIUM_PATH, scratch / "launcher") if way == "isolated" else None
    if lease is not None:
        scratch.chmod(scratch.stat().st_mode | 0o001)  # the sandboxed side's user passes through
        wrapper = scratch / "sandboxed-chromium"
        wrapper.write_text(
            f"#!/bin/sh\nexec setpriv --reuid={lease.uid} --regid={lease.uid} --clear-groups --no-new-privs -- "
            f'{CHROMIUM_PATH} "$@"\n'
        )
        wrapper.chmod(0o755)
        args = [arg for arg in ARGS if arg != "--no-sandbox"]
        options = {"executable_path": jailed.executable if jailed else str(wrapper), "args": args}
        options["chromium_sandbox"] = True
    async with async_playwright() as playwright:
        for i in range(N + 1):
            user_data = Path(tempfile.mkdtemp(dir=scratch, prefix="raw-"))  # fresh each launch
            namespace = None
            started = time.perf_counter()
            if lease is not None:
                launcher.own(lease.uid, user_data)
                options["env"] = {"PATH": os.environ["PATH"], "HOME": str(user_data)}
            if jailed is not None and lease is not None:
                namespace, listener = await asyncio.to_thread(netns.create)
                listener.close()
                options["env"] |= jailed.environment(namespace, lease.uid, user_data, [user_data], [])
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
            if namespace is not None:
                namespace.close()
            if i:
                samples.append(elapsed)
    if lease is not None:
        lease.release()
    return samples


async def engine_way_launches(scratch: Path) -> list[float]:
    """Launches the way the engine starts a runtime's browser since it holds the CDP pipe
    (engine/cdp/browser.py: Chromium spawned through the isolating launcher with the pipe on
    fds 3/4, the multiplexer, Playwright's connect_over_cdp), without the API, database or proxy:
    the same browser start as the `isolated` side, by the engine's path instead of Playwright's."""
    samples = []
    lease = launcher.Uids(61287, 1000).lease()
    jailed = launcher.isolating(CHROMIUM_PATH, scratch / "launcher-engine")
    scratch.chmod(scratch.stat().st_mode | 0o001)
    flags = [arg for arg in ARGS if arg != "--no-sandbox"]
    async with async_playwright() as playwright:
        for i in range(N + 1):
            home = Path(tempfile.mkdtemp(dir=scratch, prefix="engine-way-"))
            user_data, downloads = home / "user-data", home / "downloads"
            started = time.perf_counter()
            launcher.own(lease.uid, home, user_data, downloads)
            namespace, listener = await asyncio.to_thread(netns.create)
            proxy_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
            spec = cdp_browser.BrowserSpec(
                executable=jailed.executable,
                flags=flags,
                user_data=user_data,
                downloads=downloads,
                proxy_url=proxy_url,
                viewport={"width": 1280, "height": 720},
                env={"PATH": os.environ["PATH"]} | jailed.environment(namespace, lease.uid, home, [home], []),
            )
            running = await cdp_browser.start(playwright, spec)
            page = running.context.pages[0] if running.context.pages else await running.context.new_page()
            assert page is not None
            elapsed = time.perf_counter() - started
            await running.close("bench", 5)
            listener.close()
            namespace.close()
            if i:
                samples.append(elapsed)
    await cdp_listener.close()
    lease.release()
    return samples


def launcher_cost(scratch: Path, rounds: int = 20) -> tuple[float, float]:
    """(wall, CPU) seconds the isolation adds to a launch, measured without Chromium: a network
    namespace made as the engine makes it, then the engine's launcher building the view and
    executing /usr/bin/true, against executing /usr/bin/true directly (medians of `rounds`)."""
    jailed = replace(launcher.isolating(CHROMIUM_PATH, scratch / "launcher-cost"), chromium="/usr/bin/true")
    lease = launcher.Uids(61287, 1000).lease()
    home = scratch / "cost-home"
    launcher.own(lease.uid, home)
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(rounds):
        sides = []
        for isolated in (True, False):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            if isolated:
                namespace, listener = netns.create()
                env = {"PATH": os.environ["PATH"]} | jailed.environment(
                    namespace, lease.uid, home, [home], []
                )
                subprocess.run([jailed.executable], env=env, check=True)
                listener.close()
                namespace.close()
            else:
                subprocess.run(["/usr/bin/true"], check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            sides.append((time.perf_counter() - started, cpu))
        walls.append(sides[0][0] - sides[1][0])
        cpus.append(sides[0][1] - sides[1][1])
    lease.release()
    return statistics.median(walls), statistics.median(cpus)


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
            api: list[float] = []
            raw: list[float] = []
            raw_sandboxed: list[float] = []
            raw_isolated: list[float] = []
            engine_way: list[float] = []
            warm: list[float] = []
            uids: set[int] = set()
            came_cold = 0
            for _ in range(2):
                raw += run_async(raw_launches(Path(tmp)))
                api += api_launches(cold_engine, uids)
                if uids - {0}:  # the engine's browsers run sandboxed as other users: so does a baseline
                    raw_sandboxed += run_async(raw_launches(Path(tmp), "sandboxed"))
                    raw_isolated += run_async(raw_launches(Path(tmp), "isolated"))
                    engine_way += run_async(engine_way_launches(Path(tmp)))
                samples, cold = warm_launches(warm_engine)
                warm += samples
                came_cold += cold
            pool_pss, pool_uss, pool_cpu = idle_pool_cost(warm_engine)
            cost = launcher_cost(Path(tmp)) if uids - {0} else None
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
        isolated = statistics.median(raw_isolated)
        print(f"  raw  the same, sandboxed as a uid : {baseline * 1000:7.1f} ms  (the baseline)")
        print(
            f"  raw  the same, isolated (launcher): {isolated * 1000:7.1f} ms  (+ network ns, view of files)"
        )
        print(
            f"  raw  the same, the engine's way   : {statistics.median(engine_way) * 1000:7.1f} ms"
            "  (isolated, its own CDP pipe + multiplexer + connect_over_cdp)"
        )
        print(
            f"  the namespaces cost per launch    : {(isolated - baseline) * 1000:7.1f} ms  (the difference)"
        )
    if cost is not None:
        print(
            f"  the launcher alone (ns, view, uid): {cost[0] * 1000:7.1f} ms wall, {cost[1] * 1000:.1f} ms CPU"
            "  (per launch, measured on /usr/bin/true)"
        )
    print(f"  ratio warm p50/raw               : {statistics.median(warm) / baseline:7.2f}  (goal ≤ 0.25)")
    print(f"  ratio cold/raw                   : {api_median / baseline:7.2f}  (goal ≤ 1.3)")
    if engine_way:
        print(
            f"  ratio cold/raw the engine's way  : {api_median / statistics.median(engine_way):7.2f}"
            "  (the API, database, proxy and pool around the same browser start)"
        )
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
