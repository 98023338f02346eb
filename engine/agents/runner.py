"""Agent loops run as tasks owned by the engine process, one per running operation.

`start` makes the task and tells the operations module how to stop it (`cancel` → the task is
cancelled and the loop ends the operation `cancelled`). `shutdown` (engine stop) cancels every
loop and waits briefly for each to end its operation `failed` with `server.shutdown`, before the
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
_shutting_down: set[UUID] = set()


def start(operation_id: UUID, loop: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(loop, name=f"agent-{operation_id}")
    _tasks[operation_id] = task
    task.add_done_callback(lambda _t: _ended(operation_id))

    def cancel() -> None:
        task.cancel()

    operations.on_cancel(operation_id, cancel)


def _ended(operation_id: UUID) -> None:
    _tasks.pop(operation_id, None)
    _shutting_down.discard(operation_id)


def stopped_by_shutdown(operation_id: UUID) -> bool:
    return operation_id in _shutting_down


def running() -> int:
    return len(_tasks)


async def shutdown() -> None:
    tasks = list(_tasks.items())
    for operation_id, task in tasks:
        _shutting_down.add(operation_id)
        task.cancel()
    if tasks:
        _done, pending = await asyncio.wait([t for _, t in tasks], timeout=SHUTDOWN_GRACE_SECONDS)
        if pending:
            logger.warning(
                "%d agent loop(s) did not end within %ss of shutdown", len(pending), SHUTDOWN_GRACE_SECONDS
            )
