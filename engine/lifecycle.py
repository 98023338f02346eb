"""What the engine process does when it starts and when it stops."""

import logging

from django.utils import timezone

from engine.models import Operation

logger = logging.getLogger("engine")


async def startup() -> None:
    from engine.runtimes.manager import manager

    # Operations a previous process left running can never finish now: end them, visibly.
    ended = await Operation.objects.filter(status__in=["queued", "running", "cancelling"]).aupdate(
        status=Operation.Status.FAILED,
        error={"code": "server.restarted", "message": "The engine restarted while this operation ran."},
        finished_at=timezone.now(),
    )
    if ended:
        logger.warning("Marked %d operation(s) left running by a previous process as failed", ended)
    await manager.start()


async def shutdown() -> None:
    from engine.agents import runner
    from engine.runtimes.manager import manager

    # Agent loops first: each ends its operation while its runtime's browser is still there.
    await runner.shutdown()
    await manager.shutdown()
