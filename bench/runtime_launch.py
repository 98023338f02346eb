"""Runtime launch through the API against launching the same Chromium directly with Playwright.

Prints medians of N launches each and their ratio (goal ≤ 1.3). Where the engine runs its
browsers as an unprivileged user with Chromium's sandbox on (an engine running as root), the
baseline is launched the same way, and the ratio against the unsandboxed launch is shown too:
  api: POST /v1/workspaces/{id}/runtimes until 201 (browser ready, default page known)
  raw: chromium.launch_persistent_context with the same executable, flags and a fresh
       user-data dir, until its first page exists (Playwright already started, as in the engine)
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

from playwright.async_api import async_playwright  # noqa: E402

from engine.runtimes import chromium  # noqa: E402
from tests.support.engine_process import EngineProcess, chromium_pids_under  # noqa: E402

N = 5
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
            assert response.status_code == 201, response.text
            for pid in chromium_pids_under(engine.var_dir / "runtimes" / response.json()["id"]):
                with contextlib.suppress(OSError):
                    uids.add(Path(f"/proc/{pid}").stat().st_uid)
            client.post(f"/workspaces/{workspace_id}/runtimes/bench-{i}/stop")
            if i:  # the first launch warms the disk cache for both sides
                samples.append(elapsed)
    return samples


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
        engine = EngineProcess(Path(tmp) / "engine").start()
        try:
            # Interleave the sides so background load on the machine hits them alike.
            api, raw, raw_sandboxed, uids = [], [], [], set()
            for _ in range(2):
                raw += run_async(raw_launches(Path(tmp)))
                api += api_launches(engine, uids)
                if uids - {0}:  # the engine's browsers run sandboxed as another user: so does a baseline
                    raw_sandboxed += run_async(raw_launches(Path(tmp), max(uids)))
        finally:
            engine.stop()
    api_median, raw_median = statistics.median(api), statistics.median(raw)
    print(f"runtime launch, median of {len(api)} each")
    print(f"  api  POST /runtimes → 201 active : {api_median * 1000:7.1f} ms")
    print(f"  raw  launch_persistent_context   : {raw_median * 1000:7.1f} ms  (root, --no-sandbox)")
    if raw_sandboxed:
        sandboxed_median = statistics.median(raw_sandboxed)
        print(
            f"  raw  the same, sandboxed as uid {max(uids)}: {sandboxed_median * 1000:6.1f} ms  (as the engine runs it)"
        )
        print(f"  ratio api/raw sandboxed          : {api_median / sandboxed_median:7.2f}  (goal ≤ 1.3)")
        print(
            f"  ratio api/raw unsandboxed        : {api_median / raw_median:7.2f}  (Chromium's sandbox included)"
        )
    else:
        print(f"  ratio api/raw                    : {api_median / raw_median:7.2f}  (goal ≤ 1.3)")


if __name__ == "__main__":
    main()
