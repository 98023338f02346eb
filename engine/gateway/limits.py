"""Per-key limits of the CDP gateway: open connections, and messages per second (a token bucket).

One engine process owns every connection, so memory is enough. A connection over the limit is
closed at once with 4429 and a reason; a message over the rate is answered with a CDP error
(`cdp.rate_limited`) and not sent, so a client that slows down goes on working.
"""

import collections
import time

from django.conf import settings

BURST_SECONDS = 2.0  # a bucket holds this many seconds of messages (Playwright connects in a burst)


class KeyLimits:
    def __init__(self) -> None:
        self.connections: collections.Counter[str] = collections.Counter()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def open(self, key_id: str) -> bool:
        """Take a connection slot for `key_id`; False when it holds ENGINE_CDP_MAX_CONNECTIONS_PER_KEY."""
        limit = settings.CDP_MAX_CONNECTIONS_PER_KEY
        if limit and self.connections[key_id] >= limit:
            return False
        self.connections[key_id] += 1
        return True

    def close(self, key_id: str) -> None:
        self.connections[key_id] -= 1
        if self.connections[key_id] <= 0:
            del self.connections[key_id]
            self._buckets.pop(key_id, None)

    def message(self, key_id: str) -> bool:
        """Spend one message of `key_id`'s rate (shared by its connections); False when none is left."""
        rate = settings.CDP_MAX_MESSAGES_PER_SECOND
        if not rate:
            return True
        now = time.monotonic()
        tokens, when = self._buckets.get(key_id, (rate * BURST_SECONDS, now))
        tokens = min(rate * BURST_SECONDS, tokens + (now - when) * rate)
        if tokens < 1:
            self._buckets[key_id] = (tokens, now)
            return False
        self._buckets[key_id] = (tokens - 1, now)
        return True


limits = KeyLimits()
