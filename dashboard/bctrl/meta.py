"""The API connection itself: who the console's key is, and how quickly the API answers."""

import time
from dataclasses import dataclass

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import BctrlError

# The contract has no totals: against an API without this engine's `GET /counts`, the overview
# counts one page of the largest size a list allows.
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
    # How the engine runs runtimes (GET /limits `isolation.mode`), when it says: isolated,
    # unisolated (then `runtimes_allowed` says whether it launches them at all), pending.
    isolation: str | None = None
    runtimes_allowed: bool | None = None


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
    isolation: str | None = None
    runtimes_allowed: bool | None = None
    max_runtimes_per_key: int | None = None  # 0: off
    team_key: bool | None = None  # the console's key is a team key: per-key limits do not apply

    @property
    def runtimes_for_this_key(self) -> tuple[int, str] | None:
        """The limit on runtimes the console's key may hold at once, and the setting that sets it:
        the engine's own limit, or the per-key one where that applies and is lower."""
        if self.max_active_runtimes is None:
            return None
        engine = (self.max_active_runtimes, "ENGINE_MAX_ACTIVE_RUNTIMES")
        per_key = self.max_runtimes_per_key
        if self.team_key is False and per_key and per_key < self.max_active_runtimes:
            return (per_key, "ENGINE_MAX_RUNTIMES_PER_KEY")
        return engine


def _number(body: dict[str, object], name: str) -> int | None:
    """A whole number the API said, or None (absent, null, a string, a boolean)."""
    value = body.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def _ours(path: str) -> dict[str, object] | None:
    """The body of one of this engine's own routes; None from an API that does not offer it."""
    try:
        body = await get_client().get(path)
    except BctrlError as error:
        if error.not_offered:
            return None
        raise
    return body if isinstance(body, dict) else {}


async def limits() -> Limits:
    """The API's limits; an API without the route gives Limits() (nothing known), not an error."""
    body = await _ours("limits")
    if body is None:
        return Limits()
    said = body.get("isolation")
    isolation: dict[str, object] = said if isinstance(said, dict) else {}
    mode, allowed = isolation.get("mode"), isolation.get("runtimesAllowed")
    return Limits(
        isolation=mode if isinstance(mode, str) else None,
        runtimes_allowed=allowed if isinstance(allowed, bool) else None,
        max_active_runtimes=_number(body, "maxActiveRuntimes"),
        default_idle_timeout_seconds=_number(body, "defaultIdleTimeoutSeconds"),
        storage_max_bytes=_number(body, "storageMaxBytes"),
        extension_max_bytes=_number(body, "extensionMaxBytes"),
        rate_limit_per_minute=_number(body, "rateLimitPerMinute"),
        max_runtimes_per_key=_number(body, "maxRuntimesPerKey"),
        team_key=team_key if isinstance(team_key := body.get("teamKey"), bool) else None,
    )


@dataclass(frozen=True)
class Totals:
    """How many of each resource there are (this engine's `GET /counts`); None where not said."""

    workspaces: int | None
    active_runtimes: int | None
    profiles: int | None
    extensions: int | None
    vault_entries: int | None
    ai_credentials: int | None


async def totals() -> Totals | None:
    """Every count in one call; None when the API does not offer it (count by listing then)."""
    body = await _ours("counts")
    if body is None:
        return None
    return Totals(
        workspaces=_number(body, "workspaces"),
        active_runtimes=_number(body, "activeRuntimes"),
        profiles=_number(body, "profiles"),
        extensions=_number(body, "extensions"),
        vault_entries=_number(body, "vaultEntries"),
        ai_credentials=_number(body, "aiCredentials"),
    )
