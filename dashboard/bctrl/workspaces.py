"""Workspaces: typed results and calls."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.creates import create_once, find_named
from dashboard.bctrl.pages import Page, name_contains, one_of, page_of, parse_time, split_cursor


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    mounts: dict[str, Any]
    runtime_count: int
    active_runtime_count: int
    created_at: datetime | None
    updated_at: datetime | None
    # In an update's answer (this engine): how many running runtimes took the new mounts; None
    # when the API does not say (it may apply new mounts to new launches only).
    runtimes_updated: int | None = None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "Workspace":
        return cls(
            id=body["id"],
            name=body["name"],
            mounts={k: v for k, v in (body.get("mounts") or {}).items() if v is not None},
            runtime_count=body.get("runtimeCount", 0),
            active_runtime_count=body.get("activeRuntimeCount", 0),
            created_at=parse_time(body.get("createdAt")),
            updated_at=parse_time(body.get("updatedAt")),
            runtimes_updated=body["runtimesUpdated"]
            if isinstance(body.get("runtimesUpdated"), int)
            else None,
        )


async def list_workspaces(
    q: str | None = None, cursor: str | None = None, limit: int = 50
) -> Page[Workspace]:
    """Workspaces, newest first; `q` keeps those whose name contains it. The public list takes
    neither a query nor pages: the console filters, orders and pages what it got (`fetched`)."""
    api_cursor, offset = split_cursor(cursor)
    body = await get_client().get("workspaces", params={"q": q, "cursor": api_cursor, "limit": limit})
    page = page_of(body, "workspaces", Workspace.from_api)
    if q:
        page = page.where(lambda workspace: name_contains(workspace.name, q))
    return page.newest_first(lambda workspace: workspace.created_at).window(limit, offset)


async def get_workspace(workspace_id: str) -> Workspace:
    return one_of(await get_client().get(f"workspaces/{workspace_id}"), Workspace.from_api, "workspace")


async def create_workspace(
    name: str, mounts: dict[str, Any] | None = None, idempotency_key: str | None = None
) -> Workspace:
    payload: dict[str, Any] = {"name": name}
    if mounts:
        payload["mounts"] = mounts
    # the newest workspaces (this engine lists newest first; the public list is whole)
    find = find_named("workspaces", "workspaces", name)
    body = await create_once(
        "workspaces", payload, what=f"the workspace “{name}”", find=find, idempotency_key=idempotency_key
    )
    return one_of(body, Workspace.from_api, "workspace")


async def update_workspace(
    workspace_id: str, *, name: str | None = None, mounts: dict[str, Any] | None = None
) -> Workspace:
    payload: dict[str, Any] = {}
    if name is not None:
        payload["name"] = name
    if mounts is not None:
        payload["mounts"] = mounts
    return Workspace.from_api(await get_client().patch(f"workspaces/{workspace_id}", json=payload))


async def delete_workspace(workspace_id: str, force: bool = False) -> None:
    await get_client().delete(f"workspaces/{workspace_id}", params={"force": "true" if force else None})
