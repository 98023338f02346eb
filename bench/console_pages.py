"""Console page time against the upstream API calls it makes, with 1,000 workspaces upstream.

Prints two ratios, each against a baseline measured in this same run:
  list:     console GET /workspaces/         vs  direct GET /v1/workspaces (same page size)   goal ≤ 1.5
  overview: console GET /                    vs  its slowest single upstream call             goal ≤ 1.3
The overview is measured cold (no updates relay running in the console: every widget asks the
API) and warm (a browser's updates socket open, as every console page has: the relay keeps the
widgets' answers until an update could change them, so the page makes no upstream call).

And where a page's time goes, two ways:
- from outside, comparable across versions: a static file (the ASGI server and nothing of
  Django), a signed-in page with no upstream call (a 404: Django's middleware, the session, the
  user and their role, the base template), then the list page (plus its API call and its table);
- from inside (the console's `Server-Timing`, CONSOLE_SERVER_TIMING=true): `app` (all of Django),
  `identity` (session, user, role), `upstream` (wall time with an API call in flight), `render`.

    .venv/bin/python bench/console_pages.py                # this checkout
    .venv/bin/python bench/console_pages.py --before main  # and main's console, in the same run

With `--before REF`, REF is exported (`git archive`) and its console runs beside this one against
the same engine; every measurement alternates between the two consoles, so both see the same
machine load. It runs against the engine on loopback and again behind a proxy adding 40 ms to
every request (what a console far from the hosted API sees). On loopback the engine answers a
list in a few ms, so the console's own fixed cost dominates the list ratio; with real latency the
ratios show what the console adds and whether its calls overlap.
"""

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.trees import exported  # noqa: E402
from tests.support.console_process import ConsoleProcess  # noqa: E402
from tests.support.engine_process import EngineProcess  # noqa: E402

WORKSPACES = 1000
ROUNDS = 40
PAGE_SIZE = 25  # dashboard/front/views/workspaces.py PAGE_SIZE
# What a cold overview asks the API for (dashboard/front/views/overview.py), each one call: the
# counts in one, live runtimes in one (no runtime runs here, so no workspace is asked to name one).
OVERVIEW_CALLS = [
    "/auth/whoami",
    "/counts",
    "/runtimes?status=active&limit=500",
    "/operations?limit=10",
]
PASSWORD = "bench correct horse 1"
LAYERS = ("app", "identity", "upstream", "render")


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@dataclass
class Console:
    """One console under measurement: its process, a signed-in browser, and what it measured."""

    label: str
    process: ConsoleProcess
    browser: httpx.Client | None = None
    socket: ClientConnection | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)
    timings: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def get(self, metric: str, path: str) -> None:
        assert self.browser is not None
        started = time.perf_counter()
        response = self.browser.get(path)
        elapsed = time.perf_counter() - started
        assert response.status_code in (200, 404), (path, response.status_code)
        self.samples.setdefault(metric, []).append(elapsed)
        for part in filter(None, (p.strip() for p in response.headers.get("Server-Timing", "").split(","))):
            name, _, duration = part.partition(";dur=")
            self.timings.setdefault(metric, {}).setdefault(name, []).append(float(duration) / 1000)

    def open_updates_socket(self) -> None:
        """What every console page does in a browser: starts this process's updates relay."""
        assert self.browser is not None
        cookie = "; ".join(f"{name}={value}" for name, value in self.browser.cookies.items())
        self.socket = connect(
            f"ws://127.0.0.1:{self.process.port}/ws/updates/",
            origin=Origin(self.process.url),
            additional_headers={"Cookie": cookie},
            open_timeout=20,
        ).__enter__()

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
        if self.browser is not None:
            self.browser.close()
        self.process.stop()


def start_console(tree: Path, label: str, api_url: str, key: str, var_dir: Path) -> Console:
    process = ConsoleProcess(var_dir, api_url, key, extra_env={"CONSOLE_SERVER_TIMING": "true"})
    process.root = tree
    process.start()
    process.create_user("bench", "viewer", PASSWORD)
    console = Console(label, process)
    console.browser = process.sign_in("bench", PASSWORD)
    console.browser.timeout = httpx.Timeout(60)
    return console


