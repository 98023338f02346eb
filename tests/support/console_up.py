"""`manage.py up` run as a subprocess: starting it, the console processes it runs, and their sockets."""

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
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.support.engine_process import ROOT

PASSWORD = "workers correct horse battery"
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


def start_up(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "manage.py", "up", "--port", "0", *args],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def seqs_within(socket: ClientConnection, expected: int, seconds: float) -> list[int]:
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


def each_sees_once(api: httpx.Client, start: int, sockets: list[ClientConnection], name: str) -> dict:
    """Create a workspace named `name` through the API and check that each socket relays its
    `workspace.created` update exactly once; the workspace (its JSON) for the caller to delete."""
    workspace: dict = api.post("/workspaces", json={"name": name}).json()
    expected = next(
        update["id"]
        for update in api.get("/updates", params={"after": start}).json()["updates"]
        if update["type"] == "workspace.created" and update["workspaceId"] == workspace["id"]
    )
    for socket in sockets:
        assert seqs_within(socket, expected, seconds=30).count(expected) == 1  # once, on each
    return workspace
