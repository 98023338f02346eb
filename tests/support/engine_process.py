"""Start a real engine (manage.py runengine) in its own process, on a free port, with its own var dir."""

import atexit
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port nobody listens on right now (for "nothing answers here" tests): it may be taken
    later, so servers the suite starts get a listening socket instead (ServerProcess)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_refusing: list[socket.socket] = []


def refused_port() -> int:
    """A loopback port that refuses every connection for the rest of the test session.

    Bound by this process and never listened on: a connection gets a reset at once, and no
    other process can bind the port meanwhile (a `free_port()` could be taken by anyone and then
    answer). For tests of "nothing answers there".
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _refusing.append(sock)
    return int(sock.getsockname()[1])


class ServerProcess:
    """A server of this repository (`manage.py ...` or daphne) in its own process group, with a log file.

    The suite binds the server's port itself and hands the listening socket to the server (`--fd`):
    a port picked free and bound later by the child could be taken in between by any other process
    on the machine, which made a start fail by chance. The socket is closed when the server stops.
    """

    name = "server"
    # The checkout whose manage.py runs: this one, or another (a bench comparing with main).
    root = ROOT

    def __init__(self, var_dir: Path, env: dict[str, str], port: int = 0) -> None:
        self.var_dir = var_dir
        self.listener = socket.socket()
        # a given port: a restart on the address its clients know (SO_REUSEADDR: the old
        # connections' TIME_WAIT does not hold the port)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(128)
        self.port = int(self.listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = var_dir / f"{self.name}.log"

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return result.stdout

    def launch(self, argv: list[str], ready_path: str) -> None:
        """Start `argv` and wait until GET `ready_path` answers (60 s at most)."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            argv,
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(self.listener.fileno(),),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}{ready_path}", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop it the way an operator would (SIGTERM), or kill it (SIGKILL)."""
        self.listener.close()  # from here on, nothing answers on the port
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class EngineProcess(ServerProcess):
    """One engine process. `keys` holds an API key per scope: admin, operator, read.

    `allow` is its ENGINE_EGRESS_ALLOW: runtimes refuse loopback by default, so an engine whose
    runtimes browse the suite's own site must name it (`site.host_port`), and nothing more.
    """

    name = "engine"

    def __init__(
        self,
        var_dir: Path,
        extra_env: dict[str, str] | None = None,
        allow: str = "",
        port: int = 0,
        prefix: tuple[str, ...] = (),
    ) -> None:
        from tests.support.databases import engine_database_url

        var_dir = browser_reachable(var_dir)
        database = engine_database_url(var_dir)  # a PostgreSQL run's; else SQLite in its var dir
        super().__init__(
            var_dir,
            {
                "ENGINE_VAR_DIR": str(var_dir),
                "ENGINE_LOG_LEVEL": "WARNING",
                "ENGINE_EGRESS_ALLOW": allow,
                **({"ENGINE_DATABASE_URL": database} if database else {}),
                **(extra_env or {}),
            },
            port,
        )
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.keys: dict[str, str] = {}
        self.prefix = prefix  # what the engine runs under (e.g. setpriv, to drop its capabilities)
        self.log_level = "warning"  # uvicorn's; "info" logs every websocket it accepts

    def create_key(self, scope: str, name: str | None = None, team: bool = False) -> str:
        """A new key; `team`: a team key (a console's), held to the engine's own limits only."""
        argv = [
            "createapikey",
            "--name",
            name or f"test-{scope}",
            "--scope",
            scope,
            *(["--team"] if team else []),
        ]
        return self.manage(*argv).strip().splitlines()[-1]

    def start(self) -> "EngineProcess":
        self.var_dir.mkdir(parents=True, exist_ok=True)
        if not self.keys:
            for scope in ("admin", "operator", "read"):
                self.keys[scope] = self.create_key(scope)
        argv = [
            *self.prefix,
            *(sys.executable, "manage.py", "runengine"),
            *("--fd", str(self.listener.fileno()), "--log-level", self.log_level),
        ]
        self.launch(argv, "/healthz")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        returncode = super().stop(sig)
        if sig == signal.SIGKILL and self.process is not None:
            # A killed engine cannot close its browsers, and Playwright starts them in process
            # groups of their own: end them here so tests leave nothing behind.
            kill_process_group_children(self.process.pid)
            for pid in chromium_pids_under(self.var_dir):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        return returncode

    def client(self, scope: str = "admin", timeout: float = 60) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/v1",
            headers={"Authorization": f"Bearer {self.keys[scope]}"},
            timeout=timeout,
        )


def one_uid() -> int:
    """ENGINE_BROWSER_UID for an engine with one browser uid (ENGINE_BROWSER_UID_COUNT=1).

    Leases are host-wide, so it lies outside the default range (61287..62286) that the other test
    engines share, picked at random so that two test runs on one machine seldom want the same."""
    return random.randrange(62400, 64400)


def browser_reachable(var_dir: Path) -> Path:
    """A var dir for a test engine that its runtimes' browser user can pass through.

    An engine running as root runs Chromium as an unprivileged user (ENGINE_BROWSER_UID), which
    must traverse the var dir's ancestors to its own dirs. pytest's temp root is 0700, and pytest
    makes it 0700 again whenever any session starts (other runs on the machine included), so a
    test engine's var dir under it moves to a dir of its own in the system temp dir (passable,
    not listable), removed when the test process ends. Elsewhere the path is kept as given.
    """
    temp = Path(tempfile.gettempdir())
    home = var_dir.parent
    if temp not in var_dir.parents or (home.parent == temp and home.name.startswith("bctrl-")):
        return var_dir  # outside the temp dir, or already moved (a restart on the same var dir)
    home = Path(tempfile.mkdtemp(prefix="bctrl-"))  # the engine's local secrets go beside, in here
    home.chmod(0o711)
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return home / var_dir.name


def kill_process_group_children(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def chromium_pids_under(var_dir: Path) -> list[int]:
    """Pids of Chromium processes whose command line mentions this engine's var dir."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "chrom" in cmdline and str(var_dir) in cmdline:
            pids.append(int(proc.name))
    return pids


def browser_pid(runtime_dir: Path) -> int:
    """The main Chromium process of a runtime (its children carry --type=...)."""
    for pid in chromium_pids_under(runtime_dir):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"--type=" not in cmdline and b"--user-data-dir" in cmdline:
            return pid
    raise AssertionError(f"no browser process under {runtime_dir}")


def eventually(check: Callable[[], object], timeout: float = 30) -> object:
    """The first truthy value of check() within timeout seconds (polled), or its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)
