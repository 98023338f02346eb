"""Console page time against the upstream API calls it makes, with 1,000 workspaces upstream.

Prints two ratios, each against a baseline measured in this same run:
  list:     console GET /workspaces/         vs  direct GET /v1/workspaces (same page size)   goal ≤ 1.5
  overview: console GET /                    vs  its slowest single upstream call             goal ≤ 1.3
The overview ratio near 1 shows its upstream calls run concurrently (sequential calls would sum).

It runs twice: against the engine on loopback, and against the same engine behind a proxy that
adds 40 ms to every request (what a console far from the hosted API sees). On loopback the
engine answers a list in a few ms, so the console's own fixed cost (Django's middleware, the
session, the template) dominates the ratio, and the single-process engine does the overview's
concurrent calls one after another on its CPU; with real latency the ratios show what the
console adds and whether its calls overlap.
"""

import asyncio
import statistics
import sys
import tempfile
import threading
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


LATENCY_SECONDS = 0.040


class LatencyProxy:
    """A TCP proxy on loopback that holds each request chunk for LATENCY_SECONDS before passing it on."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
            while chunk := await reader.read(65536):
                if delay:
                    await asyncio.sleep(delay)
                writer.write(chunk)
                await writer.drain()
            writer.close()

        await asyncio.gather(
            pump(client_reader, upstream_writer, LATENCY_SECONDS),
            pump(upstream_reader, client_writer, 0),
            return_exceptions=True,
        )


def measure(engine: EngineProcess, api_url: str, tmp: Path, label: str) -> None:
    console = ConsoleProcess(tmp / f"console-{label.split()[0]}", api_url, engine.keys["admin"])
    try:
        console.start()
        console.create_user("bench", "viewer", "bench correct horse 1")
        headers = {"Authorization": f"Bearer {engine.keys['admin']}"}
        api = httpx.Client(base_url=api_url, headers=headers, timeout=60)
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

        print(f"\n{label}: {WORKSPACES} workspaces upstream, median of {ROUNDS} rounds each")
        print(
            f"  list page      {page_list * 1000:7.1f} ms   direct API list  {api_list * 1000:7.1f} ms"
            f"   ratio {page_list / api_list:.2f}  (goal ≤ 1.5)"
        )
        print(
            f"  overview page  {overview * 1000:7.1f} ms   slowest upstream {slowest * 1000:7.1f} ms ({slowest_call})"
            f"   ratio {overview / slowest:.2f}  (goal ≤ 1.3)"
        )
        total = sum(upstream.values())
        print(
            f"  overview vs the sum of its {len(upstream)} calls made one by one ({total * 1000:.1f} ms):"
            f" ratio {overview / total:.2f}  (below 1 only when the calls overlap)"
        )
    finally:
        console.stop()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = EngineProcess(Path(tmp) / "engine").start()
        try:
            asyncio.run(seed(engine))
            measure(engine, f"{engine.url}/v1", Path(tmp), "loopback engine")
            proxy = LatencyProxy(engine.port)
            measure(engine, f"http://127.0.0.1:{proxy.port}/v1", Path(tmp), "engine behind 40 ms latency")
        finally:
            engine.stop()


if __name__ == "__main__":
    main()
