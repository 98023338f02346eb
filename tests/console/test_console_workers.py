"""`manage.py up --console-workers N`: several console processes behind one port, all real — the
command itself, its daphne processes, a redis-server, the database they share, the session engine.

What it protects: a user sees one console whichever process answers. A session made on one process
is valid on the other, the sign-in failure limit counts across both, and a change made through the
API reaches the live sockets of both. To aim a connection at one process, the test pauses the
other (SIGSTOP): the kernel then hands every new connection on the shared socket to the running one.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.console.test_redis import redis_url  # noqa: F401 (fixture)
from tests.support.engine_process import ROOT, EngineProcess, eventually
from tests.support.updates import newest_update

PASSWORD = "workers correct horse battery"
METRICS_TOKEN = "workers-metrics-token"
SEQ = re.compile(r'id="live-cursor"[^>]*data-seq="(\d+)"')
URL = re.compile(r"BCTRL Console  (http://127\.0\.0\.1:\d+)/")


class Up:
    """A running `manage.py up` and the console processes it started."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, env: dict[str, str]) -> None:
        self.process, self.url, self.env = process, url, env
        self.port = int(url.rsplit(":", 1)[1])
        self.workers = _children(process.pid)

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, timeout=120)

    @contextlib.contextmanager
    def only(self, worker: int) -> Iterator[None]:
        """While inside, only this worker accepts new connections: the others are paused."""
        paused = [pid for pid in self.workers if pid != worker]
        for pid in paused:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in paused:
                os.kill(pid, signal.SIGCONT)

    def client(self) -> httpx.Client:
        # a new client is a new connection: it goes to whichever process accepts it
        return httpx.Client(base_url=self.url, timeout=30)

    def sign_in(self, client: httpx.Client, username: str, password: str) -> httpx.Response:
        client.get("/login/")
        return client.post(
            "/login/",
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
        )

    def socket(self, cookies: httpx.Cookies, after: int) -> ClientConnection:
        cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
        return connect(
            f"ws://127.0.0.1:{self.port}/ws/updates/?after={after}",
            origin=Origin(self.url),
            additional_headers={"Cookie": cookie},
            open_timeout=20,
        )


def _children(pid: int) -> list[int]:
    """Pids whose parent is `pid` (the console processes: `up` starts no engine here)."""
    children = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError):
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(proc.name))
    return sorted(children)


def _start_up(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "manage.py", "up", "--port", "0", *args],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
def up(
    engine: EngineProcess,
    redis_url: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Up]:
    var_dir = tmp_path_factory.mktemp("console-workers")
    env = {
        **os.environ,
        "CONSOLE_VAR_DIR": str(var_dir),
        "BCTRL_API_URL": f"{engine.url}/v1",  # not the default: `up` starts no engine of its own
        "BCTRL_API_KEY": engine.keys["admin"],
        "REDIS_URL": redis_url,
        "LOGIN_RATE_LIMIT": "3",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = var_dir / "up.log"
    process = _start_up(env, log, "--console-workers", "2")
    workers: list[int] = []
    try:
        found = eventually(lambda: process.poll() is not None or URL.search(log.read_text()), timeout=90)
        assert isinstance(found, re.Match), log.read_text()
        running = Up(process, found.group(1), env)
        workers = running.workers
        assert len(workers) == 2, (workers, log.read_text())
        running.manage("createuser", "--username", "alice", "--role", "admin", "--password", PASSWORD)
        running.manage("createuser", "--username", "bob", "--role", "viewer", "--password", PASSWORD)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0, log.read_text()
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)  # `up` left none behind


