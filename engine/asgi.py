"""ASGI entry point of the engine, with the start and stop hooks it owns.

Django's ASGI handler speaks only HTTP; the lifespan protocol is handled here so that start-up
reconciles what a previous process left behind and shutdown closes every browser, and
websockets (the live viewer's) go to Channels, in this same process, where the browsers are.
"""

import logging
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engine.settings")

import django
from django.core.handlers.asgi import ASGIHandler

django.setup(set_prefix=False)


class EngineHandler(ASGIHandler):
    """Django's ASGI handler, with every request's ORM work on one shared thread.

    Django runs each request in a ThreadSensitiveContext of its own: the first ORM call of every
    request starts a new thread, which opens a new database connection. Under load that costs
    most of the engine's time (profiled at 200 clients: each request waits for its own thread to
    start). Here every async ORM call of the process runs on asgiref's one shared thread, with its
    one persistent connection (SQLite takes one writer at a time anyway; reads are short). The
    per-request signal receivers that would hop to it are kept off the request path
    (engine/apps.py).
    """

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"The engine's Django handler serves HTTP, not {scope['type']}.")
        await self.handle(scope, receive, send)


django_application = EngineHandler()

from engine.api.guard import guard  # noqa: E402  (needs Django set up, above)

# Every HTTP request passes the guard first: admission, key, body size, before Django reads a byte.
guarded_application = guard(django_application)

from channels.routing import URLRouter  # noqa: E402 - after Django is set up
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from engine.gateway.consumer import gateway  # noqa: E402
from engine.live.routing import websocket_urlpatterns  # noqa: E402
from engine.live.tokens import RedactTokens  # noqa: E402

# uvicorn logs every websocket it accepts with its query string, which carries the embed token.
logging.getLogger("uvicorn.error").addFilter(RedactTokens())

# The viewer page is served by the engine itself, so its socket comes from an allowed host.
viewer_application = AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns))


# The CDP gateway's clients are programs (Playwright, Puppeteer), which send no Origin: the token
# in the URL is the whole authentication (no cookie or other ambient credential opens it).
async def websocket_application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["path"].startswith("/cdp/"):
        await gateway(scope, receive, send)
    else:
        await viewer_application(scope, receive, send)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] == "websocket":
        await websocket_application(scope, receive, send)
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
