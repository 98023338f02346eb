"""Artifacts: typed results, the list call, and streaming their bytes."""

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import BctrlError, Unavailable
from dashboard.bctrl.pages import Page, page_of, parse_time, split_cursor

KINDS = ("download", "screenshot", "pdf", "export")


@dataclass(frozen=True)
class Artifact:
    id: str
    workspace_id: str
    runtime: str | None
    operation_id: str | None
    kind: str
    name: str
    content_type: str
    size_bytes: int
    storage_namespace: str
    storage_path: str
    created_at: datetime | None

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "Artifact":
        storage = body.get("storage") or {}
        return cls(
            id=body["id"],
            workspace_id=body.get("workspaceId", ""),
            runtime=body.get("runtime"),
            operation_id=body.get("operationId"),
            kind=body.get("kind", ""),
            name=body.get("name", ""),
            content_type=body.get("contentType") or "application/octet-stream",
            size_bytes=body.get("sizeBytes") or 0,
            storage_namespace=storage.get("namespace", ""),
            storage_path=storage.get("path", ""),
            created_at=parse_time(body.get("createdAt")),
        )

    @classmethod
    def looks_like(cls, body: Any) -> bool:
        return isinstance(body, dict) and "id" in body and "contentType" in body and "kind" in body

    @classmethod
    def in_result(cls, result: Any) -> "Artifact | None":
        """The artifact a step result carries (page.screenshot, page.pdf), bare or under `artifact`."""
        if isinstance(result, dict) and cls.looks_like(result.get("artifact")):
            return cls.from_api(result["artifact"])
        return cls.from_api(result) if cls.looks_like(result) else None


@dataclass
class ArtifactContent:
    """An open download: headers now, bytes as they arrive. Iterate `chunks` exactly once."""

    content_type: str
    content_length: str | None
    filename: str | None
    chunks: AsyncIterator[bytes]


async def list_artifacts(
    workspace_id: str,
    runtime: str | None = None,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Artifact]:
    api_cursor, offset = split_cursor(cursor)
    body = await get_client().get(
        f"workspaces/{workspace_id}/artifacts",
        params={"runtime": runtime, "kind": kind, "cursor": api_cursor, "limit": limit},
    )
    page = page_of(body, "artifacts", Artifact.from_api)
    if runtime or kind:  # the console filters, orders and pages what an API without those sent whole
        page = page.where(lambda a: (not runtime or a.runtime == runtime) and (not kind or a.kind == kind))
    return page.newest_first(lambda artifact: artifact.created_at).window(limit, offset)


async def get_artifact(artifact_id: str) -> Artifact:
    return Artifact.from_api(await get_client().get(f"artifacts/{artifact_id}"))


async def open_content(artifact_id: str) -> ArtifactContent:
    """Start streaming an artifact's bytes; a BctrlError is raised here, before any byte is sent.

    The upstream response stays open until `chunks` is exhausted (or closed), so a large
    download never sits in the console's memory.
    """
    stack = AsyncExitStack()
    try:
        response = await stack.enter_async_context(
            get_client().stream("GET", f"artifacts/{artifact_id}/content")
        )
    except BctrlError:
        await stack.aclose()
        raise
    except Exception as exc:  # client.stream() lets transport errors through unmapped
        await stack.aclose()
        raise Unavailable(
            0, "api.unreachable", "The BCTRL API could not be reached.", transient=True
        ) from exc

    async def chunks() -> AsyncIterator[bytes]:
        async with stack:
            async for chunk in response.aiter_bytes():
                yield chunk

    return ArtifactContent(
        content_type=response.headers.get("Content-Type", "application/octet-stream"),
        content_length=response.headers.get("Content-Length"),
        filename=_filename(response.headers.get("Content-Disposition", "")),
        chunks=chunks(),
    )


def _filename(disposition: str) -> str | None:
    """The upstream's file name, reduced to characters safe in our own header."""
    match = re.search(r'filename="?([^";]+)"?', disposition)
    if not match:
        return None
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", match.group(1)).strip(" .")
    return name[:200] or None
