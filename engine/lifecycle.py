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
SWEEP_SECONDS = 300  # how often recordings and kept response bodies past their retention go
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


async def sweep_forever(every_seconds: float) -> None:
    """Expire what outlived its retention: recordings, and the response bodies runs kept."""
    from engine.live import recordings
    from engine.runtimes import network

    while True:
        await asyncio.sleep(every_seconds)
        for expire in (recordings.expire_due, network.expire_due):
            try:
                await expire()
            except Exception:
                logger.exception(
                    "Expiring %s failed; will try again in %s s", expire.__module__, every_seconds
                )


async def startup() -> None:
    global _sweeper, _connection_keeper, _update_follower
    from engine.live import recordings
    from engine.live.hub import hubs
    from engine.live.recorder import recorders
    from engine.runtimes import network
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
    for observer in (hubs, recorders):
        if observer not in manager.observers:
            manager.observers.append(observer)
    await manager.start()
    await recordings.reconcile()
    await network.expire_due()
    interval = min(SWEEP_SECONDS, settings.RECORDING_RETENTION_SECONDS, settings.NETWORK_RETENTION_SECONDS)
    _sweeper = asyncio.get_running_loop().create_task(sweep_forever(interval), name="retention-sweeper")
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
