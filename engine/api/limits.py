"""Per-key limits: how much of the engine one API key may hold at once.

The per-minute request rate lives in `auth` (it is checked with the key). Here: concurrent long
polls and streams per key (the two `wait` calls and the updates stream each hold a slot until
they answer or the stream closes). Active runtimes per key are counted by the runtime manager
(it owns the runtimes), the execute time budget by the executor, the idle-timeout ceiling at
launch. Every refusal is the contract's error body: 429 `rate_limited` with Retry-After, or 400.
"""

import collections
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse

from engine.errors import ApiError


class WaitSlots:
    """Concurrent long polls and streams per key (one process owns them all: memory is enough)."""

    def __init__(self) -> None:
        self.held: collections.Counter[str] = collections.Counter()

    def take(self, key_id: str) -> "Slot":
        limit = settings.MAX_WAITS_PER_KEY
        if limit and self.held[key_id] >= limit:
            raise ApiError(
                429,
                "rate_limited",
                f"This API key already holds {limit} open waits or streams (ENGINE_MAX_WAITS_PER_KEY); "
                "let one finish and try again.",
                {"maxWaitsPerKey": limit},
                headers={"Retry-After": "1"},
            )
        self.held[key_id] += 1
        return Slot(self, key_id)

    def give_back(self, key_id: str) -> None:
        self.held[key_id] -= 1
        if self.held[key_id] <= 0:
            del self.held[key_id]


class Slot:
    def __init__(self, slots: WaitSlots, key_id: str) -> None:
        self.slots, self.key_id, self.open = slots, key_id, True

    def release(self) -> None:
        if self.open:  # a stream may be closed twice (its generator, then its response)
            self.open = False
            self.slots.give_back(self.key_id)


wait_slots = WaitSlots()


def key_id(request: HttpRequest) -> str:
    return str(request.auth.id)  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def waiting(request: HttpRequest) -> AsyncIterator[None]:
    """Hold one of the key's wait slots for the duration of a long poll."""
    slot = wait_slots.take(key_id(request))
    try:
        yield
    finally:
        slot.release()


class HeldStream(StreamingHttpResponse):
    """A streamed response that holds one of its key's wait slots until it is closed."""

    def __init__(self, content: Any, slot: Slot, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.slot = slot

    def close(self) -> None:
        self.slot.release()
        super().close()
