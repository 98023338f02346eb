"""Operations: typed results and calls (long-running agent calls are followed through these)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.pages import Page, parse_time

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
    body = await get_client().get(
        "operations", params={"workspaceId": workspace_id, "status": status, "cursor": cursor, "limit": limit}
    )
    return Page([Operation.from_api(o) for o in body["operations"]], body.get("nextCursor"))


async def get_operation(operation_id: str) -> Operation:
    return Operation.from_api(await get_client().get(f"operations/{operation_id}"))


async def cancel_operation(operation_id: str) -> Operation:
    return Operation.from_api(await get_client().post(f"operations/{operation_id}/cancel"))
