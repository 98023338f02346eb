"""What the engine process does when it starts and when it stops."""

import asyncio
import contextlib
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from engine import updates
from engine.models import IdempotencyRecord, Operation

logger = logging.getLogger("engine")
RECORDING_SWEEP_SECONDS = 300
CONNECTION_CHECK_SECONDS = 10
_sweeper: "asyncio.Task[None] | None" = None
_connection_keeper: "asyncio.Task[None] | None" = None
_update_follower: "asyncio.Task[None] | None" = None


async def keep_connections() -> None:
    """What Django does around every request, on a timer: close the database connection when it
    broke (it is opened again by the next query). Runs on the ORM's thread, where the connection is."""
    while True:
        await asyncio.sleep(CONNECTION_CHECK_SECONDS)
        try:
            await sync_to_async(close_old_connections)()
        except Exception:
            logger.exception("Checking the database connection failed")


async def startup() -> None:
    global _sweeper, _connection_keeper, _update_follower
    from engine.live import recorder
    from engine.live.hub import hubs
    from engine.runtimes.manager import manager

    # Operations a previous process left running can never finish now: end them, visibly.
    ended = await Operation.objects.filter(status__in=["queued", "running", "cancelling"]).aupdate(
        status=Operation.Status.FAILED,
        error={"code": "server.restarted", "message": "The engine restarted while this operation ran."},
        finished_at=timezone.now(),
    )
    if ended:
        logger.warning("Marked %d operation(s) left running by a previous process as failed", ended)
    # Idempotency-Keys a previous process claimed and never answered: a retry may run them again.
    await IdempotencyRecord.objects.filter(status_code=IdempotencyRecord.PENDING).adelete()
    # Live view and recordings follow runtimes from here; the manager does not know them.
    if hubs not in manager.observers:
        manager.observers.append(hubs)
    await manager.start()
    await recorder.reconcile()
    interval = min(RECORDING_SWEEP_SECONDS, settings.RECORDING_RETENTION_SECONDS)
    _sweeper = asyncio.get_running_loop().create_task(
        recorder.sweep_forever(interval), name="recording-sweeper"
    )
    _connection_keeper = asyncio.get_running_loop().create_task(keep_connections(), name="db-keeper")
    _update_follower = asyncio.get_running_loop().create_task(
        updates.follow_other_processes(), name="update-follower"
    )


async def shutdown() -> None:
    from engine.agents import runner
    from engine.runtimes.manager import manager

    # Agent loops first: each ends its operation while its runtime's browser is still there.
    await runner.shutdown()
    await manager.shutdown()
    for task in (_sweeper, _connection_keeper, _update_follower):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
