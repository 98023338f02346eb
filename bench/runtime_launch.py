"""Runtime launch through the API against launching the same Chromium directly with Playwright.

Prints medians of N launches each and their ratio (goal ≤ 1.3):
  api: POST /v1/workspaces/{id}/runtimes until 201 (browser ready, default page known)
  raw: chromium.launch_persistent_context with the same executable, flags and a fresh
       user-data dir, until its first page exists (Playwright already started, as in the engine)
"""

import asyncio
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
from tests.support.engine_process import EngineProcess  # noqa: E402

N = 5
CHROMIUM_PATH = chromium.executable()
ARGS = list(chromium.FLAGS)  # the engine's own flags: the baseline runs the same browser


def api_launches(engine: EngineProcess) -> list[float]:
    samples = []
    with engine.client() as client:
        workspace_id = client.post("/workspaces", json={"name": "launch bench"}).json()["id"]
        for i in range(N + 1):
            started = time.perf_counter()
            response = client.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": f"bench-{i}"})
            elapsed = time.perf_counter() - started
            assert response.status_code == 201, response.text
            client.post(f"/workspaces/{workspace_id}/runtimes/bench-{i}/stop")
            if i:  # the first launch warms the disk cache for both sides
                samples.append(elapsed)
    return samples


async def raw_launches(scratch: Path) -> list[float]:
    samples = []
    async with async_playwright() as playwright:
        for i in range(N + 1):
            started = time.perf_counter()
            context = await playwright.chromium.launch_persistent_context(
                str(scratch / f"raw-{i}"),
                executable_path=CHROMIUM_PATH,
                headless=True,
                args=ARGS,
                viewport={"width": 1280, "height": 720},
                accept_downloads=True,
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
            # Interleave the two sides so background load on the machine hits both alike.
            api, raw = [], []
            for _ in range(2):
                raw += run_async(raw_launches(Path(tmp)))
                api += api_launches(engine)
        finally:
            engine.stop()
    api_median, raw_median = statistics.median(api), statistics.median(raw)
    print(f"runtime launch, median of {len(api)} each")
    print(f"  api  POST /runtimes → 201 active : {api_median * 1000:7.1f} ms")
    print(f"  raw  launch_persistent_context   : {raw_median * 1000:7.1f} ms")
    print(f"  ratio api/raw                    : {api_median / raw_median:7.2f}  (goal ≤ 1.3)")


if __name__ == "__main__":
    main()