@pytest.mark.parametrize(
    ("asked", "args"),
    [({}, ("--console-workers", "2")), ({"CONSOLE_WORKERS": "2"}, ())],
    ids=["flag", "setting"],
)
def test_it_refuses_several_processes_without_redis(
    tmp_path: Path, asked: dict[str, str], args: tuple[str, ...]
) -> None:
    env = {**os.environ, "CONSOLE_VAR_DIR": str(tmp_path), **asked}
    env.pop("REDIS_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = tmp_path / "up.log"
    process = _start_up(env, log, *args)
    assert process.wait(timeout=60) != 0
    assert "2 console processes need a Redis they all share, and REDIS_URL is not set" in log.read_text()
    assert not (tmp_path / "console.sqlite3").exists()  # refused before anything was made


def test_a_count_of_no_processes_is_refused_by_name(tmp_path: Path) -> None:
    env = {**os.environ, "CONSOLE_VAR_DIR": str(tmp_path), "CONSOLE_WORKERS": "0"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = _start_up(env, tmp_path / "up.log")
    assert process.wait(timeout=60) != 0
    assert "CONSOLE_WORKERS is 0; it counts processes: 1 or more." in (tmp_path / "up.log").read_text()


def test_it_serves_one_port_from_two_processes(up: Up) -> None:
    for worker in up.workers:
        with up.only(worker), up.client() as client:
            assert client.get("/login/").status_code == 200


def test_a_session_made_on_one_process_is_valid_on_the_other(up: Up) -> None:
    first, second = up.workers
    with up.only(first), up.client() as client:
        assert up.sign_in(client, "alice", PASSWORD).status_code == 302
        cookies = client.cookies
    with up.only(second), up.client() as client:
        client.cookies = cookies
        page = client.get("/workspaces/")
    assert page.status_code == 200  # not the redirect to the sign-in page
    assert "alice" in page.text


def test_the_sign_in_limit_counts_failures_on_both_processes(up: Up) -> None:
    first, second = up.workers
    with up.only(first), up.client() as client:
        for _ in range(2):
            assert up.sign_in(client, "bob", "a wrong password").status_code == 200
    with up.only(second), up.client() as client:
        assert up.sign_in(client, "bob", "a wrong password").status_code == 200  # the third: the limit
    with up.only(first), up.client() as client:
        refused = up.sign_in(client, "bob", PASSWORD)  # the right password, locked all the same
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.text


def test_a_change_through_the_api_reaches_sockets_on_both_processes(up: Up, api: httpx.Client) -> None:
    with up.client() as client:
        assert up.sign_in(client, "alice", PASSWORD).status_code == 302
        cookies = client.cookies
    start = newest_update(api)
    with contextlib.ExitStack() as stack:
        sockets = []
        for worker in up.workers:
            with up.only(worker):
                sockets.append(stack.enter_context(up.socket(cookies, start)))
        workspace = api.post("/workspaces", json={"name": "seen by both processes"}).json()
        expected = next(
            update["id"]
            for update in api.get("/updates", params={"after": start}).json()["updates"]
            if update["type"] == "workspace.created" and update["workspaceId"] == workspace["id"]
        )
        for socket in sockets:
            assert _seqs_within(socket, expected, seconds=30).count(expected) == 1  # once, on each
    for worker in up.workers:  # each process read it from its own one upstream stream
        with up.only(worker), up.client() as client:
            client.cookies = cookies
            relay = client.get("/live/", params={"region": "relay"}, headers={"HX-Request": "true"}).text
        assert "Upstream connections opened</dt><dd>1</dd>" in relay, relay


def _seqs_within(socket: ClientConnection, expected: int, seconds: float) -> list[int]:
    """The update ids a socket got until `expected` came (or time ran out), and a second more
    (long enough for a copy sent by the other process to show up as a second one)."""
    seen: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            seen += [int(seq) for seq in SEQ.findall(str(socket.recv(timeout=1)))]
        if expected in seen:
            deadline = min(deadline, time.monotonic() + 1)
    return seen


def test_metrics_from_either_process_count_both_processes_sockets(up: Up) -> None:
    with up.client() as client:
        assert up.sign_in(client, "alice", PASSWORD).status_code == 302
        cookies = client.cookies

    def counted(worker: int) -> str:
        with up.only(worker), up.client() as client:
            return client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text

    with contextlib.ExitStack() as stack:
        for worker in up.workers:  # one socket on each process
            with up.only(worker):
                stack.enter_context(up.socket(cookies, 0))
        for worker in up.workers:  # whichever process answers, it counts both
            assert eventually(lambda w=worker: 'bctrl_console_websockets{kind="updates"} 2.0' in counted(w))
