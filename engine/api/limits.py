"""Per-key limits: how much of the engine one API key may hold at once.

None of them applies to a team key (a console's, shared by its users: `ApiKey.team`); the
engine-wide limits do. The per-minute request rate lives in `auth` (it is checked with the key). Here: concurrent long
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

    def take(self, key_id: str, limited: bool = True) -> "Slot":
        """A slot of `key_id`'s; `limited=False` (a team key) counts it without a cap."""
        limit = settings.MAX_WAITS_PER_KEY
        if limited and limit and self.held[key_id] >= limit:
            raise ApiError(
                429,
                "rate_limited",
                f"This API key already holds {limit} open waits or streams (ENGINE_MAX_WAITS_PER_KEY); "
                "let one finish and try again.",
                {"limit": "ENGINE_MAX_WAITS_PER_KEY", "maxWaitsPerKey": limit},
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


def per_key_limited(request: HttpRequest) -> bool:
    """Whether the per-key limits apply to the calling key (not to a team key: models.ApiKey.team)."""
    return not request.auth.team  # type: ignore[attr-defined]


def take_slot(request: HttpRequest) -> "Slot":
    return wait_slots.take(key_id(request), per_key_limited(request))


@contextlib.asynccontextmanager
async def waiting(request: HttpRequest) -> AsyncIterator[None]:
    """Hold one of the key's wait slots for the duration of a long poll."""
    slot = take_slot(request)
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
