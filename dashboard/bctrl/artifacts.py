"""Artifacts: typed results, the list call, and streaming their bytes."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.downloads import Download, open_download
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


async def open_content(artifact_id: str) -> Download:
    """Start streaming an artifact's bytes; a BctrlError is raised here, before any byte is sent."""
    return await open_download(f"artifacts/{artifact_id}/content")
