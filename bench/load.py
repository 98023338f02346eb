"""Throughput and latency under concurrency: requests/s, p50 and p99 at 1, 5, 50 and 200 clients.

Starts what it needs (an engine with 300 workspaces in a temporary var dir) and drives each route
with N concurrent clients for a few seconds each, every client on its own keep-alive connection
of one pooled httpx client, as a busy script or a CI fleet would. Prints, per route and
concurrency: requests/s, p50 and p99 of the answered requests, failures (anything but the
route's success, the engine's fast 503 `server.busy` excepted) and those 503s with their own p99.
A client that gets `server.busy` waits its Retry-After before the next request, as the console's
client does.

`cpu ms/req` is the server's own CPU time per answered request (from /proc): unlike requests/s
it does not depend on what else the machine runs, so it shows where the time goes even on a
busy machine; a collapse shows as CPU per request growing with the number of clients.

Goals (issue 13): for every route, throughput at 200 clients ≥ 0.8x its best, p99 ≤ 2 s, no
failures below the admission limit (ENGINE_MAX_REQUESTS_IN_FLIGHT); past it (`--overload`),
only fast 503s.

    .venv/bin/python bench/load.py                      # this checkout
    .venv/bin/python bench/load.py --before main        # and the same bench against `main`, same run

`--before REF` exports REF (`git archive`) to a temporary dir and runs its engine with this
checkout's virtualenv, first, then this checkout's, and prints both tables and the after/before
ratios. Routes are rows of `ROUTES`; a service (the engine, the console) is a `Service` that
starts, seeds and stops itself.

The console rows (its workspaces list page and overview, each a page a signed-in user loads)
run against the same seeded engine twice: one console process, then `--console-workers N`
processes behind one port sharing a redis-server and the database, as `manage.py up
--console-workers N` runs them (both runs on Redis, so the number of processes is the one
difference). Clients hold SESSIONS signed-in sessions (a real sign-in each; at 200 clients
several share one, as one user's tabs do). A console row's `cpu ms/req` counts the console's
processes, and `upstream` the engine's for the same page: a page costs both, on the same cores. The console's own limit for these
goals is 50 users (issue 13); the 200 row shows what lies past it. Every client loads the same
page, the best case for the console client's shared reads (identical reads in flight make one
upstream call, dashboard/bctrl/client.py): users on different pages or searches share less.

    .venv/bin/python bench/load.py --services console --console-workers 2
"""

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.trees import exported  # noqa: E402
from tests.support.console_process import ConsoleProcess  # noqa: E402
from tests.support.engine_process import EngineProcess  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

LEVELS = (1, 5, 50, 200)
WARM_UP_SECONDS = 60  # at most, waiting for every client's first answer
GOAL_CLIENTS = 200  # the goals are judged here; an --overload level shows the shedding past the limit
WORKSPACES = 300
PUT_BYTES = 10 * 1024
SESSIONS = 50  # signed-in console sessions the clients share (each a real sign-in)
BENCH_PASSWORD = "load bench correct horse 1"