def alternate(consoles: list[Console], metric: str, path: str, rounds: int = ROUNDS) -> None:
    """Each console in turn, round after round: load on the machine falls on all of them alike."""
    for console in consoles:
        console.get(metric, path)  # warm up connections and caches
        console.samples[metric].clear()
        console.timings.pop(metric, None)
    for _ in range(rounds):
        for console in consoles:
            console.get(metric, path)


def direct(api: httpx.Client, path: str, rounds: int = ROUNDS) -> float:
    api.get(path).raise_for_status()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        api.get(path).raise_for_status()
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


def measure(
    engine: EngineProcess, api_url: str, trees: list[tuple[str, Path]], tmp: Path, label: str
) -> None:
    consoles: list[Console] = []
    try:
        for name, tree in trees:
            var_dir = tmp / f"console-{name}-{label.split()[0]}"
            consoles.append(start_console(tree, name, api_url, engine.keys["admin"], var_dir))
        api = httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {engine.keys['admin']}"}, timeout=60
        )
        api_list = direct(api, f"/workspaces?limit={PAGE_SIZE}")
        upstream = {call: direct(api, call) for call in OVERVIEW_CALLS}
        slowest_call, slowest = max(upstream.items(), key=lambda item: item[1])

        alternate(consoles, "static", "/static/css/console.css")
        alternate(consoles, "signed-in 404", "/no-such-page/")
        alternate(consoles, "list", "/workspaces/")
        alternate(consoles, "overview cold", "/")
        for console in consoles:
            console.open_updates_socket()
        time.sleep(1.0)  # the relays connect upstream
        alternate(consoles, "overview warm", "/")

        print(f"\n{label}: {WORKSPACES} workspaces upstream, median of {ROUNDS} rounds each")
        print(
            f"  direct API: list {api_list * 1000:.1f} ms; slowest overview call {slowest * 1000:.1f} ms ({slowest_call})"
        )
        for console in consoles:
            page = {metric: median_ms(samples) for metric, samples in console.samples.items()}
            print(f"\n  [{console.label}]")
            print(
                f"    list page      {page['list']:7.1f} ms   ratio to the direct list {page['list'] / (api_list * 1000):.2f}"
                "  (goal ≤ 1.5)"
            )
            for metric in ("overview cold", "overview warm"):
                print(
                    f"    {metric:14} {page[metric]:7.1f} ms   ratio to the slowest call "
                    f"{page[metric] / (slowest * 1000):.2f}  (goal ≤ 1.3)"
                )
            print("    where the list page's time goes, from outside:")
            print(f"      ASGI server (a static file)                    {page['static']:6.1f} ms")
            print(
                f"      + Django, session, user, base page (signed-in 404) {page['signed-in 404'] - page['static']:+6.1f} ms"
                f"  = {page['signed-in 404']:.1f}"
            )
            print(
                f"      + the API call and the 25-row table            {page['list'] - page['signed-in 404']:+6.1f} ms"
                f"  = {page['list']:.1f}"
            )
            for metric in ("list", "overview cold", "overview warm"):
                inside = console.timings.get(metric)
                if not inside:
                    print(f"    {metric}: no Server-Timing (a console before it)")
                    continue
                parts = "  ".join(f"{layer} {median_ms(inside.get(layer, [0.0])):5.2f}" for layer in LAYERS)
                print(f"    inside, {metric:14} ms: {parts}")
        if len(consoles) == 2:
            before, after = ({m: median_ms(s) for m, s in c.samples.items()} for c in consoles)
            print("\n  after / before: " + ", ".join(f"{m} {after[m] / before[m]:.2f}" for m in before))
    finally:
        for console in consoles:
            console.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--before", metavar="REF", help="also measure REF's console (e.g. main), side by side"
    )
    options = parser.parse_args()
    with contextlib.ExitStack() as stack:
        trees: list[tuple[str, Path]] = []
        if options.before:
            trees.append((f"before: {options.before}", stack.enter_context(exported(options.before))))
        trees.append(("after: this checkout" if options.before else "this checkout", ROOT))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        engine = EngineProcess(tmp / "engine").start()
        stack.callback(engine.stop)
        asyncio.run(seed(engine))
        measure(engine, f"{engine.url}/v1", trees, tmp, "loopback engine")
        proxy = LatencyProxy(engine.port)
        measure(engine, f"http://127.0.0.1:{proxy.port}/v1", trees, tmp, "engine behind 40 ms latency")


if __name__ == "__main__":
    main()
