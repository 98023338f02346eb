"""The API connection itself: who the console's key is, and how quickly the API answers."""

import time
from dataclasses import dataclass

from dashboard.bctrl.client import get_client

# The contract has no totals: the overview counts one page of the largest size a list allows.
COUNT_LIMIT = 500


@dataclass(frozen=True)
class Connection:
    """The answer of GET /auth/whoami, with the round trip it took."""

    organization_id: str
    organization_name: str
    key_id: str
    key_name: str
    scopes: list[str]
    latency_ms: int


@dataclass(frozen=True)
class Tally:
    """How many of something one list page holds; `more` when the list goes on past it."""

    count: int
    more: bool

    def __str__(self) -> str:
        return f"{self.count}+" if self.more else str(self.count)


async def whoami() -> Connection:
    started = time.perf_counter()
    body = await get_client().get("auth/whoami")
    latency_ms = round((time.perf_counter() - started) * 1000)
    organization = body.get("organization") or {}
    key = body.get("apiKey") or {}
    return Connection(
        organization_id=organization.get("id", ""),
        organization_name=organization.get("name", ""),
        key_id=key.get("id", ""),
        key_name=key.get("name", ""),
        scopes=list(key.get("scopes") or []),
        latency_ms=latency_ms,
    )
