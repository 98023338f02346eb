"""The console's ASGI handler (dashboard/handler.py): Django's guarantee that a request's sync
work runs on one thread of its own, kept, without a thread started per request."""

import asyncio
import threading
from typing import Any

from asgiref.sync import sync_to_async

from dashboard.handler import KEEP_IDLE, ConsoleASGIHandler


class Recording(ConsoleASGIHandler):
    """The handler with Django's request handling replaced by two sync calls, whose threads it notes."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: dict[str, list[threading.Thread]] = {}  # kept: never one dead thread's id reused
        self.gate = asyncio.Event()

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen = self.threads.setdefault(scope["path"], [])
        seen.append(await sync_to_async(threading.current_thread)())
        if scope.get("wait"):
            await self.gate.wait()
        seen.append(await sync_to_async(threading.current_thread)())


def request_threads() -> set[threading.Thread]:
    """The handler's request threads alive now (other tests' threads come and go meanwhile)."""
    return {thread for thread in threading.enumerate() if thread.name.startswith("console-request")}


def http(path: str, **extra: object) -> dict[str, Any]:
    return {"type": "http", "path": path, **extra}


async def test_a_requests_sync_calls_share_one_thread_that_no_concurrent_request_uses() -> None:
    handler = Recording()
    both = asyncio.gather(
        handler(http("/a", wait=True), None, None),
        handler(http("/b", wait=True), None, None),
    )
    await asyncio.sleep(0.2)
    handler.gate.set()
    await both
    a, b = handler.threads["/a"], handler.threads["/b"]
    assert a[0] is a[1] and b[0] is b[1]  # in order, on one thread each
    assert a[0] is not b[0]  # two requests at once: two threads
    assert threading.current_thread() not in a + b  # and never the event loop's


async def test_the_next_request_reuses_a_finished_requests_thread() -> None:
    handler = Recording()
    await handler(http("/first"), None, None)
    started = request_threads()
    for n in range(5):
        await handler(http(f"/then-{n}"), None, None)
    assert not request_threads() - started  # no thread started for them
    assert all(handler.threads[f"/then-{n}"][0] is handler.threads["/first"][0] for n in range(5))


async def test_it_keeps_a_bounded_number_of_idle_threads() -> None:
    handler = Recording()
    many = [handler(http(f"/{n}", wait=True), None, None) for n in range(KEEP_IDLE + 3)]
    running = asyncio.gather(*many)
    await asyncio.sleep(0.5)
    handler.gate.set()
    await running
    assert len({id(threads[0]) for threads in handler.threads.values()}) == KEEP_IDLE + 3
    assert len(handler._idle) == KEEP_IDLE
