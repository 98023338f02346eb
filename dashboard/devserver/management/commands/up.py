"""`manage.py up`: the whole system on one laptop — engine, console, a key and a login.

Runs the engine (manage.py runengine) and the console (daphne; `--console-workers N` processes
sharing one port, see console_workers.py) as child processes, each in its own process group, and
stops them all on Ctrl-C or SIGTERM. The engine closes its browsers on the way down, so nothing is
left running.
"""

import os
import secrets
import signal
import socket
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

from dashboard.devserver.console_workers import daphne_command, listening_socket

ROOT = Path(settings.BASE_DIR)


class Command(BaseCommand):
    help = "Migrate, make sure the console has an engine key and an admin login, run engine + console."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="console port (0: a free one, printed)")
        parser.add_argument("--engine-port", type=int, default=8787)
        parser.add_argument(
            "--console-workers",
            type=int,
            default=settings.CONSOLE_WORKERS,
            metavar="N",
            help="console processes behind the one port (default: CONSOLE_WORKERS, 1); more than one needs REDIS_URL",
        )

    def handle(
        self, *args: object, host: str, port: int, engine_port: int, console_workers: int, **options: object
    ) -> None:
        listener = self._listener(host, port, console_workers)
        port = int(listener.getsockname()[1])
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
            listener.close()
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
        if console_workers > 1:
            env["PROMETHEUS_MULTIPROC_DIR"] = self._metrics_dir(env)
        for _ in range(console_workers):
            children.append(self._spawn(daphne_command(listener), env, pass_fds=(listener.fileno(),)))
        # Any process may answer (they share the socket); one that dies stops the lot, below.
        self._wait_for(f"http://{host}:{port}/login/", children[-1], "console")
        self._announce(host, port, console_workers, password, env["BCTRL_API_URL"])
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        self.stderr.write("A child process exited; stopping the rest.")
        stop()

    def _listener(self, host: str, port: int, console_workers: int) -> socket.socket:
        """The console's listening socket, once the options are known to make sense."""
        if console_workers < 1:
            raise CommandError(f"--console-workers is {console_workers}; it counts processes: 1 or more.")
        if console_workers > 1 and not settings.REDIS_URL:
            # Checked before anything starts: without Redis each process would keep its own channel
            # layer and cache, so live updates, sign-out and the sign-in limit would stop at its edge.
            raise CommandError(
                f"{console_workers} console processes need a Redis they all share, and REDIS_URL is not set: "
                "without it each process keeps its own in-memory channel layer and cache, so live updates "
                "and the sign-in limit would not span them. Start redis-server and set "
                "REDIS_URL=redis://127.0.0.1:6379/0, or run one console process (--console-workers 1)."
            )
        try:
            listener = listening_socket(host, port)
        except OSError as error:  # socket.gaierror included: a --host that is no IPv4 address or name
            raise CommandError(
                f"The console cannot listen on {host}:{port} ({error.strerror or error}). Stop what holds "
                "the port or choose another with --port; --host takes an IPv4 address or name."
            ) from error
        return listener

    def _announce(
        self, host: str, port: int, console_workers: int, password: str | None, api_url: str
    ) -> None:
        processes = f"{console_workers} processes" if console_workers > 1 else "1 process"
        login = password or f"(password set earlier; in {self._password_path()})"
        self.stdout.write(
            self.style.SUCCESS(
                f"\nBCTRL Console  http://{host}:{port}/  ({processes})\n"
                f"  sign in as    admin / {login}\n"
                f"BCTRL API      {api_url}  (docs: {api_url}/docs)\n"
                "Press Ctrl-C to stop both.\n"
            )
        )

    def _spawn(
        self, argv: list[str], env: dict[str, str], pass_fds: tuple[int, ...] = ()
    ) -> subprocess.Popen[bytes]:
        if argv[0] == "manage.py":
            argv = [sys.executable, *argv]
        return subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True, pass_fds=pass_fds)

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

    def _metrics_dir(self, env: dict[str, str]) -> str:
        """Where the console processes keep their metrics, so /metrics on any of them answers
        for all (dashboard/probes.py); emptied at each start, as prometheus_client asks."""
        path = Path(env.get("PROMETHEUS_MULTIPROC_DIR") or Path(settings.VAR_DIR) / "metrics")
        path.mkdir(parents=True, exist_ok=True)
        for kept in path.glob("*.db"):  # the last run's processes' series
            kept.unlink()
        return str(path)

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
        """The console's key to the local engine: reuse the stored one while the engine accepts it.

        A team key: everyone using the console shares it, so the engine's per-key limits (meant
        for one script's key) do not cap the team; the engine's own limits do.
        """
        path = Path(settings.BCTRL_API_KEY_PATH)
        key = env.get("BCTRL_API_KEY") or (path.read_text().strip() if path.exists() else "")
        if key:
            response = httpx.get(
                f"{api_url}/auth/whoami", headers={"Authorization": f"Bearer {key}"}, timeout=5
            )
            if response.status_code == 200:
                return key
        result = subprocess.run(
            [sys.executable, "manage.py", "createapikey", "--name", "console", "--scope", "admin", "--team"],
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
