"""A live runtime shared by one test module: launching Chromium costs a second or two, so each
runtime test module launches one and its read-only tests share it."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from tests.support.engine_process import EngineProcess


@dataclass(frozen=True)
class LiveRuntime:
    workspace_id: str
    alias: str

    @property
    def url(self) -> str:
        return f"/workspaces/{self.workspace_id}/runtimes/{self.alias}/"

    @property
    def api_path(self) -> str:
        return f"/workspaces/{self.workspace_id}/runtimes/{self.alias}"


@contextmanager
def live_runtime(engine: EngineProcess, alias: str = "shared") -> Iterator[LiveRuntime]:
    """A workspace with one active ephemeral runtime; the workspace (and runtime) go afterwards."""
    with engine.client("admin") as api:
        workspace = api.post("/workspaces", json={"name": f"runtime tests {uuid.uuid4().hex[:6]}"}).json()
        response = launch(api, workspace["id"], alias)
        assert response.status_code == 200, response.text
        try:
            yield LiveRuntime(workspace["id"], alias)
        finally:
            api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})


def launch(api: httpx.Client, workspace_id: str, alias: str) -> httpx.Response:
    return api.post(
        f"/workspaces/{workspace_id}/runtimes",
        json={"alias": alias, "kind": "browser", "driver": "playwright", "launch": {"mode": "ephemeral"}},
        timeout=120,
    )


def execute(api: httpx.Client, runtime: LiveRuntime, *steps: dict) -> dict:
    response = api.post(
        f"/workspaces/{runtime.workspace_id}/execute",
        json={"runtime": runtime.alias, "steps": list(steps), "mode": "fail-fast"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    return response.json()
