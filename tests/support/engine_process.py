"""Start a real engine (manage.py runengine) in its own process, on a free port, with its own var dir."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EngineProcess:
    """One engine process. `keys` holds an API key per scope: admin, operator, read."""

    def __init__(self, var_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "ENGINE_VAR_DIR": str(var_dir),
            "ENGINE_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.keys: dict[str, str] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = var_dir / "engine.log"

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return result.stdout

    def create_key(self, scope: str, name: str | None = None) -> str:
        return (
            self.manage("createapikey", "--name", name or f"test-{scope}", "--scope", scope)
            .strip()
            .splitlines()[-1]
        )

    def start(self) -> "EngineProcess":
        self.var_dir.mkdir(parents=True, exist_ok=True)
        if not self.keys:
            for scope in ("admin", "operator", "read"):
                self.keys[scope] = self.create_key(scope)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runengine", "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"engine exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"engine did not start:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop the engine the way an operator would (SIGTERM), or kill it (SIGKILL)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if sig == signal.SIGKILL:
            # a killed engine cannot close its browsers; do it for it so tests leave nothing behind
            kill_process_group_children(self.process.pid)
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, scope: str = "admin", timeout: float = 60) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/v1",
            headers={"Authorization": f"Bearer {self.keys[scope]}"},
            timeout=timeout,
        )


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
