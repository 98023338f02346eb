"""`manage.py up`: the whole system on one laptop — engine, console, a key and a login.

Runs the engine (manage.py runengine) and the console (daphne) as child processes, each in its
own process group, and stops both on Ctrl-C or SIGTERM. The engine closes its browsers on the
way down, so nothing is left running.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

ROOT = Path(settings.BASE_DIR)


class Command(BaseCommand):
    help = "Migrate, make sure the console has an engine key and an admin login, run engine + console."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="console port")
        parser.add_argument("--engine-port", type=int, default=8787)

    def handle(self, *args: object, host: str, port: int, engine_port: int, **options: object) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        password = self._ensure_admin()
        engine_url = f"http://{host}:{engine_port}"
        api_url = f"{engine_url}/v1"
        env = {**os.environ, "BCTRL_API_URL": os.environ.get("BCTRL_API_URL", api_url)}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        children: list[subprocess.Popen[bytes]] = []

        def stop(signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
            for child in reversed(children):
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in reversed(children):
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
            self.stdout.write("Stopped engine and console.")
            sys.exit(0)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        local_engine = env["BCTRL_API_URL"] == api_url
        if local_engine:
            children.append(
                self._spawn(["manage.py", "runengine", "--host", host, "--port", str(engine_port)], env)
            )
            self._wait_for(f"{engine_url}/healthz", children[-1], "engine")
            env["BCTRL_API_KEY"] = self._ensure_engine_key(api_url, env)
        children.append(
            self._spawn(
                [
                    str(Path(sys.executable).with_name("daphne")),
                    "-b",
                    host,
                    "-p",
                    str(port),
                    "dashboard.asgi:application",
                ],
                env,
            )
        )
        self._wait_for(f"http://{host}:{port}/login/", children[-1], "console")
        login = password or f"(password set earlier; in {self._password_path()})"
        self.stdout.write(
            self.style.SUCCESS(
                f"\nBCTRL Console  http://{host}:{port}/\n"
                f"  sign in as    admin / {login}\n"
                f"BCTRL API      {env['BCTRL_API_URL']}  (docs: {env['BCTRL_API_URL']}/docs)\n"
                "Press Ctrl-C to stop both.\n"
            )
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        self.stderr.write("A child process exited; stopping the rest.")
        stop()

    def _spawn(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        if argv[0] == "manage.py":
            argv = [sys.executable, *argv]
        return subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)

    def _wait_for(self, url: str, child: subprocess.Popen[bytes], name: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise CommandError(f"The {name} exited with status {child.returncode}; see its output above.")
            try:
                httpx.get(url, timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise CommandError(f"The {name} did not start within 60 s.")

    def _password_path(self) -> Path:
        return Path(settings.VAR_DIR) / "secrets" / "console_admin_password"

    def _ensure_admin(self) -> str | None:
        """Create the `admin` login on first run; its password is shown and kept (0600) under var/."""
        if get_user_model().objects.filter(username="admin").exists():
            return self._password_path().read_text().strip() if self._password_path().exists() else None
        password = secrets.token_urlsafe(12)
        with open(os.devnull, "w") as quiet:
            call_command("createuser", username="admin", role="admin", password=password, stdout=quiet)
        path = self._password_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(password)
        path.chmod(0o600)
        return password

    def _ensure_engine_key(self, api_url: str, env: dict[str, str]) -> str:
        """The console's key to the local engine: reuse the stored one while the engine accepts it."""
        path = Path(settings.BCTRL_API_KEY_PATH)
        key = env.get("BCTRL_API_KEY") or (path.read_text().strip() if path.exists() else "")
        if key:
            response = httpx.get(
                f"{api_url}/auth/whoami", headers={"Authorization": f"Bearer {key}"}, timeout=5
            )
            if response.status_code == 200:
                return key
        result = subprocess.run(
            [sys.executable, "manage.py", "createapikey", "--name", "console", "--scope", "admin"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        key = result.stdout.strip().splitlines()[-1]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(key)
        path.chmod(0o600)
        return key
