"""A team's deployment, small: an engine and a console on a PostgreSQL server of their own (these
tests stop it and start it again), with metrics tokens, JSON logs and access lines."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.console_process import ConsoleProcess
from tests.support.engine_process import EngineProcess
from tests.support.postgres_server import PostgresServer
from tests.support.site import TestSite

PASSWORD = "deployment correct horse battery"
LOGS = {"LOG_FORMAT": "json", "ACCESS_LOG": "true"}


class Deployment:
    def __init__(self, home: Path, site: TestSite) -> None:
        self.postgres = PostgresServer().start()
        self.engine_token = uuid.uuid4().hex
        self.console_token = uuid.uuid4().hex
        self.engine_env = {
            "ENGINE_DATABASE_URL": self.postgres.create_database("engine"),
            "ENGINE_METRICS_TOKEN": self.engine_token,
            "ENGINE_LOG_LEVEL": "INFO",
            "ENGINE_WARM_POOL_SIZE": "0",
            **LOGS,
        }
        self.site = site
        self.engine = EngineProcess(home / "engine", self.engine_env, allow=site.host_port).start()
        self.console = ConsoleProcess(
            home / "console",
            f"{self.engine.url}/v1",
            self.engine.keys["admin"],
            {
                "DATABASE_URL": self.postgres.create_database("console"),
                "METRICS_TOKEN": self.console_token,
                "LOG_LEVEL": "INFO",
                **LOGS,
            },
        ).start()
        self.console.create_user("alice", "admin", PASSWORD)

    def restart_engine(self) -> None:
        """Start the engine again, on its address and database (after a test stopped it)."""
        restarted = EngineProcess(
            self.engine.var_dir, self.engine_env, allow=self.site.host_port, port=self.engine.port
        )
        restarted.keys = self.engine.keys
        self.engine = restarted.start()

    def stop(self) -> None:
        self.console.stop()
        self.engine.stop()
        self.postgres.stop()


@pytest.fixture(scope="package")
def deployment(tmp_path_factory: pytest.TempPathFactory, site: TestSite) -> Iterator[Deployment]:
    running = Deployment(tmp_path_factory.mktemp("deployment"), site)
    yield running
    running.stop()


def scrape(url: str, token: str) -> str:
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")  # Prometheus text
    return response.text
