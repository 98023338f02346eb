"""The database check of both services' /readyz."""

import asyncio

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection


def _ping_database() -> None:
    """One query on the ORM's thread, where the service's connection is. A connection that broke
    (the server restarted) is closed here, so the next query, this check's or a request's, opens
    a new one instead of failing until something else closes it."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        connection.close()
        raise


async def database(seconds: float) -> str:
    """`ok`, `timeout` (no answer within `seconds`) or `unavailable`."""
    try:
        await asyncio.wait_for(sync_to_async(_ping_database)(), seconds)
    except TimeoutError:
        return "timeout"
    except DatabaseError:
        return "unavailable"
    return "ok"
