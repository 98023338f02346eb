"""Execute and its call catalogue (help): typed results and calls."""

import uuid
from dataclasses import dataclass, field
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.operations import Operation


@dataclass(frozen=True)
class Arg:
    """One positional argument of a call, as the catalogue describes it."""

    name: str
    type: str
    required: bool
    description: str

    @property
    def is_object(self) -> bool:
        return self.type in ("object", "dict", "array", "list") or self.type.startswith(("{", "["))


@dataclass(frozen=True)
class Call:
    name: str
    description: str
    args: list[Arg]
    result: str
    ref: str | None
    long_running: bool
    drivers: list[str]

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "Call":
        return cls(
            name=body.get("name") or body.get("call") or "",
            description=body.get("description") or body.get("summary") or "",
            args=[_arg(a, i) for i, a in enumerate(body.get("args") or [])],
            result=str(body.get("result") or body.get("returns") or ""),
            ref=body.get("ref") or body.get("requiresRef") or body.get("requiredRef"),
            long_running=bool(body.get("longRunning")),
            drivers=list(body.get("drivers") or []),
        )


def _arg(body: dict[str, Any] | str, index: int) -> Arg:
    if isinstance(body, str):  # a bare name
        return Arg(body, "string", True, "")
    return Arg(
        name=body.get("name") or f"arg{index + 1}",
        type=str(body.get("type") or "string"),
        required=bool(body.get("required", not body.get("optional", False))),
        description=body.get("description") or "",
    )


@dataclass(frozen=True)
class Help:
    calls: list[Call]

    def call(self, name: str) -> Call | None:
        return next((c for c in self.calls if c.name == name), None)


@dataclass(frozen=True)
class StepResult:
    index: int
    call: str
    ok: bool
    result: Any
    error: dict[str, Any] | None
    duration_ms: int | None
    binding: dict[str, Any] | None
    logs: Any = None
    # files the step set off downloading ({url, suggestedFilename}): this engine says so
    downloads: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ExecuteResult:
    mode: str
    status: str
    steps: list[StepResult]
    operation: Operation | None = None

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "ExecuteResult":
        return cls(
            mode=body.get("mode", "fail-fast"),
            status=body["status"],
            steps=[
                StepResult(
                    index=s.get("index", i),
                    call=s.get("call", ""),
                    ok=bool(s.get("ok")),
                    result=s.get("result"),
                    error=s.get("error"),
                    duration_ms=s.get("durationMs"),
                    binding=s.get("binding"),
                    logs=s.get("logs"),
                    downloads=[d for d in s.get("downloads") or [] if isinstance(d, dict)],
                )
                for i, s in enumerate(body.get("steps") or [])
            ],
            operation=Operation.from_api(body["operation"]) if body.get("operation") else None,
        )


async def get_help(workspace_id: str, runtime: str | None = None, call: str | None = None) -> Help:
    body = await get_client().get(
        f"workspaces/{workspace_id}/help", params={"runtime": runtime, "call": call}
    )
    calls = body.get("calls") if isinstance(body, dict) else body
    if isinstance(calls, dict):  # {name: description}
        calls = [{"name": name, **value} for name, value in calls.items()]
    return Help([Call.from_api(c) for c in calls or []])


async def execute(
    workspace_id: str, runtime: str, steps: list[dict[str, Any]], idempotency_key: str | None = None
) -> ExecuteResult:
    """Run steps fail-fast, once: the body's idempotencyKey (the public API honours it) makes the
    API answer a repeat with the first run's result, so the client may send it again after a
    failure that left no answer; without a key of the caller's, one is made for this call."""
    payload: dict[str, Any] = {
        "runtime": runtime,
        "steps": steps,
        "mode": "fail-fast",
        "idempotencyKey": idempotency_key or uuid.uuid4().hex,
    }
    body = await get_client().post(
        f"workspaces/{workspace_id}/execute", json=payload, timeout=180.0, repeatable=True
    )
    return ExecuteResult.from_api(body)


@dataclass(frozen=True)
class VaultKeys:
    keys: list[str]
    truncated: bool


async def vault_keys(workspace_id: str, runtime: str) -> VaultKeys:
    """The vault keys a runtime's steps may use (this engine's route; names only, never values)."""
    body = await get_client().get(f"workspaces/{workspace_id}/runtimes/{runtime}/vault-keys")
    keys = body.get("keys") if isinstance(body, dict) else None
    return VaultKeys(
        [k for k in keys or [] if isinstance(k, str)], bool(body.get("truncated")) if keys else False
    )
