"""Browser profiles: typed results and calls.

A profile's proxy password is write-only from the console's side: the typed result keeps only
whether one is set, so no template can ever print it.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.creates import create_once, find_named
from dashboard.bctrl.pages import Page, name_contains, page_of, parse_time, split_cursor


@dataclass(frozen=True)
class LaunchConfig:
    viewport_width: int | None = None
    viewport_height: int | None = None
    user_agent: str = ""
    locale: str = ""
    timezone_id: str = ""
    proxy_server: str = ""
    proxy_username: str = ""
    has_proxy_password: bool = False
    extension_ids: list[str] = field(default_factory=list)
    idle_timeout_seconds: int | None = None

    @classmethod
    def from_api(cls, body: dict[str, Any] | None) -> "LaunchConfig":
        body = body or {}
        viewport = body.get("viewport") or {}
        proxy = body.get("proxy") or {}
        return cls(
            viewport_width=viewport.get("width"),
            viewport_height=viewport.get("height"),
            user_agent=body.get("userAgent") or "",
            locale=body.get("locale") or "",
            timezone_id=body.get("timezoneId") or "",
            proxy_server=proxy.get("server") or "",
            proxy_username=proxy.get("username") or "",
            has_proxy_password=bool(proxy.get("password") or proxy.get("hasPassword")),
            extension_ids=[str(e) for e in body.get("extensionIds") or []],
            idle_timeout_seconds=body.get("idleTimeoutSeconds"),
        )


@dataclass(frozen=True)
class ProfileInUse:
    workspace_id: str
    runtime: str


@dataclass(frozen=True)
class Profile:
    id: str
    name: str
    description: str
    config: LaunchConfig
    extension_ids: list[str]
    size_bytes: int
    last_used_at: datetime | None
    in_use: ProfileInUse | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "Profile":
        in_use = body.get("inUse")
        return cls(
            id=str(body["id"]),
            name=body["name"],
            description=body.get("description") or "",
            config=LaunchConfig.from_api(body.get("config")),
            extension_ids=[str(e) for e in body.get("extensionIds") or []],
            size_bytes=body.get("sizeBytes") or 0,
            last_used_at=parse_time(body.get("lastUsedAt")),
            in_use=ProfileInUse(str(in_use["workspaceId"]), in_use["runtime"]) if in_use else None,
            created_at=parse_time(body.get("createdAt")),
            updated_at=parse_time(body.get("updatedAt")),
        )


async def list_profiles(q: str | None = None, cursor: str | None = None, limit: int = 50) -> Page[Profile]:
    api_cursor, offset = split_cursor(cursor)
    body = await get_client().get("browser-profiles", params={"q": q, "cursor": api_cursor, "limit": limit})
    page = page_of(body, "profiles", Profile.from_api)
    # `q` is this engine's, not the public surface's: an API that ignores it still gets filtered
    page = page.where(lambda profile: name_contains(profile.name, q)) if q else page
    return page.window(limit, offset)


async def get_profile(profile_id: str) -> Profile:
    return Profile.from_api(await get_client().get(f"browser-profiles/{profile_id}"))


async def create_profile(payload: dict[str, Any], idempotency_key: str | None = None) -> Profile:
    """`payload` is the contract's body: {name, description?, config?, extensionIds?}."""
    name = payload.get("name")
    find = find_named("browser-profiles", "profiles", name)
    body = await create_once(
        "browser-profiles", payload, what=f"the profile “{name}”", find=find, idempotency_key=idempotency_key
    )
    return Profile.from_api(body)


async def update_profile(profile_id: str, payload: dict[str, Any]) -> Profile:
    return Profile.from_api(await get_client().patch(f"browser-profiles/{profile_id}", json=payload))


async def delete_profile(profile_id: str) -> None:
    await get_client().delete(f"browser-profiles/{profile_id}")
