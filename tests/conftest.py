"""Fixtures shared by every test: a real engine process, a local test site, a scripted model,
a headless Chromium."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from engine.runtimes import chromium
from tests.support.engine_process import EngineProcess, refused_port
from tests.support.model_server import PROVIDERS_HOST, ModelServer
from tests.support.postgres_server import PostgresServer, shared_server
from tests.support.site import TestSite
from tests.support.vault_echo import echo_run


@pytest.fixture(scope="session")
def closed_port() -> int:
    """A loopback port the session engine may call where nothing listens (a refused connection)."""
    return refused_port()


@pytest.fixture(scope="session")
def engine(
    tmp_path_factory: pytest.TempPathFactory, site: TestSite, model_server: ModelServer, closed_port: int
) -> Iterator[EngineProcess]:
    """One real engine for the whole session (tests that restart or kill it start their own).

    Its runtimes may reach the suite's own site; it (and they) the scripted model server, the
    closed port and PROVIDERS_HOST; no other loopback or private address.
    """
    allow = f"{site.host_port},{model_server.host_port},127.0.0.1:{closed_port},{PROVIDERS_HOST}"
    process = EngineProcess(tmp_path_factory.mktemp("engine"), allow=allow).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def site() -> Iterator[TestSite]:
    served = TestSite().start()
    yield served
    served.stop()


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    """A real PostgreSQL server (started on first use; the PostgreSQL run's own when it is one)."""
    return shared_server()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """A headless Chromium driving pages as a user would (the console, embedded viewers)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium.executable(), headless=True, args=list(chromium.FLAGS)
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def model_server() -> Iterator[ModelServer]:
    """The scripted AI model the agent tests talk to (tests/support/model_server.py)."""
    server = ModelServer().start()
    yield server
    server.stop()


@pytest.fixture
def api(engine: EngineProcess) -> Iterator[httpx.Client]:
    """An admin-scoped client of the session engine's /v1."""
    with engine.client("admin") as client:
        yield client


@pytest.fixture
def workspace(api: httpx.Client, request: pytest.FixtureRequest) -> Iterator[dict]:
    """A fresh workspace, deleted (with its runtimes) after the test."""
    response = api.post("/workspaces", json={"name": f"test {request.node.name}"[:200]})
    assert response.status_code == 201, response.text
    body = response.json()
    yield body
    api.delete(f"/workspaces/{body['id']}", params={"force": "true"})


def pytest_configure(config: pytest.Config) -> None:
    Path("var").mkdir(exist_ok=True)


@pytest.fixture(scope="module")
def echoed(engine: EngineProcess, site: TestSite) -> Iterator[dict[str, Any]]:
    """A run whose operator filled a vault password into a login that echoes it (tests/support/vault_echo.py)."""
    yield from echo_run(engine, site)
