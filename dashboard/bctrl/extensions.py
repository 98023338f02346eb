"""Browser extensions: typed results and calls (upload is multipart, passed through as `file`)."""

from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import BctrlError, OutcomeUnknown
from dashboard.bctrl.pages import Page, name_contains, page_of, parse_time, split_cursor


@dataclass(frozen=True)
class Extension:
    id: str
    name: str
    version: str
    format: str
    manifest_version: int | None
    permissions: list[str]
    content_hash: str
    size_bytes: int
    enabled: bool
    profile_count: int
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "Extension":
        return cls(
            id=str(body["id"]),
            name=body["name"],
            version=body.get("version") or "",
            format=body.get("format") or "",
            manifest_version=body.get("manifestVersion"),
            permissions=[str(p) for p in body.get("permissions") or []],
            content_hash=body.get("contentHash") or "",
            size_bytes=body.get("sizeBytes") or 0,
            enabled=bool(body.get("enabled", True)),
            profile_count=body.get("profileCount") or 0,
            created_at=parse_time(body.get("createdAt")),
            updated_at=parse_time(body.get("updatedAt")),
        )


async def list_extensions(
    q: str | None = None, cursor: str | None = None, limit: int = 50
) -> Page[Extension]:
    api_cursor, offset = split_cursor(cursor)
    body = await get_client().get("browser-extensions", params={"q": q, "cursor": api_cursor, "limit": limit})
    page = page_of(body, "extensions", Extension.from_api)
    # `q` is this engine's, not the public surface's: an API that ignores it still gets filtered
    page = page.where(lambda extension: name_contains(extension.name, q)) if q else page
    return page.window(limit, offset)


async def all_extensions() -> list[Extension]:
    """Every extension (for pickers): follows cursors, at most a few pages."""
    extensions: list[Extension] = []
    cursor = None
    for _ in range(10):
        page = await list_extensions(cursor=cursor, limit=500)
        extensions += page.items
        cursor = page.next_cursor
        if not cursor:
            break
    return extensions


async def get_extension(extension_id: str) -> Extension:
    return Extension.from_api(await get_client().get(f"browser-extensions/{extension_id}"))


async def upload_extension(
    filename: str,
    content: bytes | IO[bytes],
    name: str | None = None,
    idempotency_key: str | None = None,
) -> Extension:
    # A file object is read in chunks as the request goes out (and from its start again on a retry,
    # which the client makes only where the API honours the Idempotency-Key).
    try:
        body = await get_client().post(
            "browser-extensions/upload",
            files={"file": (filename, content, "application/octet-stream")},
            data={"name": name} if name else None,
            idempotency_key=idempotency_key,
        )
    except BctrlError as error:
        if error.maybe_done:
            raise OutcomeUnknown(f"the upload of {filename}", error) from error
        raise
    return Extension.from_api(body)


async def update_extension(
    extension_id: str, *, name: str | None = None, enabled: bool | None = None
) -> Extension:
    payload: dict[str, Any] = {}
    if name is not None:
        payload["name"] = name
    if enabled is not None:
        payload["enabled"] = enabled
    return Extension.from_api(await get_client().patch(f"browser-extensions/{extension_id}", json=payload))


async def delete_extension(extension_id: str) -> None:
    await get_client().delete(f"browser-extensions/{extension_id}")
