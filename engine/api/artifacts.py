"""Artifacts: what runtimes produced (downloads, screenshots, PDFs), kept as storage objects."""

from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest, HttpResponseBase
from ninja import Query, Router, Schema
from pydantic import Field

from engine import wire
from engine.api.auth import READ
from engine.api.common import ArtifactId, Timestamp, WorkspaceId, parse_uuid
from engine.api.pagination import paginate
from engine.api.storage import CONTENT_DESCRIPTION, CONTENT_OPENAPI, stream_object
from engine.errors import ApiError, not_found
from engine.models import Artifact, StorageObject, Workspace
from engine.storage import artifacts as artifact_store

router = Router(tags=["artifacts"])
workspace_router = Router(tags=["artifacts"])


ArtifactKind = Literal["download", "screenshot", "pdf", "export"]  # engine.storage.artifacts.KINDS


class ArtifactStorage(Schema):
    namespace: str
    path: str


class ArtifactOut(Schema):
    id: UUID
    workspaceId: UUID
    runtime: str | None
    operationId: UUID | None
    kind: ArtifactKind
    name: str
    contentType: str
    sizeBytes: int
    storage: ArtifactStorage
    createdAt: Timestamp


class ArtifactList(Schema):
    artifacts: list[ArtifactOut]
    nextCursor: str | None


class ArtifactFilters(Schema):
    runtime: str | None = Field(default=None, max_length=63, description="A runtime alias.")
    kind: ArtifactKind | None = None
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=500)


async def _artifact(artifact_id: str) -> Artifact:
    artifact_id = parse_uuid(artifact_id, "artifact.not_found", "Artifact")
    artifact = await Artifact.objects.filter(id=artifact_id).afirst()
    if artifact is None:
        raise not_found("artifact.not_found", f"Artifact {artifact_id}")
    return artifact


@router.get(
    "/{artifactId}", operation_id="artifacts-get", auth=READ, response=ArtifactOut, summary="Get an artifact"
)
async def get(request: HttpRequest, artifact_id: ArtifactId) -> dict[str, Any]:
    return wire.artifact(await _artifact(artifact_id))


@router.get(
    "/{artifactId}/content",
    operation_id="artifacts-content-get",
    auth=READ,
    summary="Download an artifact's bytes",
    description=CONTENT_DESCRIPTION,
    response={200: None, 206: None, 304: None},
    openapi_extra=CONTENT_OPENAPI,
)
async def content(request: HttpRequest, artifact_id: ArtifactId, inline: bool = False) -> HttpResponseBase:
    artifact = await _artifact(artifact_id)
    row = await StorageObject.objects.filter(
        namespace=artifact.storage_namespace, path=artifact.storage_path
    ).afirst()
    if row is None:
        raise ApiError(
            410,
            "artifact.content_gone",
            f"The artifact's storage object {artifact.storage_namespace}/{artifact.storage_path} was deleted.",
        )
    return stream_object(request, row, artifact_store.safe_file_name(artifact.name), inline)


@workspace_router.get(
    "/{workspaceId}/artifacts",
    operation_id="artifacts-list",
    auth=READ,
    response=ArtifactList,
    summary="List a workspace's artifacts, newest first",
)
async def list_artifacts(
    request: HttpRequest, workspace_id: WorkspaceId, filters: Query[ArtifactFilters]
) -> dict[str, Any]:
    workspace_id = parse_uuid(workspace_id, "workspace.not_found", "Workspace")
    if not await Workspace.objects.filter(id=workspace_id).aexists():
        raise not_found("workspace.not_found", f"Workspace {workspace_id}")
    queryset = Artifact.objects.filter(workspace_id=workspace_id)
    if filters.runtime:
        queryset = queryset.filter(runtime_alias=filters.runtime)
    if filters.kind:
        queryset = queryset.filter(kind=filters.kind)
    rows, next_cursor = await paginate(queryset, filters.limit, filters.cursor)
    return {"artifacts": [wire.artifact(a) for a in rows], "nextCursor": next_cursor}
