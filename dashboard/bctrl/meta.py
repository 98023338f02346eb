"""The API connection itself: who the console's key is, and how quickly the API answers."""

import time
from dataclasses import dataclass

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import BctrlError

# The contract has no totals: the overview counts one page of the largest size a list allows.
COUNT_LIMIT = 500


@dataclass(frozen=True)
class Connection:
    """The answer of GET /auth/whoami, with the round trip it took.

    `identified` is False when the API does not offer whoami (it is this engine's, not the
    public surface's): the connection is then timed on the public workspace list instead.
    """

    organization_id: str
    organization_name: str
    key_id: str
    key_name: str
    scopes: list[str]
    latency_ms: int
    identified: bool = True


@dataclass(frozen=True)
class Tally:
    """How many of something one list page holds; `more` when the list goes on past it."""

    count: int
    more: bool

    def __str__(self) -> str:
        return f"{self.count}+" if self.more else str(self.count)


async def connection() -> Connection:
    started = time.perf_counter()
    try:
        body = await get_client().get("auth/whoami")
    except BctrlError as error:
        if not error.not_offered:
            raise
        started = time.perf_counter()
        await get_client().get("workspaces", params={"limit": 1})
        latency_ms = round((time.perf_counter() - started) * 1000)
        return Connection("", "", "", "", [], latency_ms, identified=False)
    latency_ms = round((time.perf_counter() - started) * 1000)
    body = body if isinstance(body, dict) else {}
    organization, key = body.get("organization") or {}, body.get("apiKey") or {}
    return Connection(
        organization_id=organization.get("id", ""),
        organization_name=organization.get("name", ""),
        key_id=key.get("id", ""),
        key_name=key.get("name", ""),
        scopes=list(key.get("scopes") or []),
        latency_ms=latency_ms,
    )


@dataclass(frozen=True)
class Limits:
    """What the API allows (this engine's `GET /limits`); None where the API does not say."""

    max_active_runtimes: int | None = None
    default_idle_timeout_seconds: int | None = None
    storage_max_bytes: int | None = None
    extension_max_bytes: int | None = None
    rate_limit_per_minute: int | None = None


async def limits() -> Limits:
    """The API's limits; an API without the route gives Limits() (nothing known), not an error."""
    try:
        body = await get_client().get("limits")
    except BctrlError as error:
        if error.not_offered:
            return Limits()
        raise
    body = body if isinstance(body, dict) else {}

    def number(name: str) -> int | None:
        value = body.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return Limits(
        max_active_runtimes=number("maxActiveRuntimes"),
        default_idle_timeout_seconds=number("defaultIdleTimeoutSeconds"),
        storage_max_bytes=number("storageMaxBytes"),
        extension_max_bytes=number("extensionMaxBytes"),
        rate_limit_per_minute=number("rateLimitPerMinute"),
    )
