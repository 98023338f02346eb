"""Fixtures of the engine tests: a client, a live runtime, and for the agent tests a scripted model
server and an engine that knows it.

The agent engine has a platform credential (ENGINE_AI_*) pointing at the scripted server; the
session engine of tests/conftest.py has none, which is how the "no platform credential" rule is
tested. Saved credentials for the three providers point at the same server.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.engine_process import EngineProcess
from tests.support.live_viewer import Runtime
from tests.support.model_server import ModelServer
from tests.support.site import TestSite
from tests.support.workspaces import new_workspace

PLATFORM_KEY = "sk-platform-" + "p" * 16
PROVIDERS = ("openai", "anthropic", "google")


@pytest.fixture(scope="module")
def client(engine: EngineProcess) -> Iterator[httpx.Client]:
    """An operator-scoped client of the session engine's /v1 (a module's own fixture may replace it)."""
    with engine.client("operator") as client:
        yield client


@pytest.fixture
def workspace_id(client: httpx.Client, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh workspace of `client`'s engine, named after the test, deleted after it."""
    with new_workspace(client, request.node.name[:100]) as workspace_id:
        yield workspace_id


@pytest.fixture
def runtime(
    engine: EngineProcess, site: TestSite, workspace: dict, request: pytest.FixtureRequest
) -> Iterator[Runtime]:
    """A runtime of `workspace` showing the suite's live.html (indirect param: its launch config)."""
    config = getattr(request, "param", {})
    with engine.client("operator") as api:
        response = api.post(
            f"/workspaces/{workspace['id']}/runtimes",
            json={"alias": "watched", "launch": {"mode": "ephemeral", "config": config}},
        )
        assert response.status_code == 200, response.text
        launched = Runtime(api, workspace["id"], "watched", response.json()["id"])
        launched.execute({"call": "page.goto", "args": [f"{site.url}/live.html"]})
        yield launched


@pytest.fixture(scope="session")
def agent_engine(
    tmp_path_factory: pytest.TempPathFactory, model_server: ModelServer, site: TestSite
) -> Iterator[EngineProcess]:
    process = EngineProcess(
        tmp_path_factory.mktemp("agent-engine"),
        {
            "ENGINE_AI_PROVIDER": "openai-compatible",
            "ENGINE_AI_BASE_URL": model_server.base_url("openai"),
            "ENGINE_AI_API_KEY": PLATFORM_KEY,
            "ENGINE_AI_MODEL": "platform-model",
        },
        # its agents browse the suite's site and ask the scripted model, nothing else on loopback
        allow=f"{site.host_port},{model_server.host_port}",
    ).start()
    yield process
    process.stop()


@pytest.fixture
def agent_api(agent_engine: EngineProcess) -> Iterator[httpx.Client]:
    with agent_engine.client("admin") as client:
        yield client


@pytest.fixture(scope="session")
def credentials(agent_engine: EngineProcess, model_server: ModelServer) -> dict[str, dict[str, str]]:
    """A saved credential per provider: {provider: {id, key}}."""
    made = {}
    with agent_engine.client("admin") as api:
        for provider in PROVIDERS:
            credential = {
                "id": f"{provider}-{uuid.uuid4().hex[:6]}",
                "key": f"sk-{provider}-{uuid.uuid4().hex}",
            }
            response = api.post(
                "/ai-credentials",
                json={
                    "id": credential["id"],
                    "provider": provider,
                    "label": f"scripted {provider}",
                    "apiKey": credential["key"],
                    "baseUrl": model_server.base_url(provider),
                    "defaultModel": f"default-{provider}",
                },
            )
            assert response.status_code == 200, response.text
            made[provider] = credential
    return made


class AgentWorkspace:
    """A workspace whose mounts allow the three saved credentials (openai by default) and a
    vault prefix, with one runtime `agent`."""

    def __init__(
        self, api: httpx.Client, site: TestSite, workspace: dict[str, Any], vault_prefix: str
    ) -> None:
        self.api = api
        self.site = site
        self.id = workspace["id"]
        self.vault_prefix = vault_prefix

    def execute(self, *steps: dict[str, Any], runtime: str = "agent") -> dict[str, Any]:
        response = self.api.post(
            f"/workspaces/{self.id}/execute", json={"runtime": runtime, "steps": list(steps)}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def goto(self, page: str, runtime: str = "agent") -> None:
        body = self.execute({"call": "page.goto", "args": [f"{self.site.url}/{page}"]}, runtime=runtime)
        assert body["status"] == "succeeded", body

    def wait(self, operation_id: str, timeout_ms: int = 60_000) -> dict[str, Any]:
        body = self.api.post(f"/operations/{operation_id}/wait", json={"timeoutMs": timeout_ms}).json()
        assert body["timedOut"] is False, body
        return body["operation"]


@pytest.fixture(scope="module")
def agents(
    agent_engine: EngineProcess, credentials: dict[str, dict[str, str]], site: TestSite
) -> Iterator[AgentWorkspace]:
    vault_prefix = f"agents-{uuid.uuid4().hex[:6]}"
    with agent_engine.client("admin", timeout=120) as api:
        workspace = api.post(
            "/workspaces",
            json={
                "name": "agents",
                "mounts": {
                    "ai": {
                        "allow": [c["id"] for c in credentials.values()],
                        "defaults": {"openai": credentials["openai"]["id"]},
                    },
                    "vault": {"allow": [vault_prefix]},
                },
            },
        ).json()
        created = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "agent"})
        assert created.status_code == 200, created.text
        yield AgentWorkspace(api, site, workspace, vault_prefix)
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})


@pytest.fixture
def model(request: pytest.FixtureRequest) -> str:
    """A model name of the test's own: the scripted server keys its scripts by model."""
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in request.node.name[:40])
    return f"m-{name}-{uuid.uuid4().hex[:6]}"
