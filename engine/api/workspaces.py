"""Workspaces: list, create, get, patch, delete, state."""

from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Header, Query, Router, Schema
from pydantic import Field

from engine import mounts as mount_rules
from engine import wire
from engine.api.auth import OPERATOR, READ
from engine.api.common import WorkspaceId, parse_uuid, patched_fields, to_json
from engine.api.idempotency import idempotent
from engine.api.pagination import paginate
from engine.api.schemas import WorkspaceList, WorkspaceOut, WorkspaceState
from engine.errors import ApiError, not_found
from engine.models import Operation, Runtime, Workspace
from engine.updates import record_update

router = Router(tags=["workspaces"])


class WorkspaceCreate(Schema):
    name: str = Field(min_length=1, max_length=200)
    mounts: mount_rules.Mounts | None = None


class WorkspacePatch(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    mounts: mount_rules.Mounts | None = None


class WorkspacePatched(WorkspaceOut):
    runtimesUpdated: int = Field(
        description="Active runtimes whose mounts changed with this update (they follow their workspace's)."
    )


class WorkspaceFilters(Schema):
    q: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=500)


def with_counts(queryset: "QuerySet[Workspace]") -> "QuerySet[Workspace]":
    # Counted per row by subqueries (on the runtimes' workspace index), so a page of 50 counts
    # the runtimes of 50 workspaces: a join with GROUP BY counted every workspace's runtimes
    # before the page was cut (most of a list request's time with a few hundred workspaces).
    runtimes = Runtime.objects.filter(workspace=OuterRef("pk")).order_by().values("workspace")
    active = runtimes.filter(status=Runtime.Status.ACTIVE)
    return queryset.annotate(
        runtime_count=Coalesce(Subquery(runtimes.annotate(n=Count("id")).values("n")), 0),
        active_count=Coalesce(Subquery(active.annotate(n=Count("id")).values("n")), 0),
    )


# Built once: resolving the count subqueries is most of the cost of building this query, and a
# queryset is cloned (not rebuilt) by every filter or order applied to it per request.
WORKSPACES_WITH_COUNTS = with_counts(Workspace.objects.all())


def serialize(workspace: Workspace) -> dict[str, Any]:
    return wire.workspace(
        workspace, getattr(workspace, "runtime_count", 0), getattr(workspace, "active_count", 0)
    )


async def get_workspace(workspace_id: str) -> Workspace:
    """The workspace with its runtime counts, or 404 workspace.not_found."""
    workspace_id = parse_uuid(workspace_id, "workspace.not_found", "Workspace")
    workspace = await WORKSPACES_WITH_COUNTS.filter(id=workspace_id).afirst()
    if workspace is None:
        raise not_found("workspace.not_found", f"Workspace {workspace_id}")
    return workspace


@router.get("", operation_id="workspaces-list", auth=READ, response=WorkspaceList, summary="List workspaces")
async def list_workspaces(request: HttpRequest, filters: Query[WorkspaceFilters]) -> dict[str, Any]:
    queryset = WORKSPACES_WITH_COUNTS
    if filters.q:
        queryset = queryset.filter(name__icontains=filters.q)
    rows, next_cursor = await paginate(queryset, filters.limit, filters.cursor)
    return {"workspaces": [serialize(w) for w in rows], "nextCursor": next_cursor}


