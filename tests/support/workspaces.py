"""A workspace made through an engine client for a test's span, deleted (with its runtimes) after."""

from collections.abc import Iterator
from contextlib import contextmanager

import httpx


@contextmanager
def new_workspace(client: httpx.Client, name: str, runtime: str | None = None) -> Iterator[str]:
    """The new workspace's id; with `runtime`, it has a runtime of that alias from the start."""
    response = client.post("/workspaces", json={"name": name})
    assert response.status_code == 201, response.text
    workspace_id: str = response.json()["id"]
    try:
        if runtime is not None:
            launched = client.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": runtime})
            assert launched.status_code == 200, launched.text
        yield workspace_id
    finally:
        client.delete(f"/workspaces/{workspace_id}", params={"force": "true"})
