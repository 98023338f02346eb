"""Runtime events: list by sequence, and wait for the next matching one.

Cursors here are sequences (as strings): `after=12` means "events numbered 13 and later".
A runtime that has ended keeps its events; waiting on it answers at once (`timedOut: false`)
since nothing can arrive any more.
"""

import contextlib
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field, field_validator

from engine import wire
from engine.api.auth import READ
from engine.api.common import RuntimeId, WorkspaceId
from engine.api.limits import waiting
from engine.api.runtimes import get_run, get_runtime
from engine.api.schemas import EventOut
from engine.api.workspaces import get_workspace
from engine.errors import ApiError
from engine.models import Runtime, RuntimeEvent
from engine.runtimes.events import EventFilter, event_log
from engine.runtimes.manager import manager

router = Router(tags=["events"])
runtime_router = Router(tags=["events"])

MAX_WAIT_MS = 120_000


def _sequence(value: int | str | None, name: str) -> int:
    if value is None or value == "":
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise ApiError(
            400,
            "request.invalid",
            f"{name} must be an event sequence (a whole number ≥ 0) from a previous answer.",
            {"fields": [{"path": name, "message": "Not a sequence."}]},
        )
    return number


def _types(value: str | list[str] | None) -> frozenset[str]:
    if not value:
        return frozenset()
    items = value if isinstance(value, list) else value.split(",")
    return frozenset(t.strip() for t in items if t.strip())


class EventFilters(Schema):
    eventTypes: str | None = Field(default=None, max_length=2000, description="Comma-separated event types.")
    after: str | None = Field(default=None, max_length=20, description="Only events with a larger sequence.")
    cursor: str | None = Field(default=None, max_length=20, description="nextCursor of the previous page.")
    limit: int = Field(default=100, ge=1, le=500)


class EventList(Schema):
    events: list[EventOut]
    nextCursor: str | None


class EventWait(Schema):
    eventTypes: list[str] | None = Field(default=None, max_length=100)
    after: int | str | None = Field(default=None, description="A sequence: wait for events after it.")
    pageId: str | None = Field(default=None, max_length=64)
    contextId: str | None = Field(default=None, max_length=64)
    timeoutMs: int = Field(default=30_000, ge=0, le=MAX_WAIT_MS)
    keepAlive: bool = Field(
        default=True,
        description="Ours. false: the wait only watches (a console's live inspector); the runtime may still "
        "stop for idleness meanwhile, as watching a live view does not keep it either.",
    )

    @field_validator("eventTypes", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return value.split(",") if isinstance(value, str) else value


class EventWaitResult(Schema):
    event: EventOut | None
    cursor: str = Field(description="Pass as `after` to continue from here.")
    timedOut: bool


@router.get(
    "/{workspaceId}/runtimes/{alias}/events",
    operation_id="runtime-events-list",
    auth=READ,
    response=EventList,
    summary="A runtime's events in sequence order",
)
async def list_events(
    request: HttpRequest, workspace_id: WorkspaceId, alias: str, filters: Query[EventFilters]
) -> dict[str, Any]:
    return await _events_page(await get_runtime(await get_workspace(workspace_id), alias), filters)


@runtime_router.get(
    "/{runtimeId}/events",
    operation_id="run-events-list",
    auth=READ,
    response=EventList,
    summary="One run's events in sequence order (by runtime id: older runs of an alias too)",
)
async def list_run_events(
    request: HttpRequest, runtime_id: RuntimeId, filters: Query[EventFilters]
) -> dict[str, Any]:
    return await _events_page(await get_run(runtime_id), filters)


async def _events_page(runtime: Runtime, filters: EventFilters) -> dict[str, Any]:
    after = _sequence(filters.cursor or filters.after, "cursor" if filters.cursor else "after")
    await event_log.flush()  # the list shows what has been emitted, not only what is written
    where = EventFilter(event_types=_types(filters.eventTypes))
    queryset = where.apply(RuntimeEvent.objects.filter(runtime=runtime, sequence__gt=after))
    rows = [e async for e in queryset.order_by("sequence")[: filters.limit + 1]]
    next_cursor = None
    if len(rows) > filters.limit:
        rows = rows[: filters.limit]
        next_cursor = str(rows[-1].sequence)
    return {"events": [wire.event(e, runtime.alias, runtime.kind) for e in rows], "nextCursor": next_cursor}


@router.post(
    "/{workspaceId}/runtimes/{alias}/events/wait",
    operation_id="runtime-events-wait",
    auth=READ,
    response=EventWaitResult,
    summary="Wait for the next matching event after `after` (at most timeoutMs)",
)
async def wait_for_event(
    request: HttpRequest, workspace_id: WorkspaceId, alias: str, payload: EventWait
) -> dict[str, Any]:
    async with waiting(request):  # one of the key's ENGINE_MAX_WAITS_PER_KEY
        runtime = await get_runtime(await get_workspace(workspace_id), alias)
        after = _sequence(payload.after, "after")
        where = EventFilter(
            event_types=_types(payload.eventTypes), page_id=payload.pageId, context_id=payload.contextId
        )
        session = manager.session(runtime.id)
        # A runtime someone waits on is in use: it does not idle out under a waiter; unless the
        # waiter only watches (keepAlive: false), like a viewer of its live view.
        using = session is not None and payload.keepAlive
        with session.in_use() if session is not None and using else contextlib.nullcontext():
            event, cursor, timed_out = await event_log.wait(
                runtime.id, after, where, payload.timeoutMs / 1000
            )
    return {
        "event": wire.event(event, runtime.alias, runtime.kind) if event else None,
        "cursor": str(cursor),
        "timedOut": timed_out,
    }
