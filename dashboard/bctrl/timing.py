"""Where one console request's time went, by layer, for the `Server-Timing` header.

Off unless `CONSOLE_SERVER_TIMING` is set (bench/console_pages.py sets it to print the console's
per-layer cost). The outermost middleware opens a `Spent` for the request; the layers below add
to it: `identity` (the session, user and role), `upstream` (wall time with at least one API call
in flight: concurrent calls count once), `render` (templates). Lives at the bottom of the
console's layers because the API client, the lowest of them, reports into it.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

LAYERS = ("identity", "upstream", "render")


@dataclass
class Spent:
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LAYERS, 0.0))
    _in_flight: int = 0
    _busy_since: float = 0.0

    def header(self, total: float) -> str:
        parts = [f"{layer};dur={seconds * 1000:.3f}" for layer, seconds in self.seconds.items()]
        return ", ".join([f"app;dur={total * 1000:.3f}", *parts])


_spent: ContextVar[Spent | None] = ContextVar("console_spent", default=None)


def start() -> Spent:
    """Begin counting for this request (its tasks share the same Spent)."""
    spent = Spent()
    _spent.set(spent)
    return spent


@contextmanager
def timed(layer: str) -> Iterator[None]:
    spent = _spent.get()
    if spent is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        spent.seconds[layer] += time.perf_counter() - started


@contextmanager
def upstream() -> Iterator[None]:
    """One API call: the request's upstream time grows while any call is in flight."""
    spent = _spent.get()
    if spent is None:
        yield
        return
    if spent._in_flight == 0:
        spent._busy_since = time.perf_counter()
    spent._in_flight += 1
    try:
        yield
    finally:
        spent._in_flight -= 1
        if spent._in_flight == 0:
            spent.seconds["upstream"] += time.perf_counter() - spent._busy_since
