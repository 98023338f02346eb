"""Start a real console (daphne serving dashboard.asgi) in its own process, against a given API."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.engine_process import ROOT, free_port


class ConsoleProcess:
    def __init__(self, var_dir: Path, api_url: str, api_key: str) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "CONSOLE_VAR_DIR": str(var_dir),
            "BCTRL_API_URL": api_url,
            "BCTRL_API_KEY": api_key,
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = var_dir / "console.log"

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

    def create_user(self, username: str, role: str, password: str) -> None:
        self.manage("createuser", "--username", username, "--role", role, "--password", password)

    def start(self) -> "ConsoleProcess":
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput", "-v", "0")
        daphne = str(Path(sys.executable).with_name("daphne"))
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [daphne, "-b", "127.0.0.1", "-p", str(self.port), "dashboard.asgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"console exited with {self.process.returncode}:\n{self.log()}")
            try:
                httpx.get(f"{self.url}/login/", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"console did not start:\n{self.log()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
