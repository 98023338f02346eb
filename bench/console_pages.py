"""Console page time against the upstream API calls it makes, with 1,000 workspaces upstream.

Prints two ratios, each against a baseline measured in this same run:
  list:     console GET /workspaces/         vs  direct GET /v1/workspaces (same page size)   goal ≤ 1.5
  overview: console GET /                    vs  its slowest single upstream call             goal ≤ 1.3
The overview ratio near 1 shows its upstream calls run concurrently (sequential calls would sum).
"""

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.console_process import ConsoleProcess  # noqa: E402
from tests.support.engine_process import EngineProcess  # noqa: E402

WORKSPACES = 1000
ROUNDS = 30
PAGE_SIZE = 25  # dashboard/front/views/workspaces.py PAGE_SIZE
# What the overview asks the API for (dashboard/front/views/overview.py), each one call.
OVERVIEW_CALLS = [
    "/auth/whoami",
    "/workspaces?limit=500",
    "/operations?limit=10",
    "/browser-profiles?limit=500",
    "/browser-extensions?limit=500",
    "/vault?limit=500",
    "/ai-credentials",
]


def median_seconds(fn, rounds: int = ROUNDS) -> float:
    fn()  # warm up connections and caches
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def seed(engine: EngineProcess) -> None:
    headers = {"Authorization": f"Bearer {engine.keys['admin']}"}
    async with httpx.AsyncClient(base_url=f"{engine.url}/v1", headers=headers, timeout=60) as client:
        semaphore = asyncio.Semaphore(20)

        async def one(i: int) -> None:
            async with semaphore:
                response = await client.post("/workspaces", json={"name": f"bench workspace {i:04d}"})
                response.raise_for_status()

        await asyncio.gather(*(one(i) for i in range(WORKSPACES)))


def signed_in(console: ConsoleProcess) -> httpx.Client:
    client = httpx.Client(base_url=console.url, timeout=60, follow_redirects=False)
    client.get("/login/")
    response = client.post(
        "/login/",
        data={
            "username": "bench",
            "password": "bench correct horse 1",
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
        headers={"Referer": f"{console.url}/login/"},
    )
    assert response.status_code == 302, response.text[:500]
    return client


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = EngineProcess(Path(tmp) / "engine").start()
        console = ConsoleProcess(Path(tmp) / "console", f"{engine.url}/v1", engine.keys["admin"])
        try:
            asyncio.run(seed(engine))
            console.start()
            console.create_user("bench", "viewer", "bench correct horse 1")
            api = engine.client("admin")
            browser = signed_in(console)

            api_list = median_seconds(
                lambda: api.get("/workspaces", params={"limit": PAGE_SIZE}).raise_for_status()
            )
            page_list = median_seconds(lambda: browser.get("/workspaces/").raise_for_status())
            upstream = {
                call: median_seconds(lambda c=call: api.get(c).raise_for_status()) for call in OVERVIEW_CALLS
            }
            slowest_call, slowest = max(upstream.items(), key=lambda item: item[1])
            overview = median_seconds(lambda: browser.get("/").raise_for_status())

            print(f"{WORKSPACES} workspaces upstream, median of {ROUNDS} rounds each")
            print(
                f"list page      {page_list * 1000:7.1f} ms   direct API list {api_list * 1000:7.1f} ms"
                f"   ratio {page_list / api_list:.2f}  (goal ≤ 1.5)"
            )
            print(
                f"overview page  {overview * 1000:7.1f} ms   slowest upstream {slowest * 1000:7.1f} ms ({slowest_call})"
                f"   ratio {overview / slowest:.2f}  (goal ≤ 1.3)"
            )
            print(
                f"  sum of upstream calls {sum(upstream.values()) * 1000:.1f} ms (what sequential calls would cost)"
            )
        finally:
            console.stop()
            engine.stop()


if __name__ == "__main__":
    main()