@dataclass
class Call:
    """One request a client sends: method, URL (absolute), headers, body."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    json: Any = None


class Service:
    """Something the bench starts and drives (the engine; the console can be another)."""

    name = "service"
    pids: list[int] = []  # its server processes, whose CPU time the table shows per request
    upstream_pids: list[int] = []  # the servers it calls (the console's engine), shown apart

    def start(self) -> None: ...

    def stop(self) -> None: ...


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (all their threads), from /proc."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


class Engine(Service):
    name = "engine"

    def __init__(self, tree: Path, var_dir: Path) -> None:
        # The per-key rate limit is a policy for scripts, not a capacity limit: off while measuring.
        self.process = EngineProcess(var_dir, extra_env={"ENGINE_RATE_LIMIT_PER_MINUTE": "0"})
        self.process.root = tree  # its manage.py runs the engine (and makes its keys)

    def start(self) -> None:
        self.process.start()
        assert self.process.process is not None
        self.pids = [self.process.process.pid]
        with self.process.client("admin") as client:
            for i in range(WORKSPACES):
                assert client.post("/workspaces", json={"name": f"seed-{i:03d}"}).status_code == 201

    def stop(self) -> None:
        self.process.stop()

    @property
    def api(self) -> str:
        return f"{self.process.url}/v1"

    def auth(self, scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.process.keys[scope]}"}


class Console(Service):
    """The console, `workers` processes behind one port, in front of a running (seeded) engine."""

    name = "console"

    def __init__(self, tree: Path, var_dir: Path, engine: Engine, redis_url: str, workers: int) -> None:
        self.engine = engine
        self.workers = workers
        self.process = ConsoleProcess(
            var_dir,
            engine.api,
            engine.process.keys["admin"],
            # Signing in SESSIONS times from one address is not an attack: the limit stays out of the way.
            {"REDIS_URL": redis_url, "LOGIN_ADDRESS_RATE_LIMIT": "100000"},
            workers=workers,
        )
        self.process.root = tree
        self.cookies: list[str] = []

    def start(self) -> None:
        self.process.start()
        self.process.create_user("loadbench", "viewer", BENCH_PASSWORD)
        self.pids, self.upstream_pids = self.process.pids, self.engine.pids
        self.cookies = asyncio.run(self._sign_in(SESSIONS))

    async def _sign_in(self, count: int) -> list[str]:
        """`count` sessions, each from a real sign-in (the password hash is the slow part: a few at once)."""
        semaphore = asyncio.Semaphore(4)

        async def one() -> str:
            async with semaphore, httpx.AsyncClient(base_url=self.process.url, timeout=60) as client:
                await client.get("/login/")
                response = await client.post(
                    "/login/",
                    data={
                        "username": "loadbench",
                        "password": BENCH_PASSWORD,
                        "csrfmiddlewaretoken": client.cookies["csrftoken"],
                    },
                )
                assert response.status_code == 302, response.text[:300]
                return "; ".join(f"{name}={value}" for name, value in client.cookies.items())

        return list(await asyncio.gather(*(one() for _ in range(count))))

    def stop(self) -> None:
        self.process.stop()

    def page(self, path: str, client: int) -> Call:
        return Call("GET", f"{self.process.url}{path}", {"Cookie": self.cookies[client % len(self.cookies)]})


@dataclass
class Route:
    """A row of the table: `calls(service)` makes each client's n-th request."""

    name: str
    service: str
    make: Callable[[Any, int, int], Call]  # (service, client, n) -> Call
    ok: tuple[int, ...] = (200,)
    goal_clients: int = GOAL_CLIENTS  # the level its goals are judged at


_PAYLOAD = os.urandom(PUT_BYTES)

ROUTES = [
    Route("GET auth/whoami", "engine", lambda e, c, n: Call("GET", f"{e.api}/auth/whoami", e.auth())),
    Route(
        "GET workspaces (50 rows)",
        "engine",
        lambda e, c, n: Call("GET", f"{e.api}/workspaces?limit=50", e.auth()),
    ),
    Route(
        "POST workspaces",
        "engine",
        lambda e, c, n: Call("POST", f"{e.api}/workspaces", e.auth(), json={"name": f"load-{c}-{n}"}),
        ok=(201,),
    ),
    Route(
        "PUT storage object (10 KB)",
        "engine",
        lambda e, c, n: Call(
            "PUT",
            f"{e.api}/storage/load/objects/c{c}/{n}.bin",
            {**e.auth(), "Content-Type": "application/octet-stream"},
            content=_PAYLOAD,
        ),
        ok=(200, 201),
    ),
    # 25 rows of 300, as a user opens it; a redirect to the sign-in page would count as failed
    Route("console list page", "console", lambda s, c, n: s.page("/workspaces/", c), goal_clients=50),
    Route("console overview", "console", lambda s, c, n: s.page("/", c), goal_clients=50),
]


