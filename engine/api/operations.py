"""Operations: list (all, or one workspace's), get, wait for the end, cancel.

Cancelling an operation that has already finished answers 409 `operation.not_active` (its end
is already decided; the body's details say which). `wait` answers as soon as the operation
finishes, or with `timedOut: true` and its current state after `timeoutMs`.

`GET /v1/operations/{operationId}/trace` is this engine's own route (not in the public contract): the
model requests of an agent operation, in order, as the console shows them.
"""

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from engine import wire
from engine.api.auth import OPERATOR, READ
from engine.api.common import OperationId, WorkspaceId, parse_uuid
from engine.api.limits import waiting
from engine.api.pagination import paginate
from engine.api.schemas import OperationList, OperationOut, OperationStatus, OperationTrace
from engine.api.workspaces import get_workspace
from engine.errors import ApiError
from engine.models import Operation, OperationTraceEntry
from engine.runtimes import operations

router = Router(tags=["operations"])
workspace_router = Router(tags=["operations"])

MAX_WAIT_MS = 120_000


class OperationFilters(Schema):
    workspaceId: UUID | None = None
    status: OperationStatus | None = None
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=500)


class WorkspaceOperationFilters(Schema):
    status: OperationStatus | None = None
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=500)


class OperationWait(Schema):
    timeoutMs: int = Field(default=30_000, ge=0, le=MAX_WAIT_MS)


class OperationWaitResult(Schema):
    operation: OperationOut
    timedOut: bool


async def _page(queryset: Any, status: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    if status:
        queryset = queryset.filter(status=status)
    rows, next_cursor = await paginate(queryset, limit, cursor)
    return {"operations": [wire.operation(o) for o in rows], "nextCursor": next_cursor}


async def get_operation(operation_id: str) -> Operation:
    operation_id = parse_uuid(operation_id, "operation.not_found", "Operation")
    operation = await Operation.objects.filter(id=operation_id).afirst()
    if operation is None:
        raise ApiError(404, "operation.not_found", f"Operation {operation_id} does not exist.")
    return operation


@router.get(
    "",
    operation_id="operations-list-all",
    auth=READ,
    response=OperationList,
    summary="List operations, newest first",
)
async def list_operations(request: HttpRequest, filters: Query[OperationFilters]) -> dict[str, Any]:
    queryset = Operation.objects.all()
    if filters.workspaceId:
        queryset = queryset.filter(workspace_id=filters.workspaceId)
    return await _page(queryset, filters.status, filters.limit, filters.cursor)


@router.get(
    "/{operationId}",
    operation_id="operations-get",
    auth=READ,
    response=OperationOut,
    summary="Get an operation",
)
async def get(request: HttpRequest, operation_id: OperationId) -> dict[str, Any]:
    return wire.operation(await get_operation(operation_id))


@router.post(
    "/{operationId}/wait",
    operation_id="wait",
    auth=READ,
    response=OperationWaitResult,
    summary="Wait until the operation finishes (at most timeoutMs)",
)
async def wait(request: HttpRequest, operation_id: OperationId, payload: OperationWait) -> dict[str, Any]:
    async with waiting(request):  # one of the key's ENGINE_MAX_WAITS_PER_KEY
        operation = await get_operation(operation_id)
        current, timed_out = await operations.wait(operation.id, payload.timeoutMs / 1000)
    if current is None:  # deleted with its workspace while we waited
        raise ApiError(404, "operation.not_found", f"Operation {operation.id} does not exist any more.")
    return {"operation": wire.operation(current), "timedOut": timed_out}


@router.get(
    "/{operationId}/trace",
    operation_id="operations-trace",
    auth=READ,
    response=OperationTrace,
    summary="The model requests of an agent operation: what the model saw, decided, and what happened",
)
async def trace(request: HttpRequest, operation_id: OperationId) -> dict[str, Any]:
    operation = await get_operation(operation_id)
    entries = [
        wire.trace_entry(entry)
        async for entry in OperationTraceEntry.objects.filter(operation=operation).order_by("sequence")
    ]
    return {"operationId": operation.id, "entries": entries}


@router.post(
    "/{operationId}/cancel",
    operation_id="cancel",
    auth=OPERATOR,
    response=OperationOut,
    summary="Cancel an operation; 409 operation.not_active if it already finished",
)
async def cancel(request: HttpRequest, operation_id: OperationId) -> dict[str, Any]:
    operation = await get_operation(operation_id)
    if operation.status in Operation.FINISHED:
        raise ApiError(
            409,
            "operation.not_active",
            f"Operation {operation.id} already ended ({operation.status}); there is nothing to cancel.",
            {"status": operation.status},
        )
    return wire.operation(await operations.cancel(operation))


@workspace_router.get(
    "/{workspaceId}/operations",
    operation_id="operations-list",
    auth=READ,
    response=OperationList,
    summary="List a workspace's operations",
)
async def list_workspace_operations(
    request: HttpRequest, workspace_id: WorkspaceId, filters: Query[WorkspaceOperationFilters]
) -> dict[str, Any]:
    workspace = await get_workspace(workspace_id)
    return await _page(
        Operation.objects.filter(workspace=workspace), filters.status, filters.limit, filters.cursor
    )
