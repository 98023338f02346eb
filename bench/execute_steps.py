"""A 50-step execute through the API against the same 50 calls made directly with Playwright.

Both sides drive one already-open page of the suite's form (served locally): 25 x (fill the
name input, read its value back). Prints medians of ROUNDS and the ratio (goal ≤ 1.5). The API
side includes HTTP, auth, validation, step events and the JSON answer.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.runtime_launch import raw_page, run_async  # noqa: E402
from tests.support.engine_process import EngineProcess  # noqa: E402
from tests.support.site import TestSite  # noqa: E402

ROUNDS = 7
PAIRS = 25  # 50 steps


def steps() -> list[dict]:
    out = []
    for i in range(PAIRS):
        out.append({"call": "page.fill", "args": ["#name", f"value {i}"]})
        out.append({"call": "page.inputValue", "args": ["#name"]})
    return out


def api_rounds(engine: EngineProcess, site: TestSite) -> list[float]:
    samples = []
    with engine.client() as client:
        workspace_id = client.post("/workspaces", json={"name": "execute bench"}).json()["id"]
        assert client.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "bench"}).status_code == 200
        url = f"/workspaces/{workspace_id}/execute"
        client.post(
            url,
            json={"runtime": "bench", "steps": [{"call": "page.goto", "args": [f"{site.url}/form.html"]}]},
        )
        body = {"runtime": "bench", "steps": steps()}
        for i in range(ROUNDS + 1):
            started = time.perf_counter()
            result = client.post(url, json=body).json()
            elapsed = time.perf_counter() - started
            assert result["status"] == "succeeded" and result["steps"][-1]["result"] == f"value {PAIRS - 1}"
            if i:
                samples.append(elapsed)
    return samples


async def raw_rounds(site: TestSite, scratch: Path) -> list[float]:
    samples = []
    async with raw_page(scratch / "raw") as page:
        await page.goto(f"{site.url}/form.html")
        for i in range(ROUNDS + 1):
            started = time.perf_counter()
            for n in range(PAIRS):
                await page.fill("#name", f"value {n}")
                assert await page.input_value("#name") == f"value {n}"
            elapsed = time.perf_counter() - started
            if i:
                samples.append(elapsed)
    return samples


def main() -> None:
    site = TestSite().start()
    with tempfile.TemporaryDirectory() as tmp:
        engine = EngineProcess(Path(tmp) / "engine", allow=site.host_port).start()
        try:
            raw = run_async(raw_rounds(site, Path(tmp)))
            api = api_rounds(engine, site)
            raw += run_async(raw_rounds(site, Path(tmp)))
        finally:
            engine.stop()
            site.stop()
    api_median, raw_median = statistics.median(api), statistics.median(raw)
    print(f"50-step execute, median of {len(api)} (api) and {len(raw)} (raw) rounds")
    print(f"  api  one POST /execute, 50 steps : {api_median * 1000:7.1f} ms")
    print(f"  raw  50 Playwright calls         : {raw_median * 1000:7.1f} ms")
    print(f"  ratio api/raw                    : {api_median / raw_median:7.2f}  (goal ≤ 1.5)")


if __name__ == "__main__":
    main()
