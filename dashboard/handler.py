"""Django's ASGI handler, with each request's worker thread borrowed instead of started for it.

Under ASGI, Django runs every request inside its own `ThreadSensitiveContext`: the first time the
request needs synchronous code (a signal receiver, the session, the database) asgiref starts a
new thread for it, and shuts it down when the request ends. Every sync call of that request then
runs on that one thread, in order, which is what Django's database connections (one per thread)
and transactions rely on. Starting and stopping that thread is about a quarter of a signed-in
page's fixed cost here (bench/console_pages.py, "signed-in 404").

This handler keeps the guarantee and drops the cost: each request borrows a one-thread executor
from a pool for its whole duration (never shared by two requests at once) and gives it back at the
end. A thread therefore serves requests one after another, as a thread of a WSGI server does: its
database connection is closed or kept at the end of each request by Django's own
`request_finished` handling (CONN_MAX_AGE). A sync call a cancelled request left
running finishes before the next borrower's first call starts (one thread, in order).
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler

# Idle executors kept for the next requests: the pool grows to the peak of requests in flight
# that needed a thread, up to this; past it, a request's executor is shut down after it, as Django does.
KEEP_IDLE = 64


class ConsoleASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = (
            self._idle.pop()
            if self._idle
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-request")
        )
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if len(self._idle) < KEEP_IDLE:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)
