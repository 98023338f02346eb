"""ASGI entry point of the engine, with the start and stop hooks it owns.

Django's ASGI handler speaks only HTTP; the lifespan protocol is handled here so that start-up
reconciles what a previous process left behind and shutdown closes every browser.
"""

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engine.settings")

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

from engine.api.guard import guard  # noqa: E402  (needs the apps get_asgi_application set up)

guarded_application = guard(django_application)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await guarded_application(scope, receive, send)


async def _lifespan(receive: Any, send: Any) -> None:
    from engine import lifecycle

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await lifecycle.startup()
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await lifecycle.shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
