"""Start a real console (daphne serving dashboard.asgi) in its own process, against a given API."""

import signal
import subprocess
from pathlib import Path

import httpx

from dashboard.devserver.console_workers import daphne_command
from tests.support.databases import console_database_url
from tests.support.engine_process import ServerProcess


class ConsoleProcess(ServerProcess):
    """A console: `workers` daphne processes sharing its one listening socket, started the way
    `manage.py up --console-workers N` starts them (more than one needs REDIS_URL in `extra_env`)."""

    name = "console"

    def __init__(
        self,
        var_dir: Path,
        api_url: str,
        api_key: str,
        extra_env: dict[str, str] | None = None,
        workers: int = 1,
    ) -> None:
        super().__init__(
            var_dir,
            {
                "CONSOLE_VAR_DIR": str(var_dir),
                "DATABASE_URL": console_database_url(var_dir),  # its own, on the run's database
                "BCTRL_API_URL": api_url,
                "BCTRL_API_KEY": api_key,
                "DJANGO_SETTINGS_MODULE": "dashboard.settings",
                "LOG_LEVEL": "WARNING",
                **(extra_env or {}),
            },
        )
        self.workers = workers
        self.processes: list[subprocess.Popen[bytes]] = []

    def create_user(self, username: str, role: str, password: str) -> None:
        self.manage("createuser", "--username", username, "--role", role, "--password", password)

    def start(self) -> "ConsoleProcess":
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput", "-v", "0")
        for _ in range(self.workers):
            # each waits until the port answers: the first alone, the next ones beside it
            self.launch(daphne_command(self.listener), "/login/")
            assert self.process is not None
            self.processes.append(self.process)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop every process (the first's return code is returned)."""
        returncodes = []
        for process in reversed(self.processes or [self.process]):
            self.process = process
            returncodes.append(super().stop(sig))
        return returncodes[-1]

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def sign_in(self, username: str, password: str) -> httpx.Client:
        """An HTTP client signed in as `username` (its cookies open the console's websockets too)."""
        client = httpx.Client(base_url=self.url, timeout=30)
        client.get("/login/")
        response = client.post(
            "/login/",
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
        )
        assert response.status_code == 302, response.text
        return client
