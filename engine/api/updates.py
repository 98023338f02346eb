"""The organisation's update log: a page for catch-up, and a live SSE stream.

The stream replays every update after `Last-Event-ID` (or `?after=`) from the table, then goes
live: the writer (engine.updates.record_update) wakes listeners from memory, and the stream
reads the table again from the last id it sent. Reading by id, never forwarding in-memory
payloads, is what makes "nothing skipped, nothing twice" hold across a wake-up race.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Header, Query, Router, Schema
from pydantic import Field

from engine import updates as update_log
from engine import wire
from engine.api.auth import READ
from engine.api.common import Timestamp
from engine.api.limits import HeldStream, key_id, wait_slots
from engine.errors import invalid
from engine.models import Update

router = Router(tags=["updates"])

KEEP_ALIVE_SECONDS = 15.0
BATCH = 500


class UpdateOut(Schema):
    id: int
    type: str
    createdAt: Timestamp
    workspaceId: str | None
    data: dict[str, Any]


class UpdatePage(Schema):
    updates: list[UpdateOut]
    nextCursor: str | None = Field(
        description="The `after` of the next page; null when this page is the last."
    )


class UpdateFilters(Schema):
    after: int = Field(default=0, ge=0, description="Sequence of the last update already seen.")
    limit: int = Field(default=100, ge=1, le=500)


@router.get(
    "",
    operation_id="updates-list",
    auth=READ,
    response=UpdatePage,
    summary="Updates after a sequence, oldest first",
)
async def list_updates(request: HttpRequest, filters: Query[UpdateFilters]) -> dict[str, Any]:
    rows = [u async for u in Update.objects.filter(id__gt=filters.after).order_by("id")[: filters.limit + 1]]
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    return {"updates": [wire.update(u) for u in rows], "nextCursor": str(rows[-1].id) if more else None}


def _frame(update: Update) -> str:
    body = wire.jsonable(wire.update(update))
    return f"id: {update.id}\nevent: {update.type}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n"


async def _stream(after: int) -> AsyncIterator[str]:
    wake = update_log.listen()
    try:
        yield "retry: 2000\n\n"
        last = after
        while True:
            # Clear before reading: an update written after this read sets it again, so the
            # wait below cannot sleep through it.
            wake.clear()
            rows = [u async for u in Update.objects.filter(id__gt=last).order_by("id")[:BATCH]]
            for update in rows:
                yield _frame(update)
                last = update.id
            if len(rows) == BATCH:
                continue
            try:
                await asyncio.wait_for(wake.wait(), timeout=KEEP_ALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
    finally:
        update_log.unlisten(wake)


@router.get(
    "/stream",
    operation_id="updates-stream",
    auth=READ,
    summary="Live updates (text/event-stream)",
    description="Each update is `id: <sequence>`, `event: <type>`, `data: <Update JSON>`; a `: keep-alive` "
    "comment every 15 s. Resume with the Last-Event-ID header or `?after=`; without either the stream "
    "starts at the newest update.",
    response={200: None},
    openapi_extra={"responses": {"200": {"content": {"text/event-stream": {}}}}},
)
async def stream(
    request: HttpRequest,
    after: int | None = Query(default=None, ge=0),  # type: ignore[type-arg]
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),  # type: ignore[type-arg]
) -> StreamingHttpResponse:
    start = after
    if last_event_id:
        if not last_event_id.strip().isdigit():
            raise invalid(
                "Last-Event-ID must be an update sequence number.",
                [{"path": "Last-Event-ID", "message": "Not a sequence number."}],
            )
        start = int(last_event_id)
    if start is None:
        newest = await Update.objects.order_by("-id").values_list("id", flat=True).afirst()
        start = newest or 0
    slot = wait_slots.take(key_id(request))  # one of the key's ENGINE_MAX_WAITS_PER_KEY, held until it closes
    response = HeldStream(_stream(start), slot, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not hold events back
    return response
