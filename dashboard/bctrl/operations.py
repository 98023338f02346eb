"""Operations: typed results and calls (long-running agent calls are followed through these).

The trace of an agent operation is the engine's own route (`/operations/{id}/trace`); against
an API that does not offer it (`BctrlError.not_offered`) there is simply no trace to show.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import BctrlError, InvalidRequest
from dashboard.bctrl.pages import Page, page_of, parse_time, split_cursor

STATUSES = ("queued", "running", "cancelling", "succeeded", "failed", "cancelled", "timed_out")
FINISHED = frozenset({"succeeded", "failed", "cancelled", "timed_out"})


@dataclass(frozen=True)
class Progress:
    step: int | None
    total_steps: int | None
    current_call: str | None
    last_event_type: str | None
    message: str | None

    @classmethod
    def from_api(cls, body: dict[str, Any] | None) -> "Progress":
        body = body or {}
        return cls(
            step=body.get("step"),
            total_steps=body.get("totalSteps"),
            current_call=body.get("currentCall"),
            last_event_type=body.get("lastEventType"),
            message=body.get("message"),
        )

    @property
    def percent(self) -> int | None:
        if self.step is None or not self.total_steps:
            return None
        return max(0, min(100, round(100 * self.step / self.total_steps)))


@dataclass(frozen=True)
class OperationError:
    code: str | None
    message: str
    details: dict[str, Any] | None


@dataclass(frozen=True)
class Operation:
    id: str
    workspace_id: str
    runtime: str | None
    call: str
    status: str
    progress: Progress
    result: Any
    error: OperationError | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "Operation":
        error = body.get("error")
        return cls(
            id=body["id"],
            workspace_id=body["workspaceId"],
            runtime=body.get("runtime"),
            call=body.get("call", ""),
            status=body["status"],
            progress=Progress.from_api(body.get("progress")),
            result=body.get("result"),
            error=(
                OperationError(error.get("code"), error.get("message", ""), error.get("details"))
                if error
                else None
            ),
            created_at=parse_time(body.get("createdAt")),
            started_at=parse_time(body.get("startedAt")),
            finished_at=parse_time(body.get("finishedAt")),
        )


async def list_operations(
    workspace_id: str | None = None, status: str | None = None, cursor: str | None = None, limit: int = 50
) -> Page[Operation]:
    """One workspace's operations through the public route; every workspace's through this
    engine's `GET /operations`, which an API with only the public surface does not offer."""
    api_cursor, offset = split_cursor(cursor)
    params = {"status": status, "cursor": api_cursor, "limit": limit}
    path = f"workspaces/{_workspace_id(workspace_id)}/operations" if workspace_id else "operations"
    page = page_of(await get_client().get(path, params=params), "operations", Operation.from_api)
    if status:  # the console filters, orders and pages what an API without those sent whole
        page = page.where(lambda operation: operation.status == status)
    return page.newest_first(lambda operation: operation.created_at).window(limit, offset)


def _workspace_id(value: str) -> str:
    """A workspace id typed into a filter goes into a path: only a UUID may."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidRequest(
            400,
            "request.invalid",
            f"“{value}” is not a workspace id (a UUID).",
            details={"fields": [{"path": "workspaceId", "message": "Not a workspace id."}]},
        ) from None


async def get_operation(operation_id: str) -> Operation:
    return Operation.from_api(await get_client().get(f"operations/{operation_id}"))


async def cancel_operation(operation_id: str) -> Operation:
    return Operation.from_api(await get_client().post(f"operations/{operation_id}/cancel"))


@dataclass(frozen=True)
class TraceEntry:
    """One model request of an agent operation: what the model saw, decided, and what happened."""

    sequence: int
    step: int
    provider: str
    model: str
    prompt: str
    tools: list[str]
    tool_calls: list[dict[str, Any]]
    text: str
    outcome: dict[str, Any] | None
    error: OperationError | None
    input_tokens: int
    output_tokens: int
    duration_ms: int

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "TraceEntry":
        response = body.get("response") or {}
        error = body.get("error")
        usage = body.get("usage") or {}
        return cls(
            sequence=body["sequence"],
            step=body.get("step", 0),
            provider=body.get("provider", ""),
            model=body.get("model", ""),
            prompt=(body.get("request") or {}).get("prompt", ""),
            tools=list((body.get("request") or {}).get("tools") or []),
            tool_calls=list(response.get("toolCalls") or []),
            text=response.get("text") or "",
            outcome=body.get("outcome"),
            error=(
                OperationError(error.get("code"), error.get("message", ""), error.get("details"))
                if error
                else None
            ),
            input_tokens=usage.get("inputTokens", 0),
            output_tokens=usage.get("outputTokens", 0),
            duration_ms=body.get("durationMs", 0),
        )


async def get_operation_trace(operation_id: str) -> list[TraceEntry] | None:
    """The operation's model requests, oldest first; None when the API keeps no traces."""
    try:
        body = await get_client().get(f"operations/{operation_id}/trace")
    except BctrlError as error:
        if error.not_offered:
            return None
        raise
    return [TraceEntry.from_api(entry) for entry in body.get("entries") or []]
