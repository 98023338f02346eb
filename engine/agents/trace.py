"""The trace of an agent operation: one row per model request (engine.models.OperationTraceEntry).

What goes in is already secret-free: prompts are built from snapshots (which never show a
password or vault-filled field) and the caller's instruction; tool calls name vault keys and
element ids, never values from the vault; the model auth is described by provider and model.
"""

from typing import Any
from uuid import UUID

from engine.ai.chat import ChatRequest, ChatResponse, ModelAuth
from engine.models import OperationTraceEntry

MAX_TEXT = 4000


class Tracer:
    def __init__(self, operation_id: UUID, auth: ModelAuth) -> None:
        self.operation_id = operation_id
        self.auth = auth
        self.sequence = 0

    async def record(
        self,
        step: int,
        request: ChatRequest,
        response: ChatResponse | None,
        duration_ms: int,
        outcome: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        self.sequence += 1
        await OperationTraceEntry.objects.acreate(
            operation_id=self.operation_id,
            sequence=self.sequence,
            step=step,
            provider=self.auth.provider,
            model=self.auth.model,
            system=request.system,
            prompt=request.prompt,
            tools=[tool.name for tool in request.tools],
            response=(
                {
                    "toolCalls": [{"name": c.name, "arguments": c.arguments} for c in response.tool_calls],
                    "text": response.text[:MAX_TEXT],
                    "attempts": response.attempts,
                }
                if response is not None
                else None
            ),
            outcome=outcome,
            error=error,
            usage=response.usage.as_json() if response is not None else {},
            duration_ms=max(0, duration_ms),
        )