@router.post(
    "",
    operation_id="workspaces-create",
    auth=OPERATOR,
    response={201: WorkspaceOut},
    summary="Create a workspace",
)
async def create_workspace(
    request: HttpRequest,
    payload: WorkspaceCreate,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> JsonResponse:
    mounts = mount_rules.dump(payload.mounts)
    mount_rules.require_admin_for_raw_reads(mounts, request.auth.scope)  # type: ignore[attr-defined]

    async def create() -> tuple[int, dict[str, Any]]:
        await mount_rules.validate_credentials_exist(mounts)
        workspace = await Workspace.objects.acreate(name=payload.name, mounts=mounts)
        await record_update(
            "workspace.created", {"id": str(workspace.id), "name": workspace.name}, workspace.id
        )
        return 201, to_json(WorkspaceOut, serialize(workspace))

    return await idempotent(request, idempotency_key, payload.model_dump(mode="json"), create)


@router.get(
    "/{workspaceId}",
    operation_id="workspaces-get",
    auth=READ,
    response=WorkspaceOut,
    summary="Get a workspace",
)
async def get(request: HttpRequest, workspace_id: WorkspaceId) -> dict[str, Any]:
    return serialize(await get_workspace(workspace_id))


@router.patch(
    "/{workspaceId}",
    operation_id="workspaces-update",
    auth=OPERATOR,
    response=WorkspacePatched,
    summary="Rename a workspace or change its mounts (its active runtimes follow)",
)
async def patch(request: HttpRequest, workspace_id: WorkspaceId, payload: WorkspacePatch) -> dict[str, Any]:
    workspace = await get_workspace(workspace_id)
    changed = patched_fields(payload, "name")
    if payload.name is not None:
        workspace.name = payload.name
    if "mounts" in changed:
        workspace.mounts = mount_rules.dump(payload.mounts)
        mount_rules.require_admin_for_raw_reads(workspace.mounts, request.auth.scope)  # type: ignore[attr-defined]
        await mount_rules.validate_credentials_exist(workspace.mounts)
    await workspace.asave()
    updated = await _runtimes_follow(workspace) if "mounts" in changed else 0
    await record_update(
        "workspace.updated",
        {"id": str(workspace.id), "name": workspace.name, "fields": sorted(changed)},
        workspace.id,
    )
    return {**serialize(workspace), "runtimesUpdated": updated}


async def _runtimes_follow(workspace: Workspace) -> int:
    """Its active runtimes take the workspace's new mounts, within their launch's narrowing
    (mounts.follow); a step reads a runtime's mounts afresh each time, so the next one sees them."""
    updated = 0
    active = Runtime.objects.filter(workspace=workspace, status=Runtime.Status.ACTIVE).exclude(
        requested_mounts__isnull=True
    )
    async for runtime in active.only("id", "mounts", "requested_mounts"):
        mounts = mount_rules.follow(workspace.mounts, runtime.requested_mounts)
        if mounts != runtime.mounts:
            await Runtime.objects.filter(id=runtime.id).aupdate(mounts=mounts)
            updated += 1
    return updated


@router.delete(
    "/{workspaceId}",
    operation_id="workspaces-delete",
    auth=OPERATOR,
    response={204: None},
    summary="Delete a workspace",
)
async def delete(request: HttpRequest, workspace_id: WorkspaceId, force: bool = False) -> HttpResponse:
    from engine.runtimes.manager import manager

    workspace = await get_workspace(workspace_id)
    active = [r async for r in Runtime.objects.filter(workspace=workspace, status=Runtime.Status.ACTIVE)]
    if active and not force:
        raise ApiError(
            409,
            "workspace.has_active_runtimes",
            f"The workspace has {len(active)} active runtime(s); stop them or delete with force=true.",
            {"runtimes": [r.alias for r in active]},
        )
    for runtime in active:
        await manager.stop(runtime.id)
    await workspace.adelete()
    await record_update("workspace.deleted", {"id": str(workspace.id), "name": workspace.name}, workspace.id)
    return HttpResponse(status=204)


@router.get(
    "/{workspaceId}/state",
    operation_id="state",
    auth=READ,
    response=WorkspaceState,
    summary="A workspace, its runtimes and active operations",
)
async def state(request: HttpRequest, workspace_id: WorkspaceId) -> dict[str, Any]:
    workspace = await get_workspace(workspace_id)
    runtimes = [
        wire.runtime(r, with_bindings=True)
        async for r in Runtime.objects.filter(workspace=workspace).order_by("-created_at")[:100]
    ]
    operations = [
        wire.operation(o)
        async for o in Operation.objects.filter(workspace=workspace)
        .exclude(status__in=Operation.FINISHED)
        .order_by("-created_at")[:100]
    ]
    return {"workspace": serialize(workspace), "runtimes": runtimes, "activeOperations": operations}
