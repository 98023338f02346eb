"""Output schemas (camelCase, as on the wire) and serializers of the core resources."""

from typing import Any
from uuid import UUID

from pydantic import BaseModel as Schema  # see engine/api/common.py: why not ninja's Schema
from pydantic import Field

from engine.api.common import Timestamp
from engine.models import Operation, OperationTraceEntry, Runtime, RuntimeEvent, Workspace
from engine.mounts import Mounts, storage_namespace


class WorkspaceOut(Schema):
    id: UUID
    name: str
    mounts: Mounts
    runtimeCount: int
    activeRuntimeCount: int
    createdAt: Timestamp
    updatedAt: Timestamp


class WorkspaceList(Schema):
    workspaces: list[WorkspaceOut]
    nextCursor: str | None


class RuntimeFailure(Schema):
    code: str
    message: str


class RuntimeSummary(Schema):
    browserRunning: bool
    currentDriver: str
    defaultContextId: str | None
    defaultPageId: str | None
    launchMode: str
    profileId: UUID | None
    storageWorkspace: str


class Binding(Schema):
    alias: str
    id: str
    type: str
    url: str | None = None


class RuntimeOut(Schema):
    id: UUID
    alias: str
    workspaceId: UUID
    kind: str
    driver: str
    status: str
    summary: RuntimeSummary
    config: dict[str, Any]
    mounts: Mounts
    createdAt: Timestamp
    startedAt: Timestamp | None
    stoppedAt: Timestamp | None
    failure: RuntimeFailure | None


class RuntimeWithBindings(RuntimeOut):
    bindings: list[Binding]


class RuntimeList(Schema):
    runtimes: list[RuntimeOut]
    nextCursor: str | None


class OperationProgress(Schema):
    step: int | None = None
    totalSteps: int | None = None
    currentCall: str | None = None
    lastEventType: str | None = None
    message: str | None = None


class OperationError(Schema):
    code: str | None = None
    message: str
    details: dict[str, Any] | None = None


class OperationOut(Schema):
    id: UUID
    workspaceId: UUID
    runtime: str | None
    call: str
    status: str
    progress: OperationProgress
    result: Any = None
    error: OperationError | None
    createdAt: Timestamp
    startedAt: Timestamp | None
    finishedAt: Timestamp | None


class OperationList(Schema):
    operations: list[OperationOut]
    nextCursor: str | None


class TraceRequest(Schema):
    system: str
    prompt: str = Field(description="What the model saw: the instruction, steps so far, the page.")
    tools: list[str]


class TraceEntry(Schema):
    sequence: int
    step: int
    provider: str
    model: str
    request: TraceRequest
    response: dict[str, Any] | None = Field(description="{toolCalls: [{name, arguments}], text, attempts}")
    outcome: dict[str, Any] | None = Field(description="{ok, action, description, error?}")
    error: OperationError | None
    usage: dict[str, int]
    durationMs: int = Field(description="The model request's time, retries included.")
    createdAt: Timestamp


class OperationTrace(Schema):
    operationId: UUID
    entries: list[TraceEntry]


class WorkspaceState(Schema):
    workspace: WorkspaceOut
    runtimes: list[RuntimeWithBindings]
    activeOperations: list[OperationOut]


class EventOut(Schema):
    id: UUID
    eventType: str
    eventData: dict[str, Any]
    createdAt: Timestamp
    runtime: str
    runtimeKind: str
    workspaceId: UUID
    operationId: UUID | None
    sequence: int


def workspace_out(workspace: Workspace, runtime_count: int, active_count: int) -> dict[str, Any]:
    return {
        "id": workspace.id,
        "name": workspace.name,
        "mounts": workspace.mounts,
        "runtimeCount": runtime_count,
        "activeRuntimeCount": active_count,
        "createdAt": workspace.created_at,
        "updatedAt": workspace.updated_at,
    }


def runtime_out(runtime: Runtime, with_bindings: bool = False) -> dict[str, Any]:
    active = runtime.status == Runtime.Status.ACTIVE
    body: dict[str, Any] = {
        "id": runtime.id,
        "alias": runtime.alias,
        "workspaceId": runtime.workspace_id,
        "kind": runtime.kind,
        "driver": runtime.driver,
        "status": runtime.status,
        "summary": {
            "browserRunning": active,
            "currentDriver": runtime.driver,
            "defaultContextId": runtime.default_context_id or None,
            "defaultPageId": runtime.default_page_id or None,
            "launchMode": runtime.launch_mode,
            "profileId": runtime.profile_id,
            "storageWorkspace": storage_namespace(runtime.mounts, runtime.workspace_id),
        },
        "config": runtime.config,
        "mounts": runtime.mounts,
        "createdAt": runtime.created_at,
        "startedAt": runtime.started_at,
        "stoppedAt": runtime.stopped_at,
        "failure": (
            {"code": runtime.failure_code, "message": runtime.failure_message}
            if runtime.failure_code
            else None
        ),
    }
    if with_bindings:
        body["bindings"] = runtime.bindings if active else []
    return body


def operation_out(operation: Operation) -> dict[str, Any]:
    return {
        "id": operation.id,
        "workspaceId": operation.workspace_id,
        "runtime": operation.runtime_alias or None,
        "call": operation.call,
        "status": operation.status,
        "progress": operation.progress or {},
        "result": operation.result,
        "error": operation.error,
        "createdAt": operation.created_at,
        "startedAt": operation.started_at,
        "finishedAt": operation.finished_at,
    }


def event_out(event: RuntimeEvent, alias: str, kind: str = "browser") -> dict[str, Any]:
    return {
        "id": event.id,
        "eventType": event.event_type,
        "eventData": event.event_data,
        "createdAt": event.created_at,
        "runtime": alias,
        "runtimeKind": kind,
        "workspaceId": event.workspace_id,
        "operationId": event.operation_id,
        "sequence": event.sequence,
    }


def trace_entry_out(entry: OperationTraceEntry) -> dict[str, Any]:
    return {
        "sequence": entry.sequence,
        "step": entry.step,
        "provider": entry.provider,
        "model": entry.model,
        "request": {"system": entry.system, "prompt": entry.prompt, "tools": entry.tools},
        "response": entry.response,
        "outcome": entry.outcome,
        "error": entry.error,
        "usage": entry.usage or {},
        "durationMs": entry.duration_ms,
        "createdAt": entry.created_at,
    }
