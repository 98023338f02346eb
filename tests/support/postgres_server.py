"""Start a real PostgreSQL server from the system's binaries (initdb + postgres), in a temporary
directory, on a loopback port: the database of the PostgreSQL test run and of the tests that need
one whatever the run (two engines or two consoles on one database, readiness when it goes away).

initdb and postgres refuse to run as root; the suite runs as root in CI, so the server runs as an
unprivileged user then (`nobody`), in a directory of its own under the system temp dir. It trusts
loopback connections (no password): it listens on 127.0.0.1 only and lives as long as the tests.
"""

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.support.engine_process import free_port

SERVER_USER = "nobody"  # when the suite runs as root


def binaries() -> Path | None:
    """The directory holding initdb and postgres (Debian keeps them out of PATH), or None."""
    candidates = [os.environ.get("POSTGRES_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(str(shutil.which("initdb"))).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "postgres").exists():
            return Path(candidate)
    return None


def _version(path: str) -> int:
    with contextlib.suppress(ValueError):
        return int(Path(path).parent.name)
    return 0


class PostgresServer:
    """One PostgreSQL server. `url(name)` is a database's URL (DATABASE_URL / ENGINE_DATABASE_URL);
    `stop()` and `start()` again on the same directory and port (a database that goes away and
    comes back)."""

    def __init__(self) -> None:
        found = binaries()
        if found is None:
            raise RuntimeError("PostgreSQL's initdb and postgres are missing: bin/setup installs them")
        self.bin = found
        self.home = Path(tempfile.mkdtemp(prefix="bctrl-postgres-"))
        atexit.register(shutil.rmtree, self.home, ignore_errors=True)
        self.data = self.home / "data"
        self.user = pwd.getpwnam(SERVER_USER) if os.geteuid() == 0 else None
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.home / "postgres.log"

    def _run(self, *argv: str) -> subprocess.Popen[bytes]:
        kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid} if self.user else {}
        log = self.log_path.open("ab")
        return subprocess.Popen(
            argv, cwd=self.home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )

    def start(self) -> "PostgresServer":
        if self.user:
            os.chown(self.home, self.user.pw_uid, self.user.pw_gid)
        if not self.data.exists():
            initdb = self._run(
                str(self.bin / "initdb"),
                *("-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"),
            )
            if initdb.wait(timeout=120) != 0:
                raise RuntimeError(f"initdb failed:\n{self.log()}")
        for _ in range(3):  # a port picked free may be taken before the server binds it
            self.port = self.port or free_port()
            self.process = self._run(
                str(self.bin / "postgres"),
                *("-D", str(self.data), "-p", str(self.port), "-k", str(self.home)),
                *("-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off"),
                *("-c", "full_page_writes=off", "-c", "max_connections=300"),
            )
            if self._ready():
                atexit.register(self.stop)
                return self
            self.stop()
            self.port = 0
        raise RuntimeError(f"PostgreSQL did not start:\n{self.log()}")

    def _ready(self) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        return False

    def stop(self) -> None:
        """A fast shutdown (SIGINT): clients are disconnected, nothing is lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database (dropped first if a previous run left one); its URL."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def database(self, name: str) -> str:
        """A database kept across restarts of whoever uses it: made when missing; its URL."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


_shared: PostgresServer | None = None


def shared_server() -> PostgresServer:
    """The one server of this test process, started on first use."""
    global _shared
    if _shared is None:
        _shared = PostgresServer().start()
    return _shared
