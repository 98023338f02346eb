"""Operations: the durable record of a long-running call, and how it moves to an end.

Whatever runs a long call (agents, a later issue) creates an operation here, moves it with
`start`/`progress`/`finish`, and registers its task with `run`: a cancel request cancels it,
and so does the end of the runtime it drives (`interrupt_runtime`, with the reason its runner
records). Every change is
saved, written to the update log (`operation.*`) and wakes `wait`-ers from memory.

Statuses: queued → running → succeeded | failed | timed_out; cancel moves queued straight to
cancelled, and running to cancelling (until its runner finishes it as cancelled) when this
process runs it, else straight to cancelled (nothing here could ever finish it).
"""

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.utils import timezone

from engine.models import Operation
from engine.updates import record_update

_waiters: dict[UUID, set[asyncio.Event]] = {}
_cancellers: dict[UUID, Callable[[], None]] = {}
# Runners in this process: the task of each running operation, and the runtime it drives.
_runners: dict[UUID, tuple["asyncio.Task[None]", UUID | None]] = {}
# Why a runner was stopped by the engine rather than by a cancel request: (code, message).
_interrupted: dict[UUID, tuple[str, str]] = {}

ACTIVE = ("queued", "running", "cancelling")


def _update_data(operation: Operation) -> dict[str, Any]:
    return {
        "id": str(operation.id),
        "call": operation.call,
        "status": operation.status,
        "runtime": operation.runtime_alias or None,
    }


async def _changed(operation: Operation, update_type: str, fields: list[str]) -> None:
    await operation.asave(update_fields=fields)
    await record_update(update_type, _update_data(operation), operation.workspace_id)
    for waiter in _waiters.get(operation.id, ()):
        waiter.set()


async def create(
    workspace_id: UUID,
    call: str,
    args: list[Any],
    runtime_alias: str = "",
    runtime_id: UUID | None = None,
    total_steps: int | None = None,
) -> Operation:
    operation = await Operation.objects.acreate(
        workspace_id=workspace_id,
        call=call,
        args=args,
        runtime_alias=runtime_alias,
        runtime_id=runtime_id,
        progress={"step": 0, "totalSteps": total_steps, "currentCall": call},
    )
    await record_update("operation.created", _update_data(operation), workspace_id)
    return operation


async def start(operation: Operation) -> None:
    operation.status = Operation.Status.RUNNING
    operation.started_at = timezone.now()
    await _changed(operation, "operation.started", ["status", "started_at"])


async def progress(operation: Operation, **fields: Any) -> None:
    operation.progress = {**(operation.progress or {}), **fields}
    await _changed(operation, "operation.progress", ["progress"])


async def finish(
    operation: Operation, status: str, result: Any = None, error: dict[str, Any] | None = None
) -> None:
    if status not in Operation.FINISHED:
        raise ValueError(f"{status!r} is not an end state")
    operation.status = status
    operation.result = result
    operation.error = error
    operation.finished_at = timezone.now()
    _cancellers.pop(operation.id, None)
    await _changed(operation, f"operation.{status}", ["status", "result", "error", "finished_at"])


def on_cancel(operation_id: UUID, cancel: Callable[[], None]) -> None:
    """How to stop the runner of this operation (e.g. `task.cancel`)."""
    _cancellers[operation_id] = cancel


def run(operation_id: UUID, task: "asyncio.Task[None]", runtime_id: UUID | None) -> None:
    """`task` runs this operation on `runtime_id` (cancel requests cancel it; so does its runtime's end)."""
    _runners[operation_id] = (task, runtime_id)

    def cancel() -> None:
        task.cancel()

    on_cancel(operation_id, cancel)

    def ended(_task: "asyncio.Task[None]") -> None:
        _runners.pop(operation_id, None)
        _interrupted.pop(operation_id, None)

    task.add_done_callback(ended)


def interrupt(operation_id: UUID, code: str, message: str) -> "asyncio.Task[None] | None":
    """Stop a running operation's runner for the engine's own reason: its runner ends it `failed`
    with `code` (see `interruption`). Returns the runner's task, to wait for it."""
    runner = _runners.get(operation_id)
    if runner is None or runner[0].done():
        return None
    _interrupted[operation_id] = (code, message)
    runner[0].cancel()
    return runner[0]


def interruption(operation_id: UUID) -> tuple[str, str] | None:
    """(code, message) when the engine stopped this operation's runner (None: a cancel request)."""
    return _interrupted.get(operation_id)


async def interrupt_runtime(runtime_id: UUID, code: str, message: str, grace: float) -> None:
    """The runtime is ending: stop every operation running on it now, not at its next step, and
    give each runner up to `grace` seconds to record its end."""
    tasks = [
        task
        for operation_id, (_task, on) in list(_runners.items())
        if on == runtime_id and (task := interrupt(operation_id, code, message)) is not None
    ]
    if tasks:
        await asyncio.wait(tasks, timeout=grace)


async def cancel(operation: Operation) -> Operation:
    """Ask an active operation to stop; the caller checks it is active."""
    canceller = _cancellers.get(operation.id)
    if operation.status == Operation.Status.RUNNING and canceller is not None:
        operation.status = Operation.Status.CANCELLING
        await _changed(operation, "operation.progress", ["status"])
        canceller()
    elif operation.status != Operation.Status.CANCELLING or canceller is None:
        await finish(
            operation,
            Operation.Status.CANCELLED,
            error={"code": "operation.cancelled", "message": "Cancelled on request."},
        )
    return operation


async def wait(operation_id: UUID, timeout: float) -> tuple[Operation | None, bool]:
    """The operation once it has finished, or as it is when `timeout` passes: (operation, timed_out)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    waiter = asyncio.Event()
    _waiters.setdefault(operation_id, set()).add(waiter)
    try:
        while True:
            # Registered before reading, so a change between the read and the wait still wakes us.
            waiter.clear()
            operation = await Operation.objects.filter(id=operation_id).afirst()
            if operation is None or operation.status in Operation.FINISHED:
                return operation, False
            remaining = deadline - loop.time()
            if remaining <= 0:
                return operation, True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), remaining)
    finally:
        waiters = _waiters.get(operation_id)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                _waiters.pop(operation_id, None)
