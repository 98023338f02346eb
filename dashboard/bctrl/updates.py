"""The organisation's updates: the typed SSE stream (`/updates/stream`) and the catch-up page.

The stream is read through the pooled client with httpx-sse. It yields typed updates and ends
(raising BctrlError) when the connection drops; resuming is the caller's job, with the id of
the last update it handled as `after` (sent as `Last-Event-ID`, as the contract says).

An update's id is this engine's sequence (the SSE `id:` line, or `id` in its data). The public
stream sends updates without ids: they are read all the same (`id` None), and a reader of such
a stream cannot resume after a drop (there is no position to resume from).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import Unavailable, UnexpectedAnswer
from dashboard.bctrl.pages import items_of, parse_time

# The stream sends a keep-alive comment every 15 s: a read that waits longer means the
# connection is dead (a cut network never closes it), so the reader gives up and resumes.
STREAM_READ_TIMEOUT_SECONDS = 45.0


@dataclass(frozen=True)
class Update:
    id: int | None  # None: the API numbers no updates (the public stream)
    type: str
    created_at: datetime | None
    workspace_id: str | None
    data: dict[str, Any]

    @property
    def family(self) -> str:
        """What the update is about: `runtime`, `operation`, `vault`, `storage`..."""
        return self.type.split(".", 1)[0]

    @classmethod
    def from_api(cls, body: dict[str, Any], event_id: str = "") -> "Update":
        return cls(
            id=_sequence(body.get("id", event_id)),
            type=str(body["type"]),
            created_at=parse_time(body.get("createdAt")),
            workspace_id=body.get("workspaceId"),
            data=body.get("data") or {},
        )


@asynccontextmanager
async def open_stream(after: int | None) -> AsyncIterator[AsyncIterator[Update]]:
    """Open the stream of every update after `after` (None: from now on), then live ones.

    Entering it connects (raising BctrlError if the API refuses or cannot be reached); iterating
    yields typed updates and raises BctrlError when the connection drops. Keep-alives are skipped.
    """
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if after is not None:
        headers["Last-Event-ID"] = str(after)
    timeout = httpx.Timeout(STREAM_READ_TIMEOUT_SECONDS, connect=5.0)
    async with get_client().stream("GET", "updates/stream", headers=headers, timeout=timeout) as response:
        yield _updates(response)


async def _updates(response: httpx.Response) -> AsyncIterator[Update]:
    try:
        async for message in EventSource(response).aiter_sse():
            if not message.data:
                continue
            try:
                yield Update.from_api(message.json(), message.id)
            except (KeyError, TypeError, ValueError) as exc:
                raise UnexpectedAnswer(
                    502,
                    "api.unexpected_answer",
                    f"The updates stream sent an update the console cannot read ({exc!r}).",
                ) from exc
    except SSEError as exc:  # not text/event-stream: something else answered in the API's place
        raise UnexpectedAnswer(
            502, "api.unexpected_answer", f"The updates stream is not an event stream: {exc}"
        ) from exc
    except httpx.TransportError as exc:  # cut off mid-stream, or no keep-alive in time
        raise Unavailable(0, "api.unreachable", "The updates stream was cut off.", transient=True) from exc


def _sequence(value: Any) -> int | None:
    """An update's id as this engine's sequence; None when there is none (or it is not a number,
    which the console cannot resume from)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


async def list_updates(after: int, limit: int = 500) -> tuple[list[Update], bool]:
    """Updates after `after`, oldest first, and whether more follow (a browser's catch-up)."""
    body = await get_client().get("updates", params={"after": after, "limit": limit})
    return items_of(body, "updates", Update.from_api), bool(body.get("nextCursor"))


async def newest_update_id() -> int:
    """The sequence of the newest update: where a page that just rendered starts listening."""
    after = 0
    while True:
        updates, more = await list_updates(after, limit=500)
        if not updates or updates[-1].id is None:
            return after
        after = updates[-1].id
        if not more:
            return after
