"""Start a real console (daphne serving dashboard.asgi) in its own process, against a given API."""

import sys
from pathlib import Path

import httpx

from tests.support.engine_process import ServerProcess


class ConsoleProcess(ServerProcess):
    name = "console"

    def __init__(
        self, var_dir: Path, api_url: str, api_key: str, extra_env: dict[str, str] | None = None
    ) -> None:
        super().__init__(
            var_dir,
            {
                "CONSOLE_VAR_DIR": str(var_dir),
                "BCTRL_API_URL": api_url,
                "BCTRL_API_KEY": api_key,
                "DJANGO_SETTINGS_MODULE": "dashboard.settings",
                "LOG_LEVEL": "WARNING",
                **(extra_env or {}),
            },
        )

    def create_user(self, username: str, role: str, password: str) -> None:
        self.manage("createuser", "--username", username, "--role", role, "--password", password)

    def start(self) -> "ConsoleProcess":
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput", "-v", "0")
        daphne = str(Path(sys.executable).with_name("daphne"))
        self.launch([daphne, "--fd", str(self.listener.fileno()), "dashboard.asgi:application"], "/login/")
        return self

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
