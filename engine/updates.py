"""The organisation-wide update log (read by the updates stream and `GET /v1/updates`).

Every create/update/delete of a resource writes one row here. Data carries ids, names and keys,
never a secret. Listeners (the SSE endpoint) are woken from memory, not by polling.
"""

import asyncio
from typing import Any

from engine.models import Update

_listeners: set[asyncio.Event] = set()


async def record_update(type: str, data: dict[str, Any], workspace_id: Any = None) -> Update:
    update = await Update.objects.acreate(
        type=type, data=data, workspace_id=str(workspace_id) if workspace_id else None
    )
    for listener in list(_listeners):
        listener.set()
    return update


def listen() -> asyncio.Event:
    event = asyncio.Event()
    _listeners.add(event)
    return event


def unlisten(event: asyncio.Event) -> None:
    _listeners.discard(event)