@dataclass
class Cell:
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    shed: list[float] = field(default_factory=list)
    failures: int = 0
    failure_kinds: dict[str, int] = field(default_factory=dict)
    cpu: float = 0.0  # the service's CPU seconds while measuring
    cpu_upstream: float = 0.0  # and those of the servers it calls

    @property
    def cpu_ms_per_request(self) -> float:
        return self._per_request(self.cpu)

    @property
    def upstream_cpu_ms_per_request(self) -> float:
        return self._per_request(self.cpu_upstream)

    def _per_request(self, cpu: float) -> float:
        answered = len(self.latencies) + len(self.shed)
        return cpu * 1000 / answered if answered else float("nan")

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Connection:
    """One keep-alive HTTP/1.1 connection of one client, as lean as a load generator must be.

    httpx's pool costs the bench process more CPU per request than the engine spends answering a
    whoami once there are a hundred connections (measured: the engine sat idle at 200 clients
    while the bench saturated its core), so the clients speak HTTP/1.1 over asyncio streams: a
    request, a status line, headers, a Content-Length body. A connection the server closes is
    opened again (and a request it closed under the client counts as a failure).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, call: Call) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        url = httpx.URL(call.url)
        body = call.content if call.content is not None else b""
        headers = dict(call.headers)
        if call.json is not None:
            body = json.dumps(call.json).encode()
            headers["Content-Type"] = "application/json"
        if call.method in ("POST", "PUT", "PATCH") or body:
            headers["Content-Length"] = str(len(body))
        head = f"{call.method} {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.writer.write(head.encode() + b"\r\n" + body)
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            answer = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    answer[name.strip().lower()] = value.strip()
            if answer.get("transfer-encoding", "").lower() == "chunked":
                content = await self._chunks()
            else:
                content = await self.reader.readexactly(int(answer.get("content-length", "0")))
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            raise
        if answer.get("connection", "").lower() == "close":
            self.close()
        return status, answer, content

    async def _chunks(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            data = await self.reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                return b"".join(parts)
            parts.append(data[:-2])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def drive(route: Route, service: Any, clients: int, seconds: float) -> Cell:
    cell = Cell(clients, seconds)
    measuring = False
    deadline = 0.0
    # Measuring starts once every client has had an answer: a route slower than the warm-up
    # (the overview at 50 users takes seconds) would otherwise be measured on its first wave
    # alone, all of it finishing together, and look like a collapse it is not.
    warm = asyncio.Event()
    unanswered = set(range(clients))

    def counted() -> bool:
        return measuring and time.perf_counter() < deadline

    async def client(c: int) -> None:
        n = 0
        probe = httpx.URL(route.make(service, c, 0).url)
        connection = Connection(probe.host, probe.port or 80)
        try:
            while True:
                call = route.make(service, c, n)
                n += 1
                started = time.perf_counter()
                try:
                    status, headers, content = await connection.request(call)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    if counted():
                        cell.failures += 1
                        kind = type(exc).__name__
                        cell.failure_kinds[kind] = cell.failure_kinds.get(kind, 0) + 1
                    await asyncio.sleep(0.01)
                    continue
                elapsed = time.perf_counter() - started
                unanswered.discard(c)
                if not unanswered:
                    warm.set()
                if status in route.ok:
                    if counted():
                        cell.latencies.append(elapsed)
                elif status == 503 and b"server.busy" in content:
                    if counted():
                        cell.shed.append(elapsed)
                    await asyncio.sleep(float(headers.get("retry-after", "1")))
                elif counted():
                    cell.failures += 1
                    kind = str(status)
                    cell.failure_kinds[kind] = cell.failure_kinds.get(kind, 0) + 1
        finally:
            connection.close()

    tasks = [asyncio.create_task(client(c)) for c in range(clients)]
    await asyncio.sleep(min(2.0, 0.5 + clients / 200))  # connections open, caches warm
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(warm.wait(), WARM_UP_SECONDS)
    cpu_before, upstream_before = cpu_seconds(service.pids), cpu_seconds(service.upstream_pids)
    measuring, deadline = True, time.perf_counter() + seconds
    await asyncio.sleep(seconds)
    cell.cpu = cpu_seconds(service.pids) - cpu_before
    cell.cpu_upstream = (
        cpu_seconds(service.upstream_pids) - upstream_before if service.upstream_pids else float("nan")
    )
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return cell


def measure(
    service: Any, routes: list[Route], levels: tuple[int, ...], seconds: float
) -> dict[str, dict[int, Cell]]:
    table: dict[str, dict[int, Cell]] = {}
    for route in routes:
        table[route.name] = {}
        for clients in levels:
            table[route.name][clients] = asyncio.run(drive(route, service, clients, seconds))
            cell = table[route.name][clients]
            print(
                f"  {route.name:28} {clients:4} clients: {cell.rps:7.1f}/s"
                f"  p99 {cell.percentile(cell.latencies, 0.99) * 1000:7.0f} ms"
                f"  cpu {cell.cpu_ms_per_request:5.2f} ms/req (upstream {cell.upstream_cpu_ms_per_request:5.2f})"
                f"  failed {cell.failures}  503 {len(cell.shed)}",
                file=sys.stderr,
                flush=True,
            )
    return table


def print_table(title: str, table: dict[str, dict[int, Cell]]) -> None:
    print(f"\n{title}")
    print(
        f"  {'route':28} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}"
        f" {'503s':>6} {'503 p99':>8} {'cpu ms/req':>10} {'upstream':>8}"
    )
    for route, cells in table.items():
        for clients, cell in cells.items():
            shed_p99 = cell.percentile(cell.shed, 0.99) * 1000 if cell.shed else float("nan")
            print(
                f"  {route:28} {clients:7} {cell.rps:8.1f} {cell.percentile(cell.latencies, 0.5) * 1000:8.1f}"
                f" {cell.percentile(cell.latencies, 0.99) * 1000:8.1f} {cell.failures:7} {len(cell.shed):6}"
                f" {shed_p99:8.1f} {cell.cpu_ms_per_request:10.2f} {cell.upstream_cpu_ms_per_request:8.2f}"
            )
        wanted = next(r.goal_clients for r in ROUTES if r.name == route)
        goal = wanted if wanted in cells else max(cells)
        best = max(c.rps for n, c in cells.items() if n <= goal) or 1.0
        at_goal = cells[goal]
        print(
            f"  {'':28} {'':7} at {goal} clients: {at_goal.rps / best:.2f}x of the route's best (goal ≥ 0.8),"
            f" p99 {at_goal.percentile(at_goal.latencies, 0.99):.2f} s (goal ≤ 2 s)"
        )


def print_comparison(
    before: dict[str, dict[int, Cell]], after: dict[str, dict[int, Cell]], title: str = "after / before"
) -> None:
    print(f"\n{title}, requests/s (same run)")
    for route, cells in after.items():
        ratios = []
        for clients, cell in cells.items():
            old = before.get(route, {}).get(clients)
            if old is not None:
                ratio = cell.rps / old.rps if old.rps else float("inf")
                ratios.append(f"{clients}: {ratio:5.2f}x")
        print(f"  {route:28} " + "  ".join(ratios))


def run_engine(tree: Path, levels: tuple[int, ...], seconds: float, label: str) -> dict[str, dict[int, Cell]]:
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        engine = Engine(tree, Path(tmp) / "engine")
        print(f"{label}: starting an engine from {tree} with {WORKSPACES} workspaces", file=sys.stderr)
        engine.start()
        try:
            return measure(engine, [r for r in ROUTES if r.service == "engine"], levels, seconds)
        finally:
            engine.stop()


def run_console(
    tree: Path, levels: tuple[int, ...], seconds: float, workers: tuple[int, ...], label: str
) -> dict[int, dict[str, dict[int, Cell]]]:
    """The console rows against one seeded engine and one Redis, per number of console processes."""
    tables = {}
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        engine = Engine(tree, Path(tmp) / "engine")
        redis = RedisServer(Path(tmp) / "redis")
        print(
            f"{label}: starting an engine from {tree} with {WORKSPACES} workspaces, and Redis",
            file=sys.stderr,
        )
        engine.start()
        redis.start()
        try:
            for count in workers:
                console = Console(tree, Path(tmp) / f"console-{count}", engine, redis.url, count)
                print(f"{label}: {count} console process(es), {SESSIONS} sessions", file=sys.stderr)
                console.start()
                try:
                    routes = [r for r in ROUTES if r.service == "console"]
                    tables[count] = measure(console, routes, levels, seconds)
                finally:
                    console.stop()
        finally:
            redis.stop()
            engine.stop()
    return tables


def processes(count: int) -> str:
    return "1 process" if count == 1 else f"{count} processes"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--before", metavar="REF", help="also measure REF first (e.g. main; its console as 1 process)"
    )
    parser.add_argument("--services", default="engine,console", help="which rows: engine, console or both")
    parser.add_argument(
        "--routes", default="", help="only the routes whose name contains this (e.g. overview)"
    )
    parser.add_argument(
        "--console-workers",
        type=int,
        default=2,
        metavar="N",
        help="the console rows run at 1 process and at N (default 2: one per core here)",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per cell")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)))
    parser.add_argument(
        "--overload",
        type=int,
        default=0,
        metavar="N",
        help="add a level of N clients (past the admission limit: only fast 503s are expected)",
    )
    options = parser.parse_args()
    ROUTES[:] = [route for route in ROUTES if options.routes in route.name]
    levels = tuple(int(x) for x in options.levels.split(","))
    if options.overload:
        levels += (options.overload,)
    print(f"load: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    services = options.services.split(",")
    workers = tuple(sorted({1, options.console_workers}))
    before: dict[str, dict[int, Cell]] = {}
    if options.before:
        with exported(options.before) as tree:
            label = f"before ({options.before})"
            if "engine" in services:
                before |= run_engine(tree, levels, options.seconds, label)
            if "console" in services:
                before |= run_console(tree, levels, options.seconds, (1,), label)[1]
        print_table(f"before: {options.before}", before)
    after: dict[str, dict[int, Cell]] = {}
    if "engine" in services:
        after = run_engine(ROOT, levels, options.seconds, "after (this checkout)")
        print_table("after: this checkout, engine", after)
    if "console" in services:
        consoles = run_console(ROOT, levels, options.seconds, workers, "after (this checkout)")
        for count, table in consoles.items():
            print_table(f"after: this checkout, console as {processes(count)} (Redis, one port)", table)
        after |= consoles[1]  # REF's console (--before) runs as one process: like with like
        if len(workers) > 1:
            print_comparison(
                consoles[1], consoles[max(workers)], f"console, {processes(max(workers))} / 1 process"
            )
    if before:
        print_comparison(before, after)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
