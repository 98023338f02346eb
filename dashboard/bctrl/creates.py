"""Creates that are never repeated blindly.

A create that gets no answer (a timeout, a cut connection, a proxy's 5xx) may have been done.
The client sends it again only where the API is known to honour `Idempotency-Key` (client.py,
surface.py). Otherwise the console looks for what it asked for (a workspace by name, a runtime
by alias, a credential by id), a few times over a short while since a slow API may still be
making it, and answers with it when it is there; when it cannot tell, it says so plainly
(OutcomeUnknown), and never offers to retry.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import BctrlError, OutcomeUnknown
from dashboard.bctrl.pages import parse_time

logger = logging.getLogger("dashboard.bctrl")

# Looks after an unanswered create, each after the delay before it (each capped at the client's
# timeout): a create still being made upstream is found if it ends within about 2x the timeout.
LOOK_DELAYS = (0.5, 1.0, 2.0, 4.0)
# How far the API's clock may be behind the console's when judging "made by this request".
CLOCK_SKEW = timedelta(minutes=2)

Finder = Callable[[datetime], Awaitable[dict[str, Any] | None]]


async def create_once(
    path: str,
    payload: dict[str, Any],
    *,
    what: str,
    find: Finder | None,
    idempotency_key: str | None = None,
    timeout: float | None = None,
) -> Any:
    """POST a create; after an unanswered one, its body if `find(since)` finds it, else OutcomeUnknown.

    `find` gets the earliest creation time that can be this request's and returns the created
    thing's body, or None (not there, or not only one candidate)."""
    client = get_client()
    since = datetime.now(UTC) - CLOCK_SKEW
    try:
        return await client.create(path, payload, idempotency_key, timeout=timeout)
    except BctrlError as error:
        if not error.maybe_done:
            raise
        if find is not None:
            for delay in LOOK_DELAYS:
                await asyncio.sleep(min(delay, client.timeout))
                try:
                    found = await find(since)
                except BctrlError as failed:  # the API is still struggling: look again, then give up
                    logger.info("Looking for %s after an unanswered create failed: %s", what, failed.code)
                    continue
                if found is not None:
                    logger.info("An unanswered create of %s was done; found it", what)
                    return found
        raise OutcomeUnknown(what, error) from error


def made_since(body: Any, since: datetime) -> bool:
    """Whether a body's `createdAt` is at or after `since` (made by the request that asked)."""
    created = parse_time(body.get("createdAt")) if isinstance(body, dict) else None
    return created is not None and created >= since


def find_at(path: str) -> Finder:
    """A finder for what a create makes at a path it names (a runtime's alias, a credential's id)."""

    async def find(since: datetime) -> dict[str, Any] | None:
        found = await get_client().get(path)
        return found if made_since(found, since) else None

    return find


def find_named(path: str, key: str, name: Any) -> Finder:
    """A finder for what a create names but the API ids: the one of the newest 100 at `path`
    (listed under `key`, newest first) with that name, made since the create."""

    async def find(since: datetime) -> dict[str, Any] | None:
        body = await get_client().get(path, params={"limit": 100})
        listed = body.get(key) if isinstance(body, dict) else None
        return only([item for item in listed or [] if item.get("name") == name and made_since(item, since)])

    return find


def only(candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The one candidate, or None when there are none or several (then nobody can tell which)."""
    return candidates[0] if len(candidates) == 1 else None
