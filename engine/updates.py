"""The organisation-wide update log (read by the updates stream and `GET /v1/updates`).

Every create/update/delete of a resource writes one row here. Data carries ids, names and keys,
never a secret. Listeners (the SSE endpoint) are woken from memory, not by polling.

The row's id is the stream's sequence, and readers resume with "after id N": so an id must never
become visible after a larger one, or a reader that has moved past it never sees it. SQLite has
one writer at a time, so ids commit in order. PostgreSQL hands ids out from a sequence without
waiting for the commits: two engine processes (or a second writer) could commit 102 before 101.
There each insert takes a transaction-scoped advisory lock first, so ids are drawn and committed
one writer at a time, in order, across every process on the database; and it sends a NOTIFY at
its commit, which wakes the listeners of every engine process on the database
(`follow_other_processes`), not only its own.
"""

import asyncio
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection, transaction

from engine.models import Update

logger = logging.getLogger("engine.updates")

_listeners: set[asyncio.Event] = set()
# pg_advisory_xact_lock's key for "appending to the update log" (any constant of the engine's own)
APPEND_LOCK = 0x62637472_6C5F7570  # "bctrl_up"
CHANNEL = "bctrl_updates"  # PostgreSQL NOTIFY channel: "the update log grew"
RECONNECT_SECONDS = 2.0


def _append(type: str, data: dict[str, Any], workspace_id: str | None) -> Update:
    if connection.vendor != "postgresql":
        return Update.objects.create(type=type, data=data, workspace_id=workspace_id)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK])
            update = Update.objects.create(type=type, data=data, workspace_id=workspace_id)
            cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])  # delivered at commit
        return update


async def record_update(type: str, data: dict[str, Any], workspace_id: Any = None) -> Update:
    update = await sync_to_async(_append)(type, data, str(workspace_id) if workspace_id else None)
    _wake()
    return update


def _wake() -> None:
    for listener in list(_listeners):
        listener.set()


def listen() -> asyncio.Event:
    event = asyncio.Event()
    _listeners.add(event)
    return event


def unlisten(event: asyncio.Event) -> None:
    _listeners.discard(event)


async def follow_other_processes() -> None:
    """On PostgreSQL, for the life of the process: wake this process's listeners when any process
    on the database appends (LISTEN on its own connection; reconnects after a drop). On SQLite,
    where one engine process is the only writer, it returns at once."""
    if connection.vendor != "postgresql":
        return
    import psycopg

    # Django's own parameters, less what only its synchronous cursors use
    params = {
        name: value
        for name, value in connection.get_connection_params().items()
        if name not in ("cursor_factory", "context", "prepare_threshold")
    }
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(**params, autocommit=True) as listener:
                await listener.execute(f"LISTEN {CHANNEL}")
                _wake()  # what was appended while nobody listened
                async for _ in listener.notifies():
                    _wake()
        except psycopg.Error as error:
            logger.warning("Listening for other processes' updates failed (%s); retrying", error)
        await asyncio.sleep(RECONNECT_SECONDS)
