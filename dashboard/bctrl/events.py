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


def _sequence(value: Any) -> int | None:
    """This engine's per-runtime sequence; the public events have none (never assumed)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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
            sequence=_sequence(body.get("sequence")),
        )


async def list_events(
    workspace_id: str,
    alias: str,
    event_types: list[str] | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Event]:
    """A page of a runtime's events, oldest first, after `cursor` (None: from the first).

    `cursor` is opaque: the previous page's nextCursor, or a `cursor` from `wait_event`. It goes
    out as `after`, which the public list takes (this engine takes it too, as a sequence)."""
    body = await get_client().get(
        f"workspaces/{workspace_id}/runtimes/{alias}/events",
        params={"eventTypes": ",".join(event_types or []), "after": cursor, "limit": limit},
    )
    return _of_types(page_of(body, "events", Event.from_api), event_types)


def _of_types(page: Page[Event], event_types: list[str] | None) -> Page[Event]:
    """Only the types asked for, should an API ignore the filter."""
    return page.where(lambda event: event.event_type in event_types) if event_types else page


def position_after(page: Page[Event], cursor: str | None) -> str | None:
    """Where the events after `page` start (it was read from `cursor`): its nextCursor, or the
    last event's sequence (this engine's), or None when the API gives neither (the public list's
    last page): then only the position it was read from is known."""
    if page.next_cursor:
        return page.next_cursor
    if page.items and page.items[-1].sequence is not None:
        return str(page.items[-1].sequence)
    return None if page.items else cursor


@dataclass(frozen=True)
class Waited:
    """What `events/wait` answered: the first event after `after` (or none before the timeout),
    and the opaque position after it (the API's `cursor`; None when it sent none)."""

    event: Event | None
    cursor: str | None
    timed_out: bool


async def wait_event(
    workspace_id: str, alias: str, after: str | None, timeout_ms: int = 25_000, keep_alive: bool = True
) -> Waited:
    """Block (upstream) until the runtime has an event after the position `after`, or `timeout_ms` passes.

    `keep_alive=False` only watches: the runtime may idle out meanwhile (this engine's option).
    """
    payload: dict[str, Any] = {"timeoutMs": timeout_ms}
    if not keep_alive:
        payload["keepAlive"] = False
    if after:
        payload["after"] = after
    body = await get_client().post(
        f"workspaces/{workspace_id}/runtimes/{alias}/events/wait",
        json=payload,
        timeout=timeout_ms / 1000 + 15,
    )
    body = body if isinstance(body, dict) else {}
    event = body.get("event")
    cursor = body.get("cursor")
    return Waited(
        Event.from_api(event) if isinstance(event, dict) else None,
        str(cursor) if cursor not in (None, "") else None,
        bool(body.get("timedOut")),
    )


async def list_run_events(
    runtime_id: str,
    event_types: list[str] | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Event]:
    """A page of one run's events by its id (an older run of a reused alias too), oldest first,
    after the opaque `cursor` as in `list_events`."""
    body = await get_client().get(
        f"runtimes/{runtime_id}/events",
        params={"eventTypes": ",".join(event_types or []), "after": cursor, "limit": limit},
    )
    return _of_types(page_of(body, "events", Event.from_api), event_types)
