"""Agent loops run as tasks owned by the engine process, one per running operation.

`start` makes the task and registers it with the operations module (a cancel request cancels it
and the loop ends the operation `cancelled`; the end of its runtime interrupts it and the loop
ends it `failed` with `runtime.not_active`). `shutdown` (engine stop) interrupts every loop and
waits briefly for each to end its operation `failed` with `server.shutdown`, before the
runtimes' browsers close; a killed engine leaves them to the next start's reconciliation.
"""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any
from uuid import UUID

from engine.runtimes import operations

logger = logging.getLogger("engine.agents")

SHUTDOWN_GRACE_SECONDS = 5

_tasks: dict[UUID, asyncio.Task[None]] = {}


def start(operation_id: UUID, loop: Coroutine[Any, Any, None], runtime_id: UUID | None) -> None:
    task = asyncio.get_running_loop().create_task(loop, name=f"agent-{operation_id}")
    _tasks[operation_id] = task
    task.add_done_callback(lambda _t: _tasks.pop(operation_id, None))
    operations.run(operation_id, task, runtime_id)


def running() -> int:
    return len(_tasks)


async def shutdown() -> None:
    tasks = list(_tasks.items())
    for operation_id, _task in tasks:
        operations.interrupt(operation_id, "server.shutdown", "The engine stopped while this operation ran.")
    if tasks:
        _done, pending = await asyncio.wait([t for _, t in tasks], timeout=SHUTDOWN_GRACE_SECONDS)
        if pending:
            logger.warning(
                "%d agent loop(s) did not end within %ss of shutdown", len(pending), SHUTDOWN_GRACE_SECONDS
            )
