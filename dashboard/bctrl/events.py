"""Runtime events: typed results and the list call."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.pages import Page, page_of, parse_time

EVENT_TYPES = (
    "runtime.started",
    "runtime.stopped",
    "runtime.failed",
    "page.created",
    "page.navigated",
    "page.loaded",
    "page.closed",
    "page.error",
    "page.crashed",
    "console.message",
    "network.request",
    "network.response",
    "network.failed",
    "dialog.opened",
    "download.started",
    "download.finished",
    "step.started",
    "step.finished",
)


@dataclass(frozen=True)
class Event:
    id: str
    event_type: str
    event_data: dict[str, Any]
    created_at: datetime | None
    runtime: str
    operation_id: str | None
    sequence: int | None

    @property
    def family(self) -> str:
        """`page`, `network`, `runtime`...: what the timeline colours an event by."""
        return self.event_type.split(".", 1)[0]

    @property
    def data_json(self) -> str:
        """The event's data on one line, for a timeline row."""
        return json.dumps(self.event_data, ensure_ascii=False, separators=(", ", ": "), default=str)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "Event":
        return cls(
            id=body["id"],
            event_type=body["eventType"],
            event_data=body.get("eventData") or {},
            created_at=parse_time(body.get("createdAt")),
            runtime=body.get("runtime", ""),
            operation_id=body.get("operationId"),
            sequence=body.get("sequence"),
        )


async def list_events(
    workspace_id: str,
    alias: str,
    event_types: list[str] | None = None,
    cursor: str | None = None,
    limit: int = 50,
    after: int | None = None,
) -> Page[Event]:
    """A page of a runtime's events, oldest first; `cursor` is the previous page's opaque nextCursor,
    `after` a sequence (the events newer than it)."""
    body = await get_client().get(
        f"workspaces/{workspace_id}/runtimes/{alias}/events",
        params={"eventTypes": ",".join(event_types or []), "cursor": cursor, "limit": limit, "after": after},
    )
    return page_of(body, "events", Event.from_api)


@dataclass(frozen=True)
class Waited:
    """What `events/wait` answered: the first event newer than `after`, or none before the timeout."""

    event: Event | None
    timed_out: bool


async def wait_event(
    workspace_id: str, alias: str, after: int | None, timeout_ms: int = 25_000, keep_alive: bool = True
) -> Waited:
    """Block (upstream) until the runtime has an event newer than `after`, or `timeout_ms` passes.

    `keep_alive=False` only watches: the runtime may idle out meanwhile (this engine's option).
    """
    payload: dict[str, Any] = {"timeoutMs": timeout_ms}
    if not keep_alive:
        payload["keepAlive"] = False
    if after is not None:
        payload["after"] = after
    body = await get_client().post(
        f"workspaces/{workspace_id}/runtimes/{alias}/events/wait",
        json=payload,
        timeout=timeout_ms / 1000 + 15,
    )
    body = body if isinstance(body, dict) else {}
    event = body.get("event")
    return Waited(Event.from_api(event) if event else None, bool(body.get("timedOut")))


async def list_run_events(
    runtime_id: str,
    event_types: list[str] | None = None,
    cursor: str | None = None,
    limit: int = 50,
    after: int | None = None,
) -> Page[Event]:
    """A page of one run's events by its id (an older run of a reused alias too), oldest first;
    `after` a sequence, as in `list_events`."""
    body = await get_client().get(
        f"runtimes/{runtime_id}/events",
        params={"eventTypes": ",".join(event_types or []), "cursor": cursor, "limit": limit, "after": after},
    )
    return page_of(body, "events", Event.from_api)
