"""Output schemas of the core resources (camelCase, as on the wire); the bodies come from engine.wire."""

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel as Schema  # see engine/api/common.py: why not ninja's Schema
from pydantic import Field

from engine.api.common import Timestamp
from engine.mounts import Mounts

# The values a field can take, declared so the OpenAPI document lists them (and a client can
# generate enums); each matches a model's choices or the contract's list.
RuntimeStatus = Literal["active", "stopped", "failed"]
# The public reference's three kinds; this engine runs browsers (runtimes.RUNNABLE_KINDS).
RuntimeKind = Literal["browser", "desktop", "spreadsheet"]
Driver = Literal["playwright", "puppeteer", "selenium", "stagehand"]
StopReason = Literal["requested", "idle", "engine_shutdown"]
LaunchMode = Literal["ephemeral", "profile"]
BindingType = Literal["page", "context", "handle", "subscription"]
OperationStatus = Literal["queued", "running", "cancelling", "succeeded", "failed", "cancelled", "timed_out"]


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
    currentDriver: Driver
    defaultContextId: str | None
    defaultPageId: str | None
    launchMode: LaunchMode
    profileId: UUID | None
    storageWorkspace: str


class Binding(Schema):
    alias: str
    id: str
    type: BindingType
    url: str | None = None


class RuntimeOut(Schema):
    id: UUID
    alias: str
    workspaceId: UUID
    kind: RuntimeKind
    driver: Driver
    status: RuntimeStatus
    summary: RuntimeSummary
    config: dict[str, Any]
    mounts: Mounts
    createdAt: Timestamp
    startedAt: Timestamp | None
    stoppedAt: Timestamp | None
    failure: RuntimeFailure | None
    stopReason: StopReason | None = Field(
        default=None,
        description="Why a stopped runtime stopped: requested (a stop call or a workspace delete), "
        "idle (idleTimeoutSeconds passed), engine_shutdown. Null while active and when failed.",
    )


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
    status: OperationStatus
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
    runtimeKind: RuntimeKind
    workspaceId: UUID
    operationId: UUID | None
    sequence: int
