"""Runtimes: typed results and calls, plus the lists the launch form chooses from.

A workspace's alias names its newest run; each run also has its own id, and the by-id calls
(`list_every_runtime`, `get_run`, `bctrl.events.list_run_events`) reach every run, older runs of
a reused alias included. Those routes are this engine's (the contract's "organisation-wide
runtimes and single runs"): an API without them answers a BctrlError whose `not_offered` is set.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.creates import create_once, find_at
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.operations import Operation
from dashboard.bctrl.pages import Page, items_of, page_of, parse_time, split_cursor

ALIAS_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
DRIVERS = ("playwright", "puppeteer", "selenium", "stagehand")
STATUSES = ("active", "stopped", "failed")


@dataclass(frozen=True)
class Summary:
    browser_running: bool
    current_driver: str
    default_context_id: str | None
    default_page_id: str | None
    launch_mode: str
    profile_id: str | None
    storage_workspace: str

    @classmethod
    def from_api(cls, body: dict[str, Any] | None) -> "Summary":
        body = body or {}
        return cls(
            browser_running=bool(body.get("browserRunning")),
            current_driver=body.get("currentDriver") or "",
            default_context_id=body.get("defaultContextId"),
            default_page_id=body.get("defaultPageId"),
            launch_mode=body.get("launchMode") or "ephemeral",
            profile_id=body.get("profileId"),
            storage_workspace=body.get("storageWorkspace") or "",
        )


@dataclass(frozen=True)
class Binding:
    """A named reference a runtime holds: a page, context, handle or subscription."""

    alias: str
    id: str
    type: str
    url: str | None = None


@dataclass(frozen=True)
class Failure:
    code: str
    message: str


@dataclass(frozen=True)
class Runtime:
    id: str
    alias: str
    workspace_id: str
    kind: str
    driver: str
    status: str
    summary: Summary
    config: dict[str, Any]
    created_at: datetime | None
    started_at: datetime | None
    stopped_at: datetime | None
    failure: Failure | None
    bindings: list[Binding] = field(default_factory=list)
    # Why a stopped runtime stopped (requested, idle, engine_shutdown); None while active, when
    # failed, or from an API that does not say.
    stop_reason: str | None = None
    # Labels the launcher gave the run (this engine's `metadata`: string keys and values).
    metadata: dict[str, str] = field(default_factory=dict)
    # The mounts it runs with (its workspace's, within its launch's narrowing); None when not said.
    mounts: dict[str, Any] | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def ended(self) -> bool:
        return not self.active

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "Runtime":
        failure = body.get("failure")
        return cls(
            id=body["id"],
            alias=body["alias"],
            workspace_id=body["workspaceId"],
            kind=body.get("kind", "browser"),
            driver=body.get("driver", ""),
            status=body["status"],
            summary=Summary.from_api(body.get("summary")),
            config=body.get("config") or {},
            created_at=parse_time(body.get("createdAt")),
            started_at=parse_time(body.get("startedAt")),
            stopped_at=parse_time(body.get("stoppedAt")),
            failure=Failure(failure.get("code", ""), failure.get("message", "")) if failure else None,
            bindings=[
                Binding(b["alias"], b["id"], b.get("type", ""), b.get("url"))
                for b in body.get("bindings") or []
            ],
            stop_reason=body.get("stopReason"),
            metadata={str(k): str(v) for k, v in labels.items()}
            if isinstance(labels := body.get("metadata"), dict)
            else {},
            mounts=body["mounts"] if isinstance(body.get("mounts"), dict) else None,
        )


@dataclass(frozen=True)
class WorkspaceState:
    """What a workspace holds right now: its runtimes (with bindings) and running operations."""

    runtimes: list[Runtime]
    active_operations: list[Operation]

    def runtime(self, alias: str) -> Runtime | None:
        return next((r for r in self.runtimes if r.alias == alias), None)


@dataclass(frozen=True)
class Choice:
    """A profile or extension the launch form offers: id and what the operator calls it."""

    id: str
    name: str
    note: str = ""


async def list_runtimes(
    workspace_id: str,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    metadata: dict[str, str] | None = None,
) -> Page[Runtime]:
    """A workspace's runs, newest first; `metadata` keeps those labelled with all of it. The
    console filters, orders and pages what an API without those (the public list) sent whole."""
    api_cursor, offset = split_cursor(cursor)
    body = await get_client().get(
        f"workspaces/{workspace_id}/runtimes",
        params={"status": status, "cursor": api_cursor, "limit": limit, **_metadata_params(metadata)},
    )
    page = page_of(body, "runtimes", Runtime.from_api).where(lambda r: _labelled(r, metadata))
    if status:
        page = page.where(lambda runtime: runtime.status == status)
    return page.newest_first(lambda runtime: runtime.created_at).window(limit, offset)


def _metadata_params(metadata: dict[str, str] | None) -> dict[str, str]:
    return {f"metadata.{key}": value for key, value in (metadata or {}).items()}


def _labelled(runtime: Runtime, metadata: dict[str, str] | None) -> bool:
    """Checked here too: an API without metadata ignores the filter (its pages come back short)."""
    return all(runtime.metadata.get(key) == value for key, value in (metadata or {}).items())


async def get_runtime(workspace_id: str, alias: str) -> Runtime:
    """The newest run of `alias` in the workspace."""
    return Runtime.from_api(await get_client().get(f"workspaces/{workspace_id}/runtimes/{alias}"))


async def list_every_runtime(
    *,
    workspace_id: str | None = None,
    alias: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    metadata: dict[str, str] | None = None,
) -> Page[Runtime]:
    """Every run of every workspace (or of one, or of one alias), newest first, each run on its
    own; `metadata` keeps those labelled with all of it."""
    body = await get_client().get(
        "runtimes",
        params={
            "workspaceId": workspace_id,
            "alias": alias,
            "status": status,
            "cursor": cursor,
            "limit": limit,
            **_metadata_params(metadata),
        },
    )
    return page_of(body, "runtimes", Runtime.from_api).where(lambda r: _labelled(r, metadata))


async def get_run(runtime_id: str) -> Runtime:
    """One run by id, whatever its status and whether or not it still owns its alias."""
    return Runtime.from_api(await get_client().get(f"runtimes/{runtime_id}"))


async def launch_runtime(
    workspace_id: str,
    *,
    alias: str,
    driver: str,
    launch: dict[str, Any],
    mounts: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Runtime:
    """Launch a browser; the API answers once it is ready, which takes a second or two."""
    payload: dict[str, Any] = {"alias": alias, "kind": "browser", "driver": driver, "launch": launch}
    if mounts:
        payload["mounts"] = mounts
    if metadata:
        payload["metadata"] = metadata
    body = await create_once(
        f"workspaces/{workspace_id}/runtimes",
        payload,
        what=f"the runtime “{alias}”",
        find=find_at(f"workspaces/{workspace_id}/runtimes/{alias}"),
        idempotency_key=idempotency_key,
        timeout=120.0,
    )
    runtime = Runtime.from_api(body)
    if runtime.status == "failed":  # an unanswered launch that was made, and failed: say why
        failure = runtime.failure
        raise BctrlError(
            503,
            failure.code if failure and failure.code else "runtime.launch_failed",
            failure.message if failure and failure.message else f"The runtime “{alias}” did not start.",
        )
    return runtime


async def stop_runtime(workspace_id: str, alias: str) -> Runtime:
    body = await get_client().post(f"workspaces/{workspace_id}/runtimes/{alias}/stop", timeout=60.0)
    return Runtime.from_api(body)


async def get_state(workspace_id: str) -> WorkspaceState:
    body = await get_client().get(f"workspaces/{workspace_id}/state")
    return WorkspaceState(
        runtimes=[Runtime.from_api(r) for r in body.get("runtimes") or []],
        active_operations=[Operation.from_api(o) for o in body.get("activeOperations") or []],
    )


async def profile_choices() -> list[Choice]:
    """Browser profiles to launch from; one in use is marked, since launching it would be refused."""
    body = await get_client().get("browser-profiles", params={"limit": 500})
    return items_of(
        body,
        "profiles",
        lambda p: Choice(p["id"], p.get("name") or p["id"], "in use" if p.get("inUse") else ""),
    )


async def extension_choices() -> list[Choice]:
    """Enabled browser extensions (disabled ones cannot be loaded)."""
    body = await get_client().get("browser-extensions", params={"limit": 500})
    enabled = [e for e in items_of(body, "extensions", dict) if e.get("enabled", True)]
    return [Choice(e["id"], f"{e.get('name') or e['id']} {e.get('version') or ''}".strip()) for e in enabled]
